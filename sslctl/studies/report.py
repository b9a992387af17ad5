"""Study output: a rich table and an MLflow run (experiment ``studies``) per invocation."""

from __future__ import annotations

from dataclasses import asdict, fields
from typing import Any

from rich.table import Table


def rows_table(title: str, rows: list[Any]) -> Table:
    """One column per dataclass field; floats with 4 decimals, or 3 significant digits in
    scientific notation below 0.01 (so that 1 - cos of 2e-6 does not print as 0.0000)."""
    table = Table(title=title)
    names = [f.name for f in fields(rows[0])] if rows else []
    for name in names:
        table.add_column(name, justify="left" if name in ("method",) else "right")
    for row in rows:
        table.add_row(
            *(_number(v) if isinstance(v, float) else str(v) for v in asdict(row).values())
        )
    return table


def _number(v: float) -> str:
    return f"{v:.2e}" if v != 0 and abs(v) < 0.01 else f"{v:.4f}"


def log_study(name: str, options: dict[str, Any], rows: list[Any], table_text: str) -> str:
    """Log options as params, every row's numbers as metrics, the table as an artifact."""
    from sslctl.tracking import Tracker
    from sslctl.vocabulary import Tag

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
