"""User values printed through rich: shown exactly as written, control characters
visible, never obeyed (sslctl.markup and the tables of sslctl.ui)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from rich.console import Console

from sslctl.markup import escape, visible
from sslctl.ui import leaderboard_table, open_runs_table, summary_table


def _render(renderable: object) -> str:
    console = Console(width=300, record=True, force_terminal=False)
    console.print(renderable)
    return console.export_text()


def test_visible_writes_control_characters_as_escapes() -> None:
    """ESC, newline and C1 characters become their Python escapes; text is unchanged."""
    assert visible("a\x1b[2Jb\nc\x9b") == "a\\x1b[2Jb\\nc\\x9b"
    assert visible("keep\nthis", keep="\n") == "keep\nthis"
    assert visible("[wip] vicreg é") == "[wip] vicreg é"


@pytest.mark.parametrize("name", ["data [/x]", "[wip] vicreg", "[bold]x[/bold]", "a\x1b[31mb"])
def test_values_print_as_written(name: str) -> None:
    """A name that rich would read as markup (or that crashes it, `[/x]`) prints as is."""
    console = Console(width=300, record=True)
    console.print(f"experiment '{escape(name)}'")
    assert console.export_text().strip() == f"experiment '{visible(name)}'"


def test_summary_table_title_with_markup() -> None:
    """`data [/x]` as experiment and a recipe path with brackets: the summary table
    prints (it used to crash after training finished) with the names intact."""
    text = _render(summary_table({"linear/top1": 90.0}, "data [/x]: [wip].yaml"))
    assert "data [/x]: [wip].yaml" in text and "90.0" in text


def test_tables_escape_user_cells() -> None:
    """Leaderboard points and reasons, run names and experiments are shown literally."""
    row = SimpleNamespace(
        trial=0,
        state="FAIL",
        point={"experiment": "[wip]"},
        value=None,
        std=None,
        runs=[],
        reason="RecipeError: got [/x]\x1b[2J",
        not_trained=[],
    )
    result = SimpleNamespace(name="s", study="s-1", rows=[row], links={"a[b]": "c"})
    text = _render(leaderboard_table(result, "linear/top1"))
    assert "[wip]" in text and "got [/x]\\x1b[2J" in text and "\x1b" not in text
    assert "linked: a[b] = c" in text
    run = SimpleNamespace(
        run_id="r1",
        experiment="[b]exp",
        name="n[/x]",
        status="RUNNING",
        stage="pretrain",
        epoch=1,
        epochs=2,
        where="local",
        resume="sslctl pretrain '[x].yaml'",
    )
    text = _render(open_runs_table([run]))
    assert "[b]exp" in text and "n[/x]" in text and "'[x].yaml'" in text


@pytest.mark.slow
def test_a_run_named_with_markup_prints_its_summary(tmp_path) -> None:
    """`experiment: data [/x]` from a recipe file with brackets in its name: the tiny
    pipeline finishes and prints its first line, summary and run line (it used to crash
    printing the summary, after training, and on every re-run)."""
    from tests.conftest import LEAN, RECIPES, run_sslctl

    path = tmp_path / "[wip] r.yaml"
    path.write_text(f"extends: {RECIPES / 'vicreg.yaml'}\nexperiment: 'data [/x]'\n")
    sets = [a for s in LEAN for a in ("--set", s)]
    for _ in range(2):  # the first run, then the re-run that recognises it
        out = run_sslctl(tmp_path, "pretrain", str(path), *sets, timeout=300)
        assert out.returncode == 0, out.stderr[-3000:]
        flat = " ".join(out.stdout.split())  # rich wraps long lines and titles
        assert "[wip] r.yaml:" in flat and "data [/x]: [wip] r.yaml" in flat, out.stdout
        assert "in experiment 'data [/x]'" in flat, out.stdout


def test_leaderboard_marks_points_that_did_not_train() -> None:
    """A point with a seed flagged by the health check shows `not trained (1/2 seeds)` and
    the reason instead of its run ids; linked paths are named under the table."""
    row = SimpleNamespace(
        trial=3,
        state="COMPLETE",
        point={"projector.width": 4096},
        value=56.1,
        std=1.0,
        runs=["a" * 32, "b" * 32],
        reason="",
        not_trained=["seed 0: loss not decreasing (22.18 -> 21.98 over 10 epochs)"],
    )
    links = {"projector.out_dim": "projector.width"}
    result = SimpleNamespace(name="w", study="w-1", rows=[row], links=links)
    text = _render(leaderboard_table(result, "ood/digits/top1"))
    assert "not trained (1/2 seeds)" in text and "22.18 -> 21.98" in text
    assert "aaaaaaaa" not in text and "linked: projector.out_dim = projector.width" in text
