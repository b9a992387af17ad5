"""Rendering a :class:`Report` (or a pivot) as a terminal table, Markdown, CSV, LaTeX
(booktabs), HTML or JSON."""

from __future__ import annotations

import csv
import html
import io
import json
import math
from typing import Any

from sslctl.report.aggregate import Cell, Report

FORMATS = ("table", "markdown", "csv", "latex", "html", "json")


def fmt(cell: Cell | None) -> str:
    if cell is None or cell.n == 0 or math.isnan(cell.mean):
        return "-"
    return f"{cell.mean:.2f} ± {cell.std:.2f}" if cell.n > 1 else f"{cell.mean:.2f}"


def _rows(report: Report) -> tuple[list[str], list[list[str]], list[list[str]]]:
    header = [*report.fields, *report.metrics, "n"]
    body = [
        [*g.key, *(fmt(g.cells.get(m)) for m in report.metrics), str(len(g.run_ids))]
        for g in report.groups
    ]
    pad = len(report.fields) - 1
    base = [
        [
            g.key[0],
            *[""] * pad,
            *(fmt(g.cells.get(m)) for m in report.metrics),
            str(max((c.n for c in g.cells.values()), default=0)),
        ]
        for g in report.baselines
    ]
    return header, body, base


def footer(report: Report) -> list[str]:
    lines = [f"{m}: {p}" for m, p in report.protocols.items()]
    lines.append("values: mean ± std over seeds (n = runs per row)")
    if report.excluded:
        counts = ", ".join(f"{n} {s}" for s, n in sorted(report.excluded.items()))
        lines.append(f"excluded: {counts} (--all shows them)")
    return lines


def render(report: Report, kind: str, title: str = "sslctl report") -> str | Any:
    """The report in ``kind`` (a rich Table for ``table``, text otherwise)."""
    header, body, base = _rows(report)
    if kind == "table":
        from rich.table import Table

        table = Table(title=title, caption="\n".join(footer(report)), caption_justify="left")
        for col in header:
            table.add_column(col, justify="left" if col in report.fields else "right")
        for row in body:
            table.add_row(*row)
        if base:
            table.add_section()
            for row in base:
                table.add_row(*row, style="dim")
        return table
    if kind == "json":
        return json.dumps(
            {
                "fields": report.fields,
                "metrics": report.metrics,
                "protocols": report.protocols,
                "excluded": report.excluded,
                "groups": [_json_group(report, g) for g in report.groups],
                "baselines": [_json_group(report, g) for g in report.baselines],
            },
            indent=2,
        )
    return table_text(header, body + base, footer(report), kind, title, len(report.fields))


def _json_group(report: Report, g: Any) -> dict[str, Any]:
    return {
        "key": dict(zip(report.fields, g.key, strict=False)),
        "runs": g.run_ids,
        "metrics": {m: {"mean": c.mean, "std": c.std, "n": c.n} for m, c in g.cells.items() if c.n},
    }


def table_text(
    header: list[str], rows: list[list[str]], notes: list[str], kind: str, title: str, left: int = 1
) -> str:
    """Plain-text formats shared by reports and pivots."""
    if kind == "markdown":
        out = [f"| {' | '.join(header)} |", f"|{'|'.join('---' for _ in header)}|"]
        out += [f"| {' | '.join(r)} |" for r in rows]
        return "\n".join([f"**{title}**", "", *out, "", *(f"- {n}" for n in notes)]) + "\n"
    if kind == "csv":
        buf = io.StringIO()
        writer = csv.writer(buf)
        writer.writerow(header)
        writer.writerows([[c.replace(" ± ", "±") for c in r] for r in rows])
        return buf.getvalue()
    if kind == "latex":
        cols = "l" * left + "r" * (len(header) - left)
        lines = [
            r"\begin{table}[t]",
            r"\centering",
            rf"\begin{{tabular}}{{{cols}}}",
            r"\toprule",
            " & ".join(_tex(h) for h in header) + r" \\",
            r"\midrule",
        ]
        lines += [" & ".join(_tex(c) for c in r) + r" \\" for r in rows]
        lines += [r"\bottomrule", r"\end{tabular}", rf"\caption{{{_tex(title)}}}", r"\end{table}"]
        return "\n".join(lines) + "\n"
    if kind == "html":
        head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
        body = "".join(
            "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in rows
        )
        notes_html = "".join(f"<li>{html.escape(n)}</li>" for n in notes)
        return (
            f"<table>\n<caption>{html.escape(title)}</caption>\n<thead><tr>{head}</tr>"
            f"</thead>\n<tbody>{body}</tbody>\n</table>\n<ul>{notes_html}</ul>\n"
        )
    raise ValueError(kind)


def _tex(text: str) -> str:
    out = text.replace("\\", r"\textbackslash{}")
    for ch in "&%$#_{}":
        out = out.replace(ch, "\\" + ch)
    return out.replace("±", r"$\pm$").replace("~", r"\textasciitilde{}")


def render_pivot(
    rows: list[str],
    cols: list[str],
    cells: dict[tuple[str, str], Cell],
    row_field: str,
    col_field: str,
    metric: str,
    kind: str,
) -> str | Any:
    """A ``row_field`` x ``col_field`` table of ``metric``."""
    header = [f"{row_field} \\ {col_field}", *cols]
    body = [[r, *(fmt(cells.get((r, c))) for c in cols)] for r in rows]
    title = f"{metric}: {row_field} x {col_field}"
    if kind == "table":
        from rich.table import Table

        table = Table(title=title)
        for i, h in enumerate(header):
            table.add_column(h, justify="left" if i == 0 else "right")
        for r in body:
            table.add_row(*r)
        return table
    if kind == "json":
        return json.dumps(
            {
                "rows": rows,
                "cols": cols,
                "metric": metric,
                "cells": {
                    f"{r}|{c}": {"mean": v.mean, "std": v.std, "n": v.n}
                    for (r, c), v in cells.items()
                },
            },
            indent=2,
        )
    return table_text(header, body, ["mean ± std over seeds"], kind, title)
