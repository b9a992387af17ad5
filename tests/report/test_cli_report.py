"""`sslctl report` on the command line: outputs, files, plots and exit code 2 on bad input."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sslctl.cli import app
from sslctl.report.plot import PlotSpec, plot
from sslctl.report.query import RunRow
from sslctl.report.select import select
from tests.conftest import run_sslctl


@pytest.fixture
def here(store: tuple[Path, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh working directory whose mlflow.db is a copy of the shared store."""
    shutil.copy(store[0] / "mlflow.db", tmp_path / "mlflow.db")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    return tmp_path


def invoke(*args: str):
    return CliRunner().invoke(app, ["report", *args])


def is_png(path: Path) -> bool:
    return (
        path.is_file()
        and path.stat().st_size > 2000
        and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    )


def test_end_to_end_in_a_fresh_process(here: Path) -> None:
    """`sslctl report --format markdown` prints the table with the footer; exit 0."""
    done = run_sslctl(here, "report", "--experiment", "quickstart", "--format", "markdown")
    assert done.returncode == 0, done.stderr
    assert "| vicreg | 1024 | 96.00 ± 1.41 |" in done.stdout
    assert "left out: 1 failed, 1 interrupted, 1 running run(s)" in done.stdout


def test_default_table_shows_every_column(here: Path) -> None:
    """With no arguments: a terminal table of every experiment, best first, no column lost
    on an 80-column terminal."""
    result = invoke()
    assert result.exit_code == 0, result.output
    assert "96.00 ± 1.41" in result.output and "50.00" in result.output
    assert "left out: 1 failed, 1 interrupted, 1 pruned, 1 running" in " ".join(
        result.output.split()
    )


def test_out_writes_the_file(here: Path) -> None:
    """--out FILE writes the report there (any format, the table as plain text)."""
    for kind, name in (("latex", "t.tex"), ("csv", "sub/t.csv"), ("table", "t.txt")):
        result = invoke("--experiment", "quickstart", "--format", kind, "--out", name)
        assert result.exit_code == 0, result.output
        assert "96.00" in (here / name).read_text() or "96.0" in (here / name).read_text()


def test_plot_writes_a_png(here: Path) -> None:
    """--plot x=.. y=.. hue=.. writes a non-empty PNG with error bars (std over seeds)."""
    result = invoke(
        "--experiment", "quickstart", "--plot", "x=projector.width y=linear/top1 hue=method"
    )
    assert result.exit_code == 0, result.output
    assert is_png(here / "linear_top1_vs_projector.width_by_method.name.png")
    result = invoke("--plot", "x=method y=ood/digits/top1 out=figs/ood.png")
    assert result.exit_code == 0 and is_png(here / "figs" / "ood.png")


def test_sweep_report_plots_objective_per_swept_field(here: Path) -> None:
    """--sweep: the trials only, the objective (from the parent run) first and sorted on,
    and one PNG of the objective against each swept field."""
    result = invoke("--sweep", "width", "--format", "markdown")
    assert result.exit_code == 0, result.output
    lines = [ln for ln in result.output.splitlines() if ln.startswith("| vicreg")]
    assert lines[0] == "| vicreg | 1024 | 86.00 ± 0.00 | 91.00 ± 0.00 | 2 |"
    assert "left out: 1 pruned" in result.output
    assert is_png(here / "width_projector.width.png")


def test_plot_of_categorical_and_numeric_x(runs: list[RunRow], tmp_path: Path) -> None:
    """Text x values become categories; wide numeric ranges get a log axis; both write."""
    rows = select(runs, experiment="quickstart")[0]
    assert is_png(plot(rows, PlotSpec("method.name", "linear/top1"), tmp_path / "a.png"))
    spec = PlotSpec("projector.width", "linear/top1", "method.name")
    assert is_png(plot(rows, spec, tmp_path / "b.png"))


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--format", "xml"], "--format"),
        (["--filter", "oops"], "--filter"),
        (["--filter", "nosuch.field=1"], "nosuch.field"),
        (["--metrics", "nope/*"], "--metrics"),
        (["--by", "projector.widht"], "projector.width"),
        (["--sort", "nosuch"], "--sort"),
        (["--sort", "linear/top1:up"], "--sort"),
        (["--pivot", "method", "nosuch", "linear/top1"], "nosuch"),
        (["--pivot", "method", "projector.width", "x/top1"], "x/top1"),
        (["--pivot", "method", "projector.width", "linear/top1", "--by", "seed"], "--pivot"),
        (["--plot", "x=projector.width"], "--plot"),
        (["--plot", "x=projector.width y=nope"], "nope"),
        (["--experiment", "nosuch"], "--experiment"),
        (["--sweep", "nosuch"], "--sweep"),
    ],
)
def test_bad_options_exit_2(here: Path, args: list[str], fragment: str) -> None:
    """Bad input: exit code 2 and a message naming the option or the unknown name; no
    traceback."""
    result = invoke(*args)
    assert result.exit_code == 2, result.output
    assert fragment in result.output and "Traceback" not in result.output


def test_missing_store_exits_2(tmp_path: Path) -> None:
    """No store where MLFLOW_TRACKING_URI points: exit 2 saying what to do."""
    done = run_sslctl(tmp_path, "report")
    assert done.returncode == 2 and "no MLflow store" in done.stderr


def test_empty_store_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A store with no pipeline run: exit 0 and a sentence instead of an empty table."""
    from sslctl.tracking import Tracker

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    Tracker(uri).experiment_id("quickstart")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    result = invoke()
    assert result.exit_code == 0 and "no pipeline run matches" in result.output
