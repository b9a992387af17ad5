"""Every output format carries the report's numbers and stays valid in its own syntax."""

from __future__ import annotations

import io
import json
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest

from sslctl.report.aggregate import build_report, pivot
from sslctl.report.formats import render, wrap_name
from sslctl.report.query import RunRow
from sslctl.report.select import select
from sslctl.report.sheet import Sheet, decimals_for, fmt, pivot_sheet, report_sheet
from tests.report.store import LINEAR_PROTOCOL


@pytest.fixture(scope="module")
def sheet(runs: list[RunRow]) -> Sheet:
    """quickstart by method x width, with an underscore field, a tiny-valued metric and
    a metric only some seeds logged."""
    rows, excluded = select(runs, experiment="quickstart")
    rep = build_report(
        rows,
        by=["method.name", "projector.width", "optim.weight_decay"],
        metrics=["linear/top1", "knn/top1", "indep/hsic"],
        excluded=excluded,
    )
    return report_sheet(rep, "quickstart & co: 100% of #runs")


def test_markdown_table_renders_on_github(sheet: Sheet) -> None:
    """A bold title, a blank line, a header, an alignment row (numbers right-aligned), one
    line per row with the same number of cells, the protocol and footer as a list."""
    md = render(sheet, "markdown")
    lines = md.splitlines()
    assert lines[0].startswith("**") and lines[1] == ""
    table = [ln for ln in lines if ln.startswith("|")]
    widths = {len(re.split(r"(?<!\\)\|", ln)) for ln in table}
    assert len(widths) == 1, "every table line has the same number of cells"
    assert table[1] == "|---|---|---|---:|---:|---:|---:|"
    assert "| vicreg | 1024 | 0.0001 | 96.00 ± 1.41 | 94.00 (n=1) |" in md
    assert f"- linear/top1: {LINEAR_PROTOCOL}" in md
    assert "- left out: 1 failed, 1 interrupted, 1 running run(s)" in md
    assert "| raw pixels (mnist5k) |" in md


def test_csv_opens_in_pandas_with_numeric_columns(sheet: Sheet) -> None:
    """Mean, std and n are separate numeric columns at full precision; baselines are
    rows of their own section."""
    df = pd.read_csv(io.StringIO(render(sheet, "csv")))
    assert list(df.columns[:4]) == [
        "section",
        "method.name",
        "projector.width",
        "optim.weight_decay",
    ]
    assert df["linear/top1"].dtype.kind == "f" and df["linear/top1 n"].dtype.kind == "i"
    runs = df[df["section"] == "runs"].set_index(["method.name", "projector.width"])
    best = runs.loc[("vicreg", 1024)]
    assert best["linear/top1"] == 96.0 and best["linear/top1 std"] == pytest.approx(2**0.5)
    assert best["knn/top1 n"] == 1 and pd.isna(best["knn/top1 std"])
    assert best["indep/hsic"] == pytest.approx(1.5e-4) and best["n"] == 2
    base = df[df["section"] == "baselines"]
    assert list(base["method.name"]) == ["raw pixels (mnist5k)", "random init (mnist5k)"]


def test_latex_is_a_booktabs_table(sheet: Sheet, tmp_path: Path) -> None:
    """\\toprule, \\midrule (also before the baselines), \\bottomrule in order; escaped
    specials (_ & % #); balanced braces; every row has as many cells as the column spec;
    compiles with pdflatex when it is installed."""
    tex = render(sheet, "latex")
    assert tex.index(r"\toprule") < tex.index(r"\midrule") < tex.index(r"\bottomrule")
    assert tex.count(r"\midrule") == 2
    assert r"optim.weight\_decay" in tex and r"quickstart \& co: 100\% of \#runs" in tex
    assert r"96.00 $\pm$ 1.41" in tex and "1.50e-04" in tex
    bare = re.sub(r"\\[{}_&%#$]", "", tex)
    assert bare.count("{") == bare.count("}")
    assert "_" not in bare and "%" not in bare.split("\n", 1)[1]
    spec = re.search(r"\\begin\{tabular\}\{([lr]+)\}", tex).group(1)
    rows = [ln for ln in tex.splitlines() if ln.endswith(r"\\")]
    assert len(rows) == 1 + 4 + 2
    assert all(len(re.split(r"(?<!\\)&", ln)) == len(spec) for ln in rows)
    assert_compiles(tex, tmp_path)


def assert_compiles(tex: str, folder: Path) -> None:
    """pdflatex (when installed) turns the table into a PDF without an error."""
    if not shutil.which("pdflatex"):
        return
    doc = "\\documentclass{article}\\usepackage{booktabs}\\begin{document}\n"
    (folder / "t.tex").write_text(doc + tex + "\\end{document}\n")
    done = subprocess.run(
        ["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "t.tex"],
        cwd=folder,
        capture_output=True,
        timeout=120,
    )
    assert done.returncode == 0 and (folder / "t.pdf").stat().st_size > 0, done.stdout[-2000:]


class _Cells(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.cells: list[str] = []

    def handle_starttag(self, tag: str, attrs: object) -> None:
        self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        assert self.stack.pop() == tag, f"</{tag}> closes the wrong element"

    def handle_data(self, data: str) -> None:
        if self.stack and self.stack[-1] == "td":
            self.cells.append(data)


def test_html_is_well_formed_and_escaped(sheet: Sheet) -> None:
    """Every tag closes in order; the title's & is escaped; cells hold the numbers."""
    text = render(sheet, "html")
    parser = _Cells()
    parser.feed(text)
    assert parser.stack == []
    assert "96.00 ± 1.41" in parser.cells and "quickstart &amp; co" in text
    assert '<tbody class="baselines">' in text


def test_json_has_full_precision_and_no_nan(sheet: Sheet) -> None:
    """Strict JSON (no NaN): means at full precision, std null when n < 2, run ids."""
    data = json.loads(render(sheet, "json"), parse_constant=lambda c: pytest.fail(c))
    best = data["runs"][0]
    assert best["key"] == {
        "method.name": "vicreg",
        "projector.width": "1024",
        "optim.weight_decay": "0.0001",
    }
    assert best["values"]["linear/top1"]["std"] == pytest.approx(2**0.5)
    assert best["values"]["knn/top1"] == {"mean": 94.0, "std": None, "n": 1}
    assert len(best["runs"]) == 2 and data["excluded"]["failed"] == 1
    assert data["protocols"]["linear/top1"] == LINEAR_PROTOCOL


def test_table_format_is_plain_text(sheet: Sheet) -> None:
    """--format table with --out writes the terminal table as text, numbers unwrapped."""
    text = render(sheet, "table")
    assert "96.00 ± 1.41" in text and "\x1b[" not in text and "raw pixels" in text


def test_pivot_in_every_format(runs: list[RunRow], tmp_path: Path) -> None:
    """The pivot renders in each format with its cells, protocol and n per cell."""
    rows, excluded = select(runs, experiment="quickstart")
    sheet = pivot_sheet(pivot(rows, "method", "projector.width", "linear/top1"), excluded, {})
    md = render(sheet, "markdown")
    assert "| method.name \\ projector.width | 256 | 1024 |" in md
    assert "| vicreg | 91.00 ± 1.41 | 96.00 ± 1.41 |" in md and "n = 2 run(s) per cell" in md
    df = pd.read_csv(io.StringIO(render(sheet, "csv")))
    assert df.set_index(df.columns[1]).loc["barlow", "1024"] == 94.0
    tex = render(sheet, "latex")
    assert r"\textbackslash{}" in tex
    assert_compiles(tex, tmp_path)
    assert json.loads(render(sheet, "json"))["runs"][1]["values"]["1024"]["mean"] == 96.0
    for kind in ("table", "html"):
        assert "96.00 ± 1.41" in render(sheet, kind)


def test_number_formatting() -> None:
    """2 decimals for percentages, 4 below 1, scientific for tiny values; the std only
    when n > 1; (n=k) when a value comes from fewer runs than its row."""
    from sslctl.report.aggregate import Cell

    assert decimals_for(97.5) == 2 and decimals_for(0.5) == 4 and decimals_for(3e-4) is None
    assert fmt(Cell(97.5, 0.25, 3), 2, 3) == "97.50 ± 0.25"
    assert fmt(Cell(97.5, float("nan"), 1), 2, 3) == "97.50 (n=1)"
    assert fmt(Cell(3e-4, 1e-4, 2), None) == "3.00e-04 ± 1.00e-04"
    assert fmt(None, 2) == "-"
    assert wrap_name("ood/mnist5k-c/top1", 12) == "ood/\nmnist5k-c/\ntop1"
