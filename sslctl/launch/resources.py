"""From a recipe's ``launcher:`` block to SLURM requests: submitit executor parameters and
the equivalent ``sbatch`` command-line options. Pure functions (no SLURM, no submitit), so
multi-node GPU requests can be unit-tested on any machine."""

from __future__ import annotations

import re
from typing import Any

from sslctl.recipe.durations import time_minutes
from sslctl.recipe.schema import LauncherConfig

# delay between SLURM's warning signal (USR2) and the kill, for the checkpoint-and-requeue
SIGNAL_DELAY_S = 120


def local_worker_env(workers: int, cpus: int | None = None) -> dict[str, str]:
    """Environment for each of ``workers`` processes sharing this machine's ``cpus``: their
    torch/OpenMP threads split the cores (``OMP_NUM_THREADS``), since by default every
    process takes all of them and together they run many times slower (on 2 cores two
    2-thread runs at once: 61 img/s against 930 for one thread each)."""
    import os

    if workers <= 1:
        return {}
    return {"OMP_NUM_THREADS": str(max(1, (cpus or os.cpu_count() or 1) // workers))}


def tasks_per_node(cfg: LauncherConfig) -> int:
    """One DDP process per GPU; on CPU ``tasks_per_node`` (default 1)."""
    return cfg.gpus_per_node or cfg.tasks_per_node or 1


def world_size(cfg: LauncherConfig) -> int:
    return cfg.nodes * tasks_per_node(cfg)


def evaluation_request(cfg: LauncherConfig) -> LauncherConfig:
    """The evaluation job of an ``afterok`` chain: one node, one task, one GPU at most
    (the evaluations are single-process), the rest of the request as given."""
    return cfg.model_copy(
        update={"nodes": 1, "gpus_per_node": min(cfg.gpus_per_node, 1), "tasks_per_node": None}
    )


def script_safe(name: str) -> str:
    """A job name that can be written unquoted into ``#SBATCH --job-name=...`` (the
    experiment name is the user's: spaces, quotes and the rest become ``_``)."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", name)[:128]


def executor_parameters(
    cfg: LauncherConfig, job_name: str, after: str | None = None
) -> dict[str, Any]:
    """Parameters for ``submitit.SlurmExecutor.update_parameters``; ``after``: a job id
    this job waits for (``--dependency=afterok:ID``, cancelled if that job fails)."""
    params: dict[str, Any] = {
        "job_name": script_safe(job_name),
        "nodes": cfg.nodes,
        "ntasks_per_node": tasks_per_node(cfg),
        "time": time_minutes(cfg.time),
        "signal_delay_s": SIGNAL_DELAY_S,
        # one failed rank ends the step instead of leaving the others blocked in a collective
        "srun_args": ["--kill-on-bad-exit=1"],
        "additional_parameters": {"requeue": True, **cfg.sbatch},
    }
    if after is not None:
        params["dependency"] = f"afterok:{after}"
        params["additional_parameters"]["kill_on_invalid_dep"] = "yes"
    if cfg.gpus_per_node:
        params["gres"] = f"gpu:{cfg.gpus_per_node}"
    for key in ("cpus_per_task", "partition", "mem"):
        value = getattr(cfg, key)
        if value is not None:
            params[key] = value
    return params


def sbatch_options(
    cfg: LauncherConfig, job_name: str = "sslctl", after: str | None = None
) -> list[str]:
    """The same request as ``sbatch`` options (used with ``sbatch --test-only``)."""
    params = executor_parameters(cfg, job_name, after)
    opts = [
        f"--job-name={script_safe(job_name)}",
        f"--nodes={params['nodes']}",
        f"--ntasks-per-node={params['ntasks_per_node']}",
        f"--time={params['time']}",
    ]
    for key in ("gres", "cpus_per_task", "partition", "mem", "dependency"):
        if key in params:
            opts.append(f"--{key.replace('_', '-')}={params[key]}")
    for key, value in params["additional_parameters"].items():
        flag = f"--{key.replace('_', '-')}"
        if value is True:
            opts.append(flag)
        elif value is not False:
            opts.append(f"{flag}={value}")
    return opts
