"""Rendering a :class:`Sheet` as a terminal table, Markdown (GitHub), CSV (pandas: one
numeric column per mean, std and n), LaTeX (booktabs), HTML or JSON."""

from __future__ import annotations

import csv
import html
import io
import json
import math
from typing import Any

from sslctl.report.sheet import Sheet

FORMATS = ("table", "markdown", "csv", "latex", "html", "json")
KEY_MIN_WIDTH = 12  # key columns fold below this width on a narrow terminal


def render(sheet: Sheet, kind: str) -> str:
    """The sheet as text in format ``kind`` (``table``: the terminal table as plain text)."""
    renderers = {
        "table": lambda s: rich_text(rich_table(s)),
        "markdown": markdown,
        "csv": to_csv,
        "latex": latex,
        "html": to_html,
        "json": to_json,
    }
    if kind not in renderers:
        raise ValueError(f"unknown format {kind!r}")
    return renderers[kind](sheet)


def rich_table(sheet: Sheet) -> Any:
    """A rich renderable: runs, then the baselines (dimmed) after a rule; notes as caption.
    Print it with ``crop=False``: on a narrow terminal long metric names break at their
    "/" and, if still too wide, lines wrap rather than numbers being cut."""
    return WideTable(sheet)


class WideTable:
    def __init__(self, sheet: Sheet) -> None:
        self.sheet = sheet

    def __rich_console__(self, console: Any, options: Any) -> Any:
        if not any(self.sheet.sections.values()):
            from rich.text import Text

            yield Text("\n".join([self.sheet.title, *self.sheet.notes]))
            return
        wrap = min_width(self.sheet, wrap_names=False) > options.max_width
        width = max(options.max_width, min_width(self.sheet, wrap_names=wrap))
        yield from console.render(build_table(self.sheet, wrap), options.update(width=width))


def min_width(sheet: Sheet, wrap_names: bool) -> int:
    """Characters the table needs without cutting a number (what rich would measure, but
    without laying out every row twice)."""
    rows = [row for name in sheet.sections for row in sheet.text_rows(name)]
    total = 1  # the left border; each column adds 2 of padding and 1 of border
    for i, col in enumerate(sheet.header):
        widest = max((len(row[i]) for row in rows), default=1)
        if i < len(sheet.keys):
            total += min(widest, KEY_MIN_WIDTH) + 3
        else:
            name = wrap_name(col, widest) if wrap_names else col
            total += max(widest, *(len(line) for line in name.split("\n"))) + 3
    return total


def build_table(sheet: Sheet, wrap_names: bool) -> Any:
    from rich.table import Table
    from rich.text import Text  # plain Text: values like [a, b] are not markup

    table = Table(
        title=Text(sheet.title), caption=Text("\n".join(sheet.notes)), caption_justify="left"
    )
    sections = [
        (sheet.text_rows(name), style) for name, style in (("runs", None), ("baselines", "dim"))
    ]
    every_row = [row for rows, _ in sections for row in rows]
    for i, col in enumerate(sheet.header):
        widest = max((len(row[i]) for row in every_row), default=1)
        if i < len(sheet.keys):
            table.add_column(Text(col), overflow="fold", min_width=min(widest, KEY_MIN_WIDTH))
        else:  # numbers never wrap
            name = wrap_name(col, widest) if wrap_names else col
            table.add_column(Text(name), justify="right", no_wrap=True)
    for i, (rows, style) in enumerate(sections):
        if rows and i:
            table.add_section()
        for row in rows:
            table.add_row(*(Text(c) for c in row), style=style)
    return table


def wrap_name(name: str, width: int) -> str:
    """``ood/mnist5k-c/top1`` -> ``ood/mnist5k-c/\ntop1`` when longer than ``width``."""
    lines = [""]
    for part in name.split("/"):
        piece = part if lines[-1] == "" else "/" + part
        if lines[-1] and len(lines[-1]) + len(piece) > width:
            lines[-1] += "/"
            lines.append(part)
        else:
            lines[-1] += piece
    return "\n".join(lines)


def rich_text(renderable: Any, width: int = 200) -> str:
    from rich.console import Console

    console = Console(width=width, record=True, file=io.StringIO(), color_system=None)
    console.print(renderable, crop=False)
    return console.export_text()


def _rows(sheet: Sheet) -> list[list[str]]:
    return [row for name in sheet.sections for row in sheet.text_rows(name)]


def markdown(sheet: Sheet) -> str:
    """A GitHub-flavoured Markdown table (numbers right-aligned) and the notes as a list."""

    def cells(row: list[str]) -> str:
        return "| " + " | ".join(c.replace("|", "\\|") or " " for c in row) + " |"

    align = ["---" if i < len(sheet.keys) else "---:" for i in range(len(sheet.header))]
    lines = [f"**{sheet.title}**", "", cells(sheet.header), "|" + "|".join(align) + "|"]
    lines += [cells(row) for row in _rows(sheet)]
    lines += ["", *(f"- {n}" for n in sheet.notes)]
    return "\n".join(lines) + "\n"


def to_csv(sheet: Sheet) -> str:
    """One line per row; per numeric column three numeric columns: ``NAME`` (mean),
    ``NAME std`` and ``NAME n``; full precision; empty where there is no value."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    numeric = [f"{c}{suffix}" for c in sheet.columns for suffix in ("", " std", " n")]
    writer.writerow(["section", *sheet.keys, *numeric, *(["n"] if sheet.count else [])])
    for name, lines in sheet.sections.items():
        for line in lines:
            values: list[str] = []
            for cell in line.cells:
                if cell is None or cell.n == 0:
                    values += ["", "", "0"]
                else:
                    values += [_num(cell.mean), _num(cell.std), str(cell.n)]
            n = [str(line.n) if line.n is not None else ""] if sheet.count else []
            writer.writerow([name, *line.key, *values, *n])
    return buf.getvalue()


def _num(x: float) -> str:
    return repr(x) if math.isfinite(x) else ""


def latex(sheet: Sheet) -> str:
    """A booktabs ``table`` (needs ``\\usepackage{booktabs}``): caption with the notes,
    a ``\\midrule`` before the baselines."""
    cols = "l" * len(sheet.keys) + "r" * (len(sheet.header) - len(sheet.keys))
    caption = ". ".join([sheet.title, *sheet.notes])
    lines = [
        "% sslctl report; needs \\usepackage{booktabs}",
        r"\begin{table}[t]",
        r"\centering",
        rf"\caption{{{tex(caption)}}}",
        rf"\begin{{tabular}}{{{cols}}}",
        r"\toprule",
        " & ".join(tex(h) for h in sheet.header) + r" \\",
    ]
    for name in sheet.sections:
        rows = sheet.text_rows(name)
        if rows:
            lines.append(r"\midrule")
            lines += [" & ".join(tex(c) for c in row) + r" \\" for row in rows]
    lines += [r"\bottomrule", r"\end{tabular}", r"\end{table}"]
    return "\n".join(lines) + "\n"


TEX_SPECIAL = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "<": r"\textless{}",
    ">": r"\textgreater{}",
    "±": r"$\pm$",
    "×": r"$\times$",
    "|": r"\textbar{}",
}


def tex(text: str) -> str:
    """``text`` with LaTeX's special characters escaped (a missing value becomes --)."""
    if text == "-":
        return "--"
    return "".join(TEX_SPECIAL.get(ch, ch) for ch in text)


def to_html(sheet: Sheet) -> str:
    """A ``<table>`` (runs and baselines as two ``<tbody>``) and the notes as a list."""

    def row(cells: list[str], tag: str = "td") -> str:
        return "<tr>" + "".join(f"<{tag}>{html.escape(c)}</{tag}>" for c in cells) + "</tr>"

    out = [
        '<table class="sslctl-report">',
        f"<caption>{html.escape(sheet.title)}</caption>",
        f"<thead>{row(sheet.header, 'th')}</thead>",
    ]
    for name in sheet.sections:
        body = "\n".join(row(r) for r in sheet.text_rows(name))
        if body:
            out.append(f'<tbody class="{name}">\n{body}\n</tbody>')
    out.append("</table>")
    out.append("<ul>" + "".join(f"<li>{html.escape(n)}</li>" for n in sheet.notes) + "</ul>")
    return "\n".join(out) + "\n"


def _interval(cell: Any) -> dict[str, Any]:
    """``low``, ``high``, ``tie`` of a cell that has a 95% interval (report --ci)."""
    if cell.low is None or cell.high is None:
        return {}
    return {"low": cell.low, "high": cell.high, "tie": cell.tie}


def to_json(sheet: Sheet) -> str:
    """Everything, numbers at full precision (std null when n < 2; NaN never appears)."""

    def value(x: float) -> float | None:
        return x if math.isfinite(x) else None

    def line(ln: Any) -> dict[str, Any]:
        return {
            "key": dict(zip(sheet.keys, ln.key, strict=True)),
            **({"n": ln.n, "runs": ln.runs} if sheet.count else {}),
            "values": {
                col: {"mean": value(c.mean), "std": value(c.std), "n": c.n, **_interval(c)}
                for col, c in zip(sheet.columns, ln.cells, strict=True)
                if c is not None and c.n
            },
        }

    data = {
        "title": sheet.title,
        "keys": sheet.keys,
        "columns": sheet.columns,
        **{name: [line(ln) for ln in lines] for name, lines in sheet.sections.items()},
        "notes": sheet.notes,
        **sheet.meta,
    }
    return json.dumps(data, indent=2) + "\n"
