"""Start-up and orchestration figures: CLI start, time to the first training step, the
share of an epoch spent logging and checkpointing, and peak memory of a pipeline."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sslctl.bench.common import Figure

RECIPES = Path(__file__).resolve().parents[2] / "recipes"


def _run(args: list[str], env: dict[str, str], cwd: str) -> float:
    start = time.perf_counter()
    subprocess.run(args, env=env, cwd=cwd, check=True, capture_output=True)
    return time.perf_counter() - start


def cli_start(repeat: int = 3) -> list[Figure]:
    """Wall time of ``sslctl --help`` and ``sslctl validate`` (fresh processes)."""
    env = dict(os.environ)
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "sslctl"]
        helps = [_run([*cmd, "--help"], env, tmp) for _ in range(repeat)]
        valid = [
            _run([*cmd, "validate", str(RECIPES / "intl.yaml")], env, tmp) for _ in range(repeat)
        ]
    return [
        Figure("cli", "sslctl --help", min(helps), "s", "fresh process, best of 3"),
        Figure(
            "cli",
            "sslctl validate recipes/intl.yaml",
            min(valid),
            "s",
            "imports torch to check the loss signature",
        ),
    ]


TINY = [
    "model.width=16",
    "optim.epochs=3",
    "optim.warmup_epochs=0",
    "eval.linear.epochs=10",
    "eval.baselines=false",
    "eval.ood.severities=[1]",
]


def orchestration() -> list[Figure]:
    """In one process: seconds from the pipeline call to the first training step, and the
    share of each epoch spent in MLflow logging and checkpoint writing."""
    from sslctl.pipeline import run_pipeline
    from sslctl.recipe import load_recipe
    from sslctl.tracking import Tracker
    from sslctl.train import Pretrainer

    timings: dict[str, float] = {"log": 0.0, "save": 0.0}
    epochs: list[float] = []
    first_step: list[float] = []

    class Probe:
        def start(self, epochs: int, first_epoch: int, steps_per_epoch: int) -> None: ...

        def step(self) -> None:
            if not first_step:
                first_step.append(time.perf_counter())

        def epoch(self, stats) -> None:
            epochs.append(stats.seconds)

    original_log, original_save = Tracker.log_metrics, Pretrainer.save

    def log_metrics(self, *args, **kwargs):
        start = time.perf_counter()
        original_log(self, *args, **kwargs)
        timings["log"] += time.perf_counter() - start

    def save(self):
        start = time.perf_counter()
        original_save(self)
        timings["save"] += time.perf_counter() - start

    with tempfile.TemporaryDirectory() as tmp:
        old = {k: os.environ.get(k) for k in ("MLFLOW_TRACKING_URI", "SSLCTL_HOME")}
        os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{tmp}/mlflow.db"
        os.environ["SSLCTL_HOME"] = f"{tmp}/.sslctl"
        Tracker.log_metrics, Pretrainer.save = log_metrics, save  # type: ignore[method-assign]
        try:
            recipe = load_recipe(RECIPES / "vicreg.yaml", TINY)
            start = time.perf_counter()
            run_pipeline(recipe, reporter=Probe(), say=lambda m: None)
        finally:
            Tracker.log_metrics, Pretrainer.save = original_log, original_save  # type: ignore[method-assign]
            for key, value in old.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
    train = sum(epochs)
    overhead = timings["save"] + timings["log"]
    return [
        Figure(
            "orchestration",
            "pipeline call -> first training step",
            first_step[0] - start,
            "s",
            "data load, preflight, MLflow store creation and run set-up",
        ),
        Figure(
            "orchestration",
            "logging + checkpointing share of an epoch",
            100 * overhead / (train + overhead),
            "%",
            f"{overhead:.2f} s over {len(epochs)} epochs of {train / len(epochs):.1f} s",
        ),
    ]


# Runs a command and prints the peak RSS of it alone (a fresh parent, so that earlier
# children of the bench process, such as DataLoader workers, do not count).
_PEAK_OF = (
    "import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True, "
    "capture_output=True); print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
)


def peak_memory() -> list[Figure]:
    """Peak RSS of a short quickstart pipeline (intl recipe, 2 epochs) in a fresh process."""
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(
            os.environ,
            MLFLOW_TRACKING_URI=f"sqlite:///{tmp}/mlflow.db",
            SSLCTL_HOME=f"{tmp}/.sslctl",
        )
        args = [
            sys.executable,
            "-m",
            "sslctl",
            "pretrain",
            str(RECIPES / "intl.yaml"),
            "--set",
            "optim.epochs=2",
            "--set",
            "optim.warmup_epochs=1",
        ]
        out = subprocess.run(
            [sys.executable, "-c", _PEAK_OF, *args],
            env=env,
            cwd=tmp,
            check=True,
            capture_output=True,
            text=True,
        )
    peak_kib = int(out.stdout.split()[-1])
    return [
        Figure(
            "memory",
            "peak RSS, quickstart pipeline (intl, 2 epochs)",
            peak_kib / 1024,
            "MiB",
            "target under 2048 MiB",
        )
    ]
