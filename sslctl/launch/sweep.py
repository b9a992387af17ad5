"""Sweep workers as a SLURM array: one :mod:`sslctl.sweep.worker` per array task, all
pulling trials from the sweep's shared Optuna storage (which, like the MLflow store, must
be on a file system every node sees, or an SQL URL)."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path
from typing import Any

from sslctl.launch.cluster import check_cluster, executor, job_environment, record, submitted_jobs
from sslctl.launch.jobs import FINAL_STATES, slurm_states
from sslctl.paths import job_folder


def worker_request(spec: Any) -> Any:
    """One array task's resources: the base recipe's ``launcher:`` block, one process."""
    from sslctl.launch.resources import evaluation_request

    return evaluation_request(spec.recipe_for({}, spec.seeds[0]).launcher)


def check_sweep_cluster(spec: Any) -> None:
    """Raise :class:`~sslctl.launch.cluster.SlurmError` unless SLURM takes the workers."""
    check_cluster(worker_request(spec))


def submit_sweep_workers(
    spec: Any, storage_url: str, parent_run_id: str, study: str, n: int, parallelism: int
) -> list[str]:
    """Submit ``n`` workers as one SLURM array, at most ``parallelism`` running at once,
    each running ``python -m sslctl.sweep.worker <sweep> --storage URL --parent-run ID``.
    Resources come from the base recipe's ``launcher:`` block, one process per task (one
    GPU when the block asks for GPUs). Returns the array task ids (``<job>_<i>``)."""
    from sslctl.sweep.spec import worker_command
    from sslctl.tracking import tracking_uri

    cfg = worker_request(spec)
    check_cluster(cfg)
    cmd = worker_command(spec, storage_url, parent_run_id)
    env = job_environment()
    array = executor(cfg, f"sslctl-sweep-{spec.name}")
    array.update_parameters(array_parallelism=parallelism)
    cwd = str(Path.cwd())
    jobs = array.map_array(_sweep_worker, [cmd] * n, [cwd] * n, [env] * n)
    for job in jobs:
        record(
            {
                "job_id": str(job.job_id),
                "run_id": parent_run_id,
                "experiment": "",
                "recipe": f"sweep {spec.name}",
                "study": study,
                "part": "sweep worker",
                "epochs": 0,
                "folder": str(job_folder(str(job.job_id))),
                "cwd": cwd,
                "tracking_uri": tracking_uri(),
                "submitted": time.time(),
            }
        )
    return [str(job.job_id) for job in jobs]


def active_sweep_jobs(study: str) -> list[str]:
    """This sweep's array tasks (submitted from this directory) still queued or running."""
    ids = [e["job_id"] for e in submitted_jobs() if e.get("study") == study]
    states = slurm_states(ids)
    return [j for j in ids if states.get(j, "UNKNOWN") not in FINAL_STATES]


def wait_for(job_ids: list[str], poll_s: float = 5.0) -> dict[str, str]:
    """Block until every job is in a final SLURM state; returns the states."""
    while True:
        states = slurm_states(job_ids)
        if all(states.get(j) in FINAL_STATES for j in job_ids):
            return states
        time.sleep(poll_s)


def _sweep_worker(cmd: list[str], cwd: str, env: dict[str, str]) -> int:
    """One array task: the sweep worker as a child process (its own interpreter)."""
    proc = subprocess.run(cmd, cwd=cwd, env={**os.environ, **env}, check=False)
    if proc.returncode:
        raise RuntimeError(f"sweep worker exited with {proc.returncode}")
    return proc.returncode
