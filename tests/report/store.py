"""A real MLflow sqlite store with the runs a few pipelines and a sweep would log."""

from __future__ import annotations

import math
from pathlib import Path

from sslctl.tracking import Tracker

LINEAR_PROTOCOL = "linear probe on frozen cached features, AdamW lr=0.001, 100 epochs"
OOD_PROTOCOL = "in-domain linear head applied unchanged to digits, mnist5k-c"
KNN_PROTOCOL = "weighted kNN k=20, cosine, T=0.07, on the same cached features"

# (method, projector width) -> linear/top1 of seeds 0 and 1
LINEAR = {
    ("vicreg", 256): [90.0, 92.0],
    ("vicreg", 1024): [95.0, 97.0],
    ("barlow", 256): [88.0, 88.0],
    ("barlow", 1024): [93.0, 95.0],
}
HSIC = {256: 3e-4, 1024: 1e-4}
SWEEP = "width"
SWEEP_POINTS = {64: [70.0, 72.0], 256: [80.0, 84.0], 1024: [86.0, 86.0]}


def add_run(
    tracker: Tracker,
    experiment: str,
    params: dict[str, object],
    metrics: dict[str, float],
    *,
    tags: dict[str, str] | None = None,
    state: str = "complete",
) -> str:
    """One pipeline run; ``state`` sets sslctl.status and the matching MLflow status."""
    exp = tracker.experiment_id(experiment)
    run = tracker.create(
        exp,
        f"{params.get('method.name')}-{params.get('seed')}",
        {
            "sslctl.recipe_hash": f"h{len(params)}{sorted(params.items())}"[:40],
            "sslctl.method": str(params.get("method.name")),
            "sslctl.seed": str(params.get("seed")),
            "sslctl.status": state,
            **(tags or {}),
        },
    )
    tracker.log_params(run, {"experiment": experiment, "data.name": "mnist5k", **params})
    tracker.log_metrics(run, metrics)
    mlflow_status = {"complete": "FINISHED", "failed": "FAILED", "running": None}.get(
        state, "KILLED"
    )
    if mlflow_status is not None:
        tracker.finish(run, mlflow_status)
    return run


def pipeline_metrics(linear: float, width: int, seed: int) -> dict[str, float]:
    return {
        "linear/top1": linear,
        "ood/digits/top1": linear - 10,
        "ood/mnist5k-c/top1": linear - 20,
        "ood/mnist5k-c/noise/top1": linear - 30,
        "ood/mnist5k-c/noise/5/top1": linear - 40,
        "indep/hsic": HSIC[width] * (1 + seed),
        **({"knn/top1": linear - 1} if seed == 0 else {}),
        "baseline/raw/linear/top1": 90.8,
        "baseline/raw/ood/digits/top1": 64.0 + seed,
        "baseline/random/linear/top1": 66.7,
    }


def build_store(folder: Path) -> str:
    """Experiment ``quickstart``: 2 methods x 2 widths x 2 seeds, plus a failed, a running
    and an interrupted run; experiment ``other``: one run; experiment ``sweeps``: a sweep
    parent, 3 widths x 2 seeds of trials, and a pruned trial. Returns the tracking URI."""
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    tracker = Tracker(uri)
    tags = {
        "sslctl.protocol.linear": LINEAR_PROTOCOL,
        "sslctl.protocol.ood": OOD_PROTOCOL,
        "sslctl.protocol.knn": KNN_PROTOCOL,
    }
    for (method, width), values in LINEAR.items():
        for seed, value in enumerate(values):
            params = {
                "method.name": method,
                "projector.width": width,
                "seed": seed,
                "optim.lr": 0.002,
                "optim.weight_decay": 1e-4,
                "eval.independence.pairs": 128,
                "eval.independence.samples": 512,
                **({"method.sim_coeff": 25.0} if method == "vicreg" else {}),
            }
            add_run(tracker, "quickstart", params, pipeline_metrics(value, width, seed), tags=tags)
    bad = {"method.name": "vicreg", "projector.width": 256, "optim.lr": 0.002, "seed": 9}
    for state in ("failed", "running", "interrupted"):
        add_run(tracker, "quickstart", bad, {"linear/top1": 10.0}, state=state)
    add_run(
        tracker,
        "other",
        {"method.name": "simclr", "projector.width": 256, "seed": 0},
        {"linear/top1": 50.0, "pretrain/loss": math.nan},
        tags=tags,
    )
    _build_sweep(tracker, tags)
    return uri


def _build_sweep(tracker: Tracker, tags: dict[str, str]) -> None:
    exp = tracker.experiment_id("sweeps")
    parent = tracker.create(
        exp, "sweep-width", {"sslctl.sweep": SWEEP, "sslctl.sweep_parent": "true"}
    )
    tracker.log_params(parent, {"objective": "ood/digits/top1", "direction": "maximize"})
    for trial, (width, values) in enumerate(SWEEP_POINTS.items()):
        for seed, value in enumerate(values):
            child = {
                "mlflow.parentRunId": parent,
                "sslctl.sweep": SWEEP,
                "sslctl.trial": str(trial),
                **tags,
            }
            params = {"method.name": "vicreg", "projector.width": width, "seed": seed}
            metrics = {"linear/top1": value + 5, "ood/digits/top1": value}
            add_run(tracker, "sweeps", params, metrics, tags=child)
    pruned = {"mlflow.parentRunId": parent, "sslctl.sweep": SWEEP, "sslctl.trial": "9"}
    params = {"method.name": "vicreg", "projector.width": 4096, "seed": 0}
    add_run(tracker, "sweeps", params, {"probe/top1": 20.0}, tags=pruned, state="pruned")
    tracker.finish(parent, "FINISHED")
