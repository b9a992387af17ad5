"""`sslctl report` over a real MLflow store: grouping, seeds, formats, pivot, plot, footer."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from sslctl.report.aggregate import build_report, glob_match, pivot, select
from sslctl.report.formats import render, render_pivot
from sslctl.report.query import load_runs
from sslctl.tracking import Tracker, tracking_uri
from tests.conftest import run_sslctl

LINEAR = {
    ("vicreg", 256): [90.0, 92.0],
    ("vicreg", 1024): [95.0, 97.0],
    ("barlow", 256): [88.0, 88.0],
    ("barlow", 1024): [93.0, 95.0],
}


def make_store() -> Tracker:
    """Two methods x two widths x two seeds, plus a failed run and a running run."""
    tracker = Tracker()
    exp = tracker.experiment_id("quickstart")
    for (method, width), values in LINEAR.items():
        for seed, value in enumerate(values):
            run = tracker.create(
                exp,
                f"{method}-{width}-{seed}",
                {
                    "sslctl.recipe_hash": f"{method}{width}{seed}",
                    "sslctl.status": "complete",
                    "sslctl.protocol.linear": "linear probe on cached features",
                },
            )
            tracker.log_params(
                run,
                {
                    "method.name": method,
                    "projector.width": width,
                    "seed": seed,
                    "data.name": "mnist5k",
                },
            )
            tracker.log_metrics(
                run,
                {
                    "linear/top1": value,
                    "ood/digits/top1": value - 10,
                    "ood/mnist5k-c/noise/top1": 1.0,
                    "baseline/raw/linear/top1": 90.0,
                },
            )
            tracker.finish(run, "FINISHED")
    for status, mlflow_status in (("failed", "FAILED"), ("running", "RUNNING")):
        run = tracker.create(exp, status, {"sslctl.recipe_hash": status, "sslctl.status": status})
        tracker.log_params(run, {"method.name": "vicreg", "projector.width": 256, "seed": 9})
        tracker.log_metrics(run, {"linear/top1": 0.0})
        if mlflow_status != "RUNNING":
            tracker.finish(run, mlflow_status)
    return tracker


@pytest.fixture
def runs(workdir: Path):
    make_store()
    return load_runs(tracking_uri())


def test_seeds_are_aggregated_per_configuration(runs) -> None:
    """Default grouping: one row per (method, width); mean ± std over the two seeds,
    best first; failed and running runs excluded and counted."""
    rows, excluded = select(runs)
    rep = build_report(rows, by=None, metrics=None, sort=None, excluded=excluded)
    assert rep.fields == ["method.name", "projector.width"]
    assert rep.metrics == ["linear/top1", "ood/digits/top1"], "ood/*/top1 stays one level deep"
    best = rep.groups[0]
    assert best.key == ("vicreg", "1024") and best.cells["linear/top1"].mean == 96.0
    assert round(best.cells["linear/top1"].std, 4) == 1.4142 and best.cells["linear/top1"].n == 2
    assert excluded == {"failed": 1, "running": 1}
    assert rep.baselines[0].key == ("raw pixels (mnist5k)",)
    assert select(runs, include_all=True)[1] == {}


def test_formats_carry_the_numbers(runs) -> None:
    """Markdown, CSV, LaTeX, HTML and JSON all contain the aggregated values."""
    rows, excluded = select(runs, filters=["method.name=vicreg"])
    rep = build_report(
        rows, by=["projector.width"], metrics=["linear/top1"], sort=None, excluded=excluded
    )
    md = render(rep, "markdown")
    assert "| 1024 | 96.00 ± 1.41 | 2 |" in md and "linear/*: linear probe" in md
    table = list(csv.reader(io.StringIO(render(rep, "csv"))))
    assert table[0] == ["projector.width", "linear/top1", "n"] and table[1][1] == "96.00±1.41"
    tex = render(rep, "latex")
    assert r"\toprule" in tex and r"\bottomrule" in tex and r"96.00 $\pm$ 1.41" in tex
    assert "linear/top1" in tex and tex.count("{") == tex.count("}")
    assert "<td>96.00 ± 1.41</td>" in render(rep, "html")
    data = json.loads(render(rep, "json"))
    assert data["groups"][0]["metrics"]["linear/top1"] == pytest.approx(
        {"mean": 96.0, "std": 2**0.5, "n": 2}
    )


def test_latex_escapes_underscores(runs) -> None:
    """Field names with underscores are escaped so the table compiles."""
    rows, excluded = select(runs)
    rep = build_report(
        rows, by=["data.name"], metrics=["ood/digits/top1"], sort=None, excluded=excluded
    )
    tex = render(rep, "latex")
    assert "ood/digits/top1" in tex and "\\_" not in "data.name" and "mnist5k" in tex


def test_pivot_is_method_by_width(runs) -> None:
    """--pivot method.name projector.width linear/top1: a 2 x 2 table of means."""
    rows, _ = select(runs)
    row_values, col_values, cells = pivot(rows, "method.name", "projector.width", "linear/top1")
    assert row_values == ["barlow", "vicreg"] and col_values == ["256", "1024"]
    assert cells[("barlow", "256")].mean == 88.0
    md = render_pivot(
        row_values, col_values, cells, "method.name", "projector.width", "linear/top1", "markdown"
    )
    assert "| vicreg | 91.00 ± 1.41 | 96.00 ± 1.41 |" in md


def test_glob_stays_within_a_segment() -> None:
    """`*` does not cross '/', `**` does."""
    assert glob_match("ood/digits/top1", "ood/*/top1")
    assert not glob_match("ood/m-c/noise/top1", "ood/*/top1")
    assert glob_match("ood/m-c/noise/top1", "ood/**/top1")


def test_cli_plot_and_bad_input(workdir: Path) -> None:
    """The CLI writes a non-empty PNG; bad options exit 2 with a message."""
    make_store()
    ok = run_sslctl(
        workdir,
        "report",
        "--plot",
        "x=projector.width y=linear/top1 hue=method.name",
        "--format",
        "markdown",
        timeout=120,
    )
    assert ok.returncode == 0, ok.stderr
    png = workdir / "linear_top1_vs_projector.width.png"
    assert png.stat().st_size > 1000 and png.read_bytes()[:4] == b"\x89PNG"
    for args, fragment in (
        (["--format", "xml"], "--format"),
        (["--filter", "oops"], "--filter"),
        (["--metrics", "nope/*"], "--metrics"),
        (["--pivot", "method.name", "nosuch", "linear/top1"], "nosuch"),
    ):
        bad = run_sslctl(workdir, "report", *args, timeout=60)
        assert bad.returncode == 2 and fragment in bad.stderr, (args, bad.stderr)
