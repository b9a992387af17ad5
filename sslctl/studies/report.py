"""Study output: a rich table of its rows (:mod:`sslctl.study_log` logs them to MLflow)."""

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
