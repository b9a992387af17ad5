"""Launchers: the local process (``sslctl.pipeline``) and SLURM through submitit
(``sslctl.launch.slurm``; the job itself in ``sslctl.launch.job``). Importing this package
is cheap: submitit, torch and mlflow are imported where they are used."""
