"""`--launcher slurm` without a usable SLURM: a clear message, exit code 2, nothing
submitted and no MLflow run created. Runs without a cluster (fake tools on PATH)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from tests.conftest import RECIPES, cli_env, sslctl_cmd, timeout_s


def _run(workdir: Path, path: str, *args: str):
    import subprocess

    env = cli_env(workdir)
    env["PATH"] = path
    return subprocess.run(
        sslctl_cmd(*args),
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout_s(120),
    )


def _no_runs(workdir: Path) -> bool:
    db = workdir / "mlflow.db"
    if not db.exists():
        return True
    from sslctl.tracking import Tracker

    tracker = Tracker(f"sqlite:///{db}")
    exp = tracker.client.get_experiment_by_name("quickstart")
    return exp is None or not tracker.client.search_runs([exp.experiment_id])


def test_no_sbatch_on_path_exits_2(workdir: Path) -> None:
    """No `sbatch` on PATH: exit 2 naming the missing tool, no MLflow run."""
    empty = workdir / "bin"
    empty.mkdir()
    done = _run(
        workdir, str(empty), "pretrain", str(RECIPES / "vicreg.yaml"), "--launcher", "slurm"
    )
    assert done.returncode == 2, done.stderr
    assert "no SLURM here" in done.stderr and "sbatch" in done.stderr
    assert _no_runs(workdir)


def test_controller_down_exits_2(workdir: Path) -> None:
    """SLURM tools present but the controller unreachable (sinfo fails): exit 2, the reason
    from sinfo, nothing submitted (a fake sbatch records any call), no MLflow run."""
    bindir = workdir / "bin"
    bindir.mkdir()
    calls = workdir / "sbatch-called"
    for tool, script in {
        "sinfo": "echo 'slurm_load_partitions: Unable to contact slurm controller' >&2; exit 1",
        "squeue": "exit 1",
        "sbatch": f"touch {calls}; exit 0",
    }.items():
        path = bindir / tool
        path.write_text(f"#!/bin/sh\n{script}\n")
        path.chmod(0o755)
    done = _run(
        workdir,
        f"{bindir}{os.pathsep}{Path(sys.executable).parent}",
        "pretrain",
        str(RECIPES / "vicreg.yaml"),
        "--launcher",
        "slurm",
    )
    assert done.returncode == 2, done.stderr
    assert "controller unreachable" in done.stderr
    assert "Unable to contact slurm controller" in done.stderr
    assert not calls.exists()
    assert _no_runs(workdir)


def test_status_without_jobs(workdir: Path) -> None:
    """`sslctl status` in a directory that submitted nothing says so (exit 0)."""
    done = _run(workdir, os.environ.get("PATH", ""), "status")
    assert done.returncode == 0
    assert "no SLURM jobs submitted from this directory" in done.stdout
