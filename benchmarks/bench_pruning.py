"""Pruning benchmark (issue 6): the same TPE sweep over VICReg's invariance coefficient,
run with the median pruner and without pruning, side by side in one process. Prints the
total pretraining epochs each spent, the wall time, and the best configuration each found.

The coefficient is categorical (five values two orders of magnitude apart, from far too
little invariance to far too much) so that "the same best configuration" has a meaning:
both sweeps sample the same seeded TPE space and the question is whether pruning on the
per-epoch probe (``eval.probe.kind``, a short linear probe by default) still finds the point the unpruned sweep finds, for fewer epochs.

    .venv/bin/python benchmarks/bench_pruning.py [--trials 8] [--epochs 6]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def sweep_file(folder: Path, pruner: str, trials: int, epochs: int) -> Path:
    path = folder / f"inv-{pruner}.yaml"
    path.write_text(f"""name: inv-{pruner}
base: {REPO / "recipes" / "vicreg.yaml"}
set: [optim.epochs={epochs}, optim.warmup_epochs=1, model.width=8, eval.linear.epochs=30,
      eval.baselines=false, "eval.ood.datasets=[digits]"]
space:
  method.sim_coeff: {{choices: [0.01, 0.3, 5.0, 25.0, 1000.0]}}
sampler: tpe
pruner: {pruner}
probe_every: 1
trials: {trials}
objective: {{metric: linear/top1, direction: maximize}}
""")
    return path


def epochs_trained(tracker, sweep: str) -> int:
    """Pretraining epochs over every child run of the sweep (pruned ones included)."""
    runs = tracker.client.search_runs(
        [tracker.experiment_id("quickstart")], filter_string=f"tags.`sslctl.sweep` = '{sweep}'"
    )
    children = [r.info.run_id for r in runs if "mlflow.parentRunId" in r.data.tags]
    return sum(
        max((s for s, _ in tracker.metric_history(r, "pretrain/loss")), default=0) for r in children
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--trials", type=int, default=8)
    parser.add_argument("--epochs", type=int, default=6)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{tmp}/mlflow.db"
        os.environ["SSLCTL_HOME"] = f"{tmp}/.sslctl"
        from sslctl.sweep.run import run_sweep
        from sslctl.sweep.spec import load_sweep
        from sslctl.tracking import Tracker

        rows = []
        for pruner in ("median", "none"):
            spec = load_sweep(str(sweep_file(Path(tmp), pruner, args.trials, args.epochs)))
            start = time.perf_counter()
            result = run_sweep(spec, say=lambda m: None)
            seconds = time.perf_counter() - start
            best = result.rows[0]
            rows.append(
                (
                    pruner,
                    epochs_trained(Tracker(), spec.name),
                    seconds,
                    best.point,
                    best.value,
                    sum(r.state == "PRUNED" for r in result.rows),
                )
            )
    print(f"{'pruner':8} {'epochs':>7} {'seconds':>8} {'pruned':>6}  best point (linear/top1)")
    for pruner, epochs, seconds, point, value, pruned in rows:
        print(f"{pruner:8} {epochs:7d} {seconds:8.0f} {pruned:6d}  {point} ({value:.2f})")
    print(f"epochs ratio (median / none): {rows[0][1] / rows[1][1]:.2f}")
    print(f"wall-time ratio (median / none): {rows[0][2] / rows[1][2]:.2f}")
    same = rows[0][3] == rows[1][3]
    print(f"same best configuration: {'yes' if same else 'no'}")


if __name__ == "__main__":
    main()
