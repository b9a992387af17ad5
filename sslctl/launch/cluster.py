"""Talking to SLURM: is it there and would it accept a request, submitit executors, and
the record of the jobs sslctl submitted (``$SSLCTL_HOME/slurm/jobs.jsonl``, default
``.sslctl``), which ``sslctl status`` reads together with ``sacct`` and MLflow."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from sslctl.errors import SslctlError
from sslctl.launch.resources import executor_parameters, sbatch_options
from sslctl.recipe.schema import LauncherConfig


class SlurmError(SslctlError):
    """SLURM is unreachable or refuses the request (exit code 2, nothing submitted)."""


def sslctl_home() -> Path:
    return Path(os.environ.get("SSLCTL_HOME", ".sslctl")).resolve()


def slurm_folder() -> Path:
    """submitit's folder; ``%j`` becomes the job id (one folder per job)."""
    return sslctl_home() / "slurm" / "%j"


def folder_of(job_id: str) -> Path:
    """The log folder of one submitted job (or array task)."""
    return Path(str(slurm_folder()).replace("%j", job_id))


def _registry() -> Path:
    return sslctl_home() / "slurm" / "jobs.jsonl"


def run_command(cmd: list[str], timeout: float = 30) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise SlurmError(f"SLURM did not answer within {timeout:.0f} s: {' '.join(cmd)}") from None


def check_cluster(cfg: LauncherConfig) -> None:
    """Raise :class:`SlurmError` unless SLURM would accept this request now."""
    for tool in ("sbatch", "sinfo", "squeue"):
        if shutil.which(tool) is None:
            raise SlurmError(
                f"no SLURM here: `{tool}` is not on PATH (use --launcher local, or run on a "
                "cluster login node; `make slurm-up` starts a single-node test cluster)"
            )
    info = run_command(["sinfo", "-h", "-o", "%P|%a"])
    if info.returncode != 0:
        detail = (info.stderr or info.stdout).strip().splitlines()
        raise SlurmError(
            "SLURM controller unreachable: `sinfo` failed" + (f" ({detail[-1]})" if detail else "")
        )
    partitions = {}
    for line in info.stdout.split():
        name, _, avail = line.partition("|")
        partitions[name.rstrip("*")] = avail
    if cfg.partition is not None and cfg.partition not in partitions:
        raise SlurmError(
            f"launcher.partition: got {cfg.partition!r}; this cluster has "
            f"{sorted(partitions) or 'no partitions'}"
        )
    test = run_command(["sbatch", "--test-only", *sbatch_options(cfg), "--wrap", "true"])
    if test.returncode != 0:
        why = " ".join((test.stderr or test.stdout).split()).replace("sbatch: error: ", "")
        raise SlurmError(f"SLURM refuses the request ({' '.join(sbatch_options(cfg)[1:])}): {why}")


def executor(cfg: LauncherConfig, name: str, after: str | None = None) -> Any:
    import submitit

    executor = submitit.SlurmExecutor(folder=slurm_folder(), python=sys.executable)
    executor.update_parameters(**executor_parameters(cfg, name, after))
    return executor


def record(entry: dict[str, Any]) -> None:
    path = _registry()
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        handle.write(json.dumps(entry) + "\n")


def submitted_jobs() -> list[dict[str, Any]]:
    """Jobs submitted from this working directory, oldest first."""
    try:
        lines = _registry().read_text().splitlines()
    except OSError:
        return []
    cwd = str(Path.cwd())
    jobs = [json.loads(line) for line in lines if line.strip()]
    return [j for j in jobs if j.get("cwd") == cwd]
