"""A sweep's report: baselines counted once per distinct data, evaluation and seed setting;
runs that did not train (the ``sslctl.health`` tag) in rows of their own, with the reason,
and as red crosses outside the plotted lines; linked fields shown as the swept one."""

from __future__ import annotations

from pathlib import Path

import pytest

from sslctl.report.aggregate import build_report
from sslctl.report.main import ReportOptions, make_report
from sslctl.report.query import load_runs
from sslctl.report.select import select
from sslctl.tracking import Tracker
from tests.report.store import add_run

FLAT = "not trained: loss not decreasing (22.18 -> 21.98 over 10 epochs, 0.9% < 5%)"


def _sweep_store(folder: Path, seeds: tuple[int, ...]) -> str:
    """Sweep ``w``: widths 64..4096 (out_dim linked) x ``seeds``; 4096 seed 0 did not
    train. Each run logs the same deterministic baselines for its seed."""
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    tracker = Tracker(uri)
    exp = tracker.experiment_id("sweeps")
    parent = tracker.create(exp, "sweep-w", {"sslctl.sweep": "w", "sslctl.sweep_parent": "1"})
    params = {"objective": "linear/top1", "direction": "maximize", "space": ["projector.width"]}
    tracker.log_params(parent, params)
    for width in (64, 256, 1024, 4096):
        for seed in seeds:
            bad = width == 4096 and seed == 0
            tags = {"sslctl.sweep": "w", "sslctl.health": FLAT if bad else "ok"}
            recipe = {
                "method.name": "vicreg",
                "projector.width": width,
                "projector.out_dim": width,
                "projector.lr_scale": min(1.0, 1024 / width),
                "seed": seed,
                "eval.linear.epochs": 50,
            }
            metrics = {
                "linear/top1": 56.0 if bad else 90.0 + width / 1024,
                "baseline/raw/linear/top1": 90.9 + seed,
                "baseline/random/linear/top1": 80.0 - seed,
            }
            add_run(tracker, "sweeps", recipe, metrics, tags=tags)
    return uri


def test_baselines_count_once_per_setting_not_once_per_run(tmp_path: Path) -> None:
    """4 widths x 1 seed: the raw-pixel baseline is one number (n=1, no spread), not
    ``90.90 ± 0.00, n=4``; with 3 seeds it is 3 distinct settings (n=3)."""
    rows, _ = select(load_runs(_sweep_store(tmp_path, (0,))).runs, sweep="w")
    raw, rand = build_report(rows, metrics=["linear/top1"]).baselines
    assert (raw.n, raw.cells["linear/top1"].n) == (1, 1)
    assert raw.cells["linear/top1"].mean == pytest.approx(90.9) and rand.n == 1
    three = tmp_path / "three"
    three.mkdir()
    rows, _ = select(load_runs(_sweep_store(three, (0, 1, 2))).runs, sweep="w")
    raw, _ = build_report(rows, metrics=["linear/top1"]).baselines
    assert raw.n == 3 and raw.cells["linear/top1"].mean == pytest.approx(91.9)


def test_runs_that_did_not_train_get_their_own_row_and_reason(tmp_path: Path) -> None:
    """The flagged 4096 seed never enters the 4096 mean: a ``health`` column splits it
    into a row of its own and a note gives the reason; the swept width is the row
    field, the linked out_dim is noted, not a column, and only the swept width is
    plotted (not the per-width lr_scale that goes with it)."""
    uri = _sweep_store(tmp_path, (0, 1))
    out = make_report(ReportOptions(sweep="w", format="markdown", plot_dir=tmp_path), uri)
    sheet = out.sheet
    assert sheet.keys == ["method.name", "projector.width", "projector.lr_scale", "health"]
    lines = {(ln.key[1], ln.key[3]): ln for ln in sheet.sections["runs"]}
    assert lines[("4096", "ok")].cells[0].mean == pytest.approx(94.0)
    assert lines[("4096", "ok")].n == 1 and lines[("4096", "not trained")].n == 1
    assert lines[("64", "ok")].n == 2
    assert any(
        n.startswith("not trained (health): method.name=vicreg, projector.width=4096")
        and "loss not decreasing (22.18 -> 21.98" in n
        for n in sheet.notes
    )
    assert any("projector.out_dim: vary together with projector.width" in n for n in sheet.notes)
    assert [p.name for p in out.plots] == ["w_projector.width.png"]


def test_flagged_runs_are_crosses_not_points_of_the_line(tmp_path: Path) -> None:
    """The plotted line's 4096 point is the mean of the runs that trained (94.0), and the
    flagged run is drawn apart, labelled as not trained."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    from sslctl.report import plot as plot_module

    uri = _sweep_store(tmp_path, (0, 1))
    rows, _ = select(load_runs(uri).runs, sweep="w")
    captured = {}
    original = plt.Figure.savefig

    def keep(fig, *args, **kwargs):
        ax = fig.axes[0]
        captured["line"] = ax.lines[0].get_ydata().tolist()
        captured["legend"] = [t.get_text() for t in ax.get_legend().get_texts()]
        captured["crosses"] = [c.get_offsets().tolist() for c in ax.collections if c.get_label()]
        return original(fig, *args, **kwargs)

    spec = plot_module.PlotSpec("projector.width", "linear/top1")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(plt.Figure, "savefig", keep)
        plot_module.plot(rows, spec, tmp_path / "p.png")
    assert captured["line"][-1] == pytest.approx(94.0)
    assert "not trained (see report)" in captured["legend"]
    assert [[4096.0, 56.0]] in captured["crosses"]
