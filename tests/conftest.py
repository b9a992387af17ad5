"""Shared fixtures: every test runs in its own working directory with its own MLflow store."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
RECIPES = REPO / "recipes"

# --set overrides that shrink a quick recipe to a seconds-long end-to-end pipeline run
TINY = [
    "model.width=8",
    "projector.depth=2",
    "projector.width=64",
    "projector.out_dim=32",
    "optim.batch_size=128",
    "optim.epochs=2",
    "optim.warmup_epochs=1",
    "eval.linear.epochs=5",
    "eval.ood.severities=[1]",
    "eval.ood.corruptions=[gaussian_noise, rotation]",
]

# TINY for tests of orchestration (locks, workers, reuse) that read no evaluation beyond
# the linear probe and the spectrum: one epoch, no baselines, kNN, HSIC or corruptions
LEAN = [
    *TINY,
    "optim.epochs=1",
    "optim.warmup_epochs=0",
    "eval.linear.epochs=2",
    "eval.baselines=false",
    "eval.knn.enabled=false",
    "eval.independence.enabled=false",
    "eval.ood.datasets=[digits]",
]


# Subprocess timeouts catch hangs, not slowness: each test states the time its command
# takes on an idle machine and the timeout is that times this factor (default 4, for a
# loaded 2-core machine); SSLCTL_TEST_TIMEOUT_SCALE raises it further on slower machines.
TIMEOUT_SCALE = float(os.environ.get("SSLCTL_TEST_TIMEOUT_SCALE", "4"))


def timeout_s(seconds: float) -> float:
    """A generous subprocess timeout: ``seconds`` scaled by ``SSLCTL_TEST_TIMEOUT_SCALE``."""
    return seconds * TIMEOUT_SCALE


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh working directory with MLflow and checkpoints under it."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    monkeypatch.setenv("SSLCTL_HOME", str(tmp_path / ".sslctl"))
    return tmp_path


def sslctl_cmd(*args: str) -> list[str]:
    """The command line that runs the installed CLI with this interpreter."""
    return [sys.executable, "-m", "sslctl", *args]


def cli_env(workdir: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["MLFLOW_TRACKING_URI"] = f"sqlite:///{workdir / 'mlflow.db'}"
    env["SSLCTL_HOME"] = str(workdir / ".sslctl")
    env.setdefault("OMP_NUM_THREADS", "2")
    return env


def run_sslctl(cwd: Path, *args: str, timeout: int = 120) -> subprocess.CompletedProcess:
    """Run the CLI in a fresh process in ``cwd`` with that folder's own MLflow store."""
    return subprocess.run(
        sslctl_cmd(*args),
        cwd=cwd,
        env=cli_env(cwd),
        capture_output=True,
        text=True,
        timeout=timeout_s(timeout),
    )
