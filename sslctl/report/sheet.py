"""A report or a pivot as one neutral table (a :class:`Sheet`) that every output format
renders: left key columns, numeric columns of :class:`Cell`, sections, notes."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from sslctl.report.aggregate import Cell, Group, Pivot, Report
from sslctl.report.protocols import BASELINE_PROTOCOL, protocol_notes

MISSING = "-"


@dataclass
class Line:
    key: list[str]
    cells: list[Cell | None]
    n: int | None = None  # runs behind the line (None: not shown)
    runs: list[str] = field(default_factory=list)


@dataclass
class Sheet:
    title: str
    keys: list[str]  # left (text) columns
    columns: list[str]  # numeric columns
    sections: dict[str, list[Line]]  # "runs", then "baselines"
    notes: list[str]
    meta: dict[str, Any] = field(default_factory=dict)  # extra JSON content
    count: bool = True  # an "n" column

    def decimals(self) -> list[int | None]:
        """Decimals per column, from the column's largest value (None: scientific)."""
        out = []
        for i in range(len(self.columns)):
            cells = [line.cells[i] for lines in self.sections.values() for line in lines]
            values = [abs(c.mean) for c in cells if c is not None and c.n and math.isfinite(c.mean)]
            out.append(decimals_for(max(values, default=0.0)))
        return out

    def text_rows(self, section: str) -> list[list[str]]:
        """Rows of one section as display strings (keys, cells, then n)."""
        places = self.decimals()
        return [
            [
                *line.key,
                *(fmt(c, d, line.n) for c, d in zip(line.cells, places, strict=True)),
                *([str(line.n) if line.n is not None else ""] if self.count else []),
            ]
            for line in self.sections.get(section, [])
        ]

    @property
    def header(self) -> list[str]:
        return [*self.keys, *self.columns, *(["n"] if self.count else [])]


def decimals_for(largest: float) -> int | None:
    """2 decimals for values from 1 to 1e5 (accuracies in %), 4 below 1, scientific
    notation for very small or very large values."""
    if largest == 0 or 1 <= largest < 1e5:
        return 2
    if 1e-2 <= largest < 1:
        return 4
    return None


def fmt(cell: Cell | None, places: int | None, row_n: int | None = None) -> str:
    """``mean ± std`` (std only when n > 1), ``[low, high]`` when the cell has a 95%
    interval (``(tie)``: it overlaps the leading row's), ``(n=k)`` when fewer runs than
    the row has."""
    if cell is None or cell.n == 0 or math.isnan(cell.mean):
        return MISSING

    def num(x: float) -> str:
        return f"{x:.{places}f}" if places is not None else f"{x:.2e}"

    text = num(cell.mean)
    if cell.n > 1 and math.isfinite(cell.std):
        text += f" ± {num(cell.std)}"
    if cell.low is not None and cell.high is not None:
        text += f" [{num(cell.low)}, {num(cell.high)}]" + (" (tie)" if cell.tie else "")
    if row_n is not None and cell.n < row_n:
        text += f" (n={cell.n})"
    return text


def report_sheet(report: Report, title: str = "sslctl report") -> Sheet:
    """The report's rows, its baselines section and its footer notes."""
    pad = [""] * (len(report.fields) - 1)

    def line(g: Group, baseline: bool = False) -> Line:
        key = [g.key[0], *pad] if baseline else list(g.key)
        return Line(key, [g.cells.get(m) for m in report.metrics], g.n, list(g.run_ids))

    sections = {
        "runs": [line(g) for g in report.groups],
        "baselines": [line(g, baseline=True) for g in report.baselines],
    }
    return Sheet(
        title,
        list(report.fields),
        list(report.metrics),
        sections,
        report_notes(report),
        {
            "protocols": report.protocols,
            "excluded": report.excluded,
            "included": report.included,
        },
    )


NO_RUNS = "no pipeline run matches (sslctl pretrain or sslctl sweep log them)"


def report_notes(report: Report) -> list[str]:
    if not report.groups:
        return [NO_RUNS, *status_notes(report.excluded, report.included)]
    notes = protocol_notes(report.protocols)
    notes.append("values: mean ± std over seeds; n = runs per row; (n=k): from k runs only")
    for kept, implied in report.together.items():
        notes.append(f"{', '.join(implied)}: vary together with {kept} (not shown)")
    if report.sort:
        notes.append(f"rows: sorted by {report.sort}")
    if report.baselines:
        notes.append(
            f"{BASELINE_PROTOCOL}; n = distinct data, evaluation and seed settings among the "
            "runs above"
        )
    notes += [f"not trained (health): {line}" for line in report.flagged]
    notes += status_notes(report.excluded, report.included)
    return notes


def status_notes(excluded: dict[str, int], included: dict[str, int]) -> list[str]:
    out = []
    if excluded:
        counts = ", ".join(f"{n} {s}" for s, n in excluded.items())
        out.append(f"left out: {counts} run(s) (--all includes them)")
    if included:
        counts = ", ".join(f"{n} {s}" for s, n in included.items())
        out.append(f"included with --all: {counts} run(s)")
    return out


def pivot_sheet(p: Pivot, excluded: dict[str, int], included: dict[str, int]) -> Sheet:
    """``row_field`` down, ``col_field`` across, ``metric`` in the cells."""
    if not p.rows:
        return Sheet(
            f"{p.metric}: {p.row_field} x {p.col_field}",
            [p.row_field],
            [],
            {"runs": []},
            [NO_RUNS, *status_notes(excluded, included)],
            count=False,
        )
    lines = [Line([r], [p.cells.get((r, c)) for c in p.cols]) for r in p.rows]
    counts = sorted({c.n for c in p.cells.values() if c.n})
    n_text = (
        str(counts[0]) if len(counts) == 1 else f"{counts[0]} to {counts[-1]}" if counts else "0"
    )
    notes = [f"{p.metric}: {p.protocol}"] if p.protocol else []
    notes.append(f"values: mean ± std over seeds, n = {n_text} run(s) per cell")
    notes += status_notes(excluded, included)
    return Sheet(
        f"{p.metric}: {p.row_field} x {p.col_field}",
        [f"{p.row_field} \\ {p.col_field}"],
        list(p.cols),
        {"runs": lines},
        notes,
        {"metric": p.metric, "rows": p.row_field, "cols": p.col_field, "excluded": excluded},
        count=False,
    )
