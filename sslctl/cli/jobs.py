"""``sslctl status`` and ``sslctl cancel``: SLURM jobs, unfinished runs, sweeps."""

from __future__ import annotations

from typing import Annotated

import typer

from sslctl.cli.common import fail, make_console
from sslctl.errors import SslctlError


def status(
    limit: Annotated[int, typer.Option(min=1, help="Unfinished runs to list.")] = 15,
) -> None:
    """SLURM jobs submitted from here (sacct), unfinished runs (MLflow) and sweeps (Optuna)."""

    from sslctl.launch.cluster import submitted_jobs
    from sslctl.overview import open_runs, sweep_progress
    from sslctl.tracking import Tracker, tracking_uri
    from sslctl.ui import open_runs_table, slurm_jobs_table, sweeps_table

    console = make_console(width=160)
    entries = submitted_jobs()
    if entries:
        from sslctl.launch.jobs import job_status

        console.print(slurm_jobs_table(job_status(entries)))
    else:
        console.print("no SLURM jobs submitted from this directory")
    runs = open_runs(Tracker(), limit)
    if runs:
        console.print(open_runs_table(runs))
    else:
        console.print(f"no unfinished runs in {tracking_uri()}")
    sweeps = sweep_progress()
    if sweeps:
        console.print(sweeps_table(sweeps))


def cancel(jobs: Annotated[list[str], typer.Argument(help="SLURM job id(s).")]) -> None:
    """Cancel SLURM jobs and close their MLflow runs (checkpoints are kept)."""
    from sslctl.launch.jobs import JOB_ID
    from sslctl.launch.jobs import cancel as cancel_job

    bad = [job for job in jobs if not JOB_ID.fullmatch(job)]
    if bad:  # refuse all before cancelling any
        fail(SslctlError(f"job id: got {bad}; expected SLURM job ids such as 12345 or 12345_2"))
    for job in jobs:
        try:
            run_id = cancel_job(job)
        except SslctlError as err:
            fail(err)
        typer.echo(
            f"cancelled job {job}" + (f"; MLflow run {run_id} marked cancelled" if run_id else "")
        )
