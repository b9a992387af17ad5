"""Launchers: the local process (``sslctl.pipeline``) and SLURM through submitit:
``resources`` (recipe block -> sbatch request), ``cluster`` (reachability, executors, the
job record), ``slurm`` (submitting a pipeline), ``job`` (what runs inside the job),
``jobs`` (status, wait, cancel), ``sweep`` (sweep workers as an array). Importing this
package is cheap: submitit, torch and mlflow are imported where they are used."""
