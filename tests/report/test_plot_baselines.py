"""Plots carry the baselines as lines and the real n: '± std' only where a point has two
runs or more."""

from __future__ import annotations

from sslctl.report.plot import PlotSpec, figure
from sslctl.report.query import RunRow


def run(run_id: str, width: int, top1: float, seed: int = 0) -> RunRow:
    metrics = {
        "linear/top1": top1,
        "baseline/raw/linear/top1": 90.0,
        "baseline/random/linear/top1": 60.0,
    }
    params = {"projector.width": str(width), "seed": str(seed), "data.name": "mnist5k"}
    return RunRow(run_id, "e", "FINISHED", params=params, metrics=metrics)


def legend_and_label(rows: list[RunRow]) -> tuple[list[str], str]:
    import matplotlib.pyplot as plt

    fig = figure(rows, PlotSpec("projector.width", "linear/top1"))
    ax = fig.axes[0]
    texts = [t.get_text() for t in ax.get_legend().get_texts()]
    label = ax.get_ylabel()
    plt.close(fig)
    return texts, label


def test_one_run_per_point_says_so_and_draws_the_baselines() -> None:
    texts, label = legend_and_label([run("a", 64, 95.0), run("b", 256, 96.0)])
    assert label == "linear/top1 (one run per point)"
    assert sorted(texts) == ["linear/top1 (n=1)", "random init (60.0)", "raw pixels (90.0)"]


def test_several_seeds_give_mean_and_std_with_their_n() -> None:
    rows = [run("a", 64, 95.0), run("b", 64, 97.0, seed=1), run("c", 256, 96.0)]
    texts, label = legend_and_label(rows)
    assert label == "linear/top1 (mean ± std over runs)"
    assert "linear/top1 (n=1-2)" in texts
