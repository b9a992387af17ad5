"""Selecting, grouping and aggregating runs of a real MLflow store (see store.py)."""

from __future__ import annotations

import math

import pytest

from sslctl.errors import SslctlError
from sslctl.paths import sqlite_path
from sslctl.report.aggregate import build_report, glob_match, pivot
from sslctl.report.query import RunRow, load_runs, read_client, read_sqlite
from sslctl.report.select import select
from tests.report.store import HSIC, KNN_PROTOCOL, LINEAR_PROTOCOL, OOD_PROTOCOL


def quickstart(runs: list[RunRow], **kwargs: object) -> list[RunRow]:
    return select(runs, experiment="quickstart", **kwargs)[0]


def row(report, *key: str):
    return next(g for g in report.groups if g.key == key)


def test_seeds_aggregate_to_mean_std_n(runs: list[RunRow]) -> None:
    """Default grouping is method.name plus the recipe fields that vary (the seed is
    aggregated over): one row per configuration with mean, sample std and n, best first."""
    rep = build_report(quickstart(runs))
    assert rep.fields == ["method.name", "projector.width"]
    assert [g.key for g in rep.groups] == [
        ("vicreg", "1024"),
        ("barlow", "1024"),
        ("vicreg", "256"),
        ("barlow", "256"),
    ]
    cell = rep.groups[0].cells["linear/top1"]
    assert (cell.mean, cell.n) == (96.0, 2) and cell.std == pytest.approx(math.sqrt(2))
    assert row(rep, "barlow", "256").cells["linear/top1"].std == 0.0
    assert all(g.n == 2 for g in rep.groups)


def test_metric_present_in_some_seeds_has_its_own_n(runs: list[RunRow]) -> None:
    """knn/top1 was logged by seed 0 only: its cell has n=1 (and no std) in a 2-run row."""
    cell = build_report(quickstart(runs)).groups[0].cells["knn/top1"]
    assert (cell.mean, cell.n) == (94.0, 1) and math.isnan(cell.std)


def test_method_hyperparameter_is_not_a_column_when_constant_per_method(
    runs: list[RunRow],
) -> None:
    """method.sim_coeff exists for vicreg only and is constant there: not a grouping field."""
    assert "method.sim_coeff" not in build_report(quickstart(runs)).fields


def test_fields_varying_together_collapse_into_one_column(runs: list[RunRow]) -> None:
    """Across experiments, fields whose values determine each other give one column; the
    others are named in a note instead of widening the table."""
    rep = build_report(select(runs)[0])
    assert "experiment" in rep.fields or any("experiment" in v for v in rep.together.values())
    shown = set(rep.fields)
    for kept, implied in rep.together.items():
        assert kept in shown and not shown & set(implied)


def test_unfinished_runs_are_left_out_and_counted(runs: list[RunRow]) -> None:
    """Failed, running and interrupted runs are excluded by default and counted per status;
    --all keeps them, each status in its own row."""
    rows, excluded = select(runs, experiment="quickstart")
    assert len(rows) == 8 and excluded == {"failed": 1, "interrupted": 1, "running": 1}
    everything, none = select(runs, experiment="quickstart", include_all=True)
    assert len(everything) == 11 and none == {}
    rep = build_report(everything)
    assert rep.fields[-1] == "status" and rep.included == {
        "failed": 1,
        "interrupted": 1,
        "running": 1,
    }
    assert {g.key[-1] for g in rep.groups} == {"complete", "failed", "interrupted", "running"}


def test_group_by_any_field_with_alias(runs: list[RunRow]) -> None:
    """--by method (short for method.name) pools both widths: 4 runs per method."""
    rep = build_report(quickstart(runs), by=["method"])
    assert rep.fields == ["method.name"]
    vicreg = row(rep, "vicreg").cells["linear/top1"]
    assert vicreg.mean == 93.5 and vicreg.n == 4
    with pytest.raises(SslctlError, match="projector.width"):
        build_report(quickstart(runs), by=["projector.widht"])


@pytest.mark.parametrize(
    ("conditions", "expected"),
    [
        (["method.name=vicreg"], 4),
        (["method=vicreg"], 4),
        (["method.name!=vicreg"], 4),
        (["method.name=vicreg,barlow"], 8),
        (["projector.width>=1024"], 4),
        (["projector.width<1024", "method.name=barlow"], 2),
        (["optim.lr=2e-3"], 8),
        (["linear/top1>94"], 3),
        (["tags.sslctl.seed=1"], 4),
    ],
)
def test_filters(runs: list[RunRow], conditions: list[str], expected: int) -> None:
    """=, != (comma alternatives), numeric <, >= and equality (0.002 == 2e-3), on recipe
    fields, metrics and tags."""
    assert len(quickstart(runs, filters=conditions)) == expected


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"filters": ["oops"]}, "--filter"),
        ({"filters": ["projector.width>big"]}, "number"),
        ({"filters": ["methd.name=vicreg"]}, "method.name"),
        ({"experiment": "nosuch"}, "quickstart"),
        ({"sweep": "nosuch"}, "width"),
    ],
)
def test_bad_selection_is_a_clear_error(
    runs: list[RunRow], kwargs: dict[str, object], fragment: str
) -> None:
    """Bad filter syntax, unknown fields, experiments or sweeps: SslctlError naming the fix."""
    with pytest.raises(SslctlError, match=fragment):
        select(runs, **kwargs)


def test_metric_globs(runs: list[RunRow]) -> None:
    """`*` stays within one / segment, `**` crosses; a glob matching nothing is an error."""
    rows = quickstart(runs)
    assert build_report(rows, metrics=["ood/*/top1"]).metrics == [
        "ood/digits/top1",
        "ood/mnist5k-c/top1",
    ]
    deep = build_report(rows, metrics=["ood/mnist5k-c/**"]).metrics
    assert "ood/mnist5k-c/noise/5/top1" in deep and "ood/mnist5k-c/noise/top1" in deep
    assert not any(m.startswith("baseline/") for m in build_report(rows, metrics=["**"]).metrics)
    assert glob_match("ood/digits/top1", "ood/*/top1")
    assert not glob_match("ood/m-c/noise/top1", "ood/*/top1")
    with pytest.raises(SslctlError, match="--metrics"):
        build_report(rows, metrics=["nope/*"])


def test_sort(runs: list[RunRow]) -> None:
    """Metrics sort best first (HSIC: lowest first), :asc/:desc override, a field sorts
    ascending in numeric order; an unknown name is an error."""
    rows = quickstart(runs)
    first = build_report(rows, sort="linear/top1:asc").groups[0]
    assert first.key == ("barlow", "256")
    hsic = build_report(rows, metrics=["indep/hsic"], sort="indep/hsic").groups
    assert hsic[0].cells["indep/hsic"].mean == pytest.approx(HSIC[1024] * 1.5)
    widths = [g.key[1] for g in build_report(rows, sort="projector.width").groups]
    assert widths == ["256", "256", "1024", "1024"]
    with pytest.raises(SslctlError, match="--sort"):
        build_report(rows, sort="nosuch")


def test_protocol_per_column(runs: list[RunRow]) -> None:
    """Each metric column carries the protocol it was measured with: from the run's
    sslctl.protocol.* tags, or from the recipe fields for diagnostics."""
    rep = build_report(
        quickstart(runs), metrics=["linear/top1", "knn/top1", "ood/*/top1", "indep/*"]
    )
    assert rep.protocols["linear/top1"] == LINEAR_PROTOCOL
    assert rep.protocols["knn/top1"] == KNN_PROTOCOL
    assert rep.protocols["ood/digits/top1"] == OOD_PROTOCOL
    assert "128 random feature pairs" in rep.protocols["indep/hsic"]


def test_probe_protocol_from_its_tag_or_from_older_runs_params() -> None:
    """probe/top1 is described by the run's sslctl.protocol.probe tag; runs logged before
    that tag existed probed with kNN and are described from eval.probe.k."""
    from sslctl.report.protocols import protocol_of

    probed = {"probe/top1": 90.0}
    tags = {"sslctl.protocol.probe": "linear probe X"}
    tagged = RunRow("a", "e", "FINISHED", tags=tags, metrics=probed)
    older = RunRow("b", "e", "FINISHED", params={"eval.probe.k": "5"}, metrics=probed)
    assert protocol_of("probe/top1", [tagged]).startswith("linear probe X")
    assert "kNN probe of the backbone during pretraining (k=5)" in protocol_of(
        "probe/top1", [older]
    )


def test_baselines_for_the_same_data(runs: list[RunRow]) -> None:
    """Raw-pixel and random-init rows for the report's dataset, from baseline/* metrics."""
    rep = build_report(quickstart(runs), metrics=["linear/top1", "ood/digits/top1"])
    raw, rand = rep.baselines
    assert raw.key == ("raw pixels (mnist5k)",) and rand.key == ("random init (mnist5k)",)
    assert raw.cells["linear/top1"].mean == pytest.approx(90.8)
    assert raw.cells["ood/digits/top1"].mean == pytest.approx(64.5)
    assert rand.cells["ood/digits/top1"].n == 0


def test_pivot_method_by_width(runs: list[RunRow]) -> None:
    """--pivot method projector.width linear/top1: rows x columns of mean ± std cells, in
    numeric column order; an unlogged metric is an error."""
    p = pivot(quickstart(runs), "method", "projector.width", "linear/top1")
    assert (p.rows, p.cols) == (["barlow", "vicreg"], ["256", "1024"])
    assert p.cells[("vicreg", "1024")].mean == 96.0 and p.cells[("barlow", "256")].n == 2
    assert p.protocol == LINEAR_PROTOCOL
    with pytest.raises(SslctlError, match="nosuch"):
        pivot(quickstart(runs), "method", "projector.width", "nosuch/top1")


def test_sweep_selects_trials_and_counts_pruned(runs: list[RunRow]) -> None:
    """--sweep keeps the sweep's child runs (not the parent), prunes counted."""
    rows, excluded = select(runs, sweep="width")
    assert len(rows) == 6 and excluded == {"pruned": 1}
    assert all(r.tags.get("mlflow.parentRunId") for r in rows)


def test_sqlite_reader_matches_mlflow_client(store: tuple[object, str]) -> None:
    """The direct SQL read of the sqlite store gives the same runs, params, tags and
    latest metrics as MLflow's client (NaN metrics stay NaN)."""
    uri = store[1]
    fast = {r.run_id: r for r in read_sqlite(sqlite_path(uri)).runs}
    slow = {r.run_id: r for r in read_client(uri, page_size=4).runs}
    assert fast.keys() == slow.keys() and len(fast) == 20
    for run_id, r in slow.items():
        f = fast[run_id]
        assert (f.experiment, f.status, f.params, f.tags) == (
            r.experiment,
            r.status,
            r.params,
            r.tags,
        )
        assert f.metrics.keys() == r.metrics.keys()
        for key, value in r.metrics.items():
            assert f.metrics[key] == value or (math.isnan(value) and math.isnan(f.metrics[key]))
    assert any(math.isnan(v) for r in fast.values() for v in r.metrics.values())


def test_only_the_chosen_metrics_are_read(store: tuple[object, str]) -> None:
    """A metric chooser limits what is read (both paths alike) while the store's full
    list of metric names stays known for messages; it sees the runs' params and tags."""
    seen: list[int] = []

    def choose(every_run: list[RunRow]):
        seen.append(len(every_run))
        return lambda key: key == "linear/top1"

    for read in (
        load_runs(store[1], choose),
        read_client(store[1], choose=choose),
    ):
        assert {k for r in read.runs for k in r.metrics} == {"linear/top1"}
        assert "ood/mnist5k-c/noise/5/top1" in read.metric_names
    assert seen == [20, 20]
