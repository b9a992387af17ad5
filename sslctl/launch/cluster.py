"""Talking to SLURM: is it there and would it accept a request, submitit executors, and
the record of the jobs sslctl submitted (``$SSLCTL_HOME/slurm/jobs.jsonl``, default
``.sslctl``), which ``sslctl status`` reads together with ``sacct`` and MLflow."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from sslctl.errors import SslctlError
from sslctl.launch.resources import executor_parameters, sbatch_options
from sslctl.paths import home, job_registry, slurm_folder
from sslctl.recipe.schema import LauncherConfig


class SlurmError(SslctlError):
    """SLURM is unreachable or refuses the request (exit code 2, nothing submitted)."""


def job_environment() -> dict[str, str]:
    """What a job needs to find this session's stores: the MLflow URI and sslctl's home."""
    from sslctl.tracking import tracking_uri

    return {"MLFLOW_TRACKING_URI": tracking_uri(), "SSLCTL_HOME": str(home())}


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
    path = job_registry()
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        handle.write(json.dumps(entry) + "\n")


def submitted_jobs() -> list[dict[str, Any]]:
    """Jobs submitted from this working directory, oldest first."""
    try:
        lines = job_registry().read_text().splitlines()
    except OSError:
        return []
    cwd = str(Path.cwd())
    jobs = [json.loads(line) for line in lines if line.strip()]
    return [j for j in jobs if j.get("cwd") == cwd]
