"""A study's rows logged to MLflow: one run per invocation in experiment ``studies``
(options as params, every row's numbers as metrics, the table as an artifact). Here, in
the orchestration layer, so that the studies themselves (learning) do not import tracking."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from sslctl.tracking import Tracker
from sslctl.vocabulary import Tag


def log_study(name: str, options: dict[str, Any], rows: list[Any], table_text: str) -> str:
    """Log options as params, every row's numbers as metrics, the table as an artifact."""
    tracker = Tracker()
    run_id = tracker.create(tracker.experiment_id("studies"), f"study-{name}", {Tag.STUDY: name})
    tracker.log_params(run_id, options)
    metrics = {}
    for row in rows:
        data = asdict(row)
        key = "/".join(str(data[k]) for k in ("method", "sources", "seed") if k in data)
        metrics.update({f"{name}/{key}/{k}": v for k, v in data.items() if isinstance(v, float)})
    tracker.log_metrics(run_id, metrics)
    tracker.log_text(run_id, table_text, f"{name}.txt")
    tracker.finish(run_id, "FINISHED")
    return run_id
