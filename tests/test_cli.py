"""The command line: fast start, exit code 2 on bad input, and nothing logged for it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import RECIPES, run_sslctl


def test_help_imports_no_heavy_library() -> None:
    """`sslctl --help` must not import torch, mlflow or optuna (they cost seconds)."""
    code = (
        "import sys; from typer.testing import CliRunner; from sslctl.cli import app;"
        "r = CliRunner().invoke(app, ['--help']); assert r.exit_code == 0, r.output;"
        "heavy = {'torch', 'mlflow', 'optuna', 'submitit'} & set(sys.modules);"
        "assert not heavy, heavy"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize(
    ("recipe_text", "overrides", "fragment"),
    [
        ("extends: {base}\nprojector: {width: -1}\n", [], "projector.width"),
        ("extends: {base}\nmethod: {name: nosuch}\n", [], "method.name"),
        ("extends: {base}\ndata: {name: nosuch}\n", [], "data.name"),
        ("extends: {base}\n", ["--set", "projector.nosuch=1"], "nosuch"),
        ("extends: {base}\nprojector: {depth: 0, frozen: true}\n", [], "projector.depth"),
        ("extends: {base}\n  bad: [\n", [], "malformed YAML"),
    ],
)
def test_bad_recipe_exits_2_and_creates_no_run(
    tmp_path: Path, recipe_text: str, overrides: list[str], fragment: str
) -> None:
    """Bad input: exit code 2, a message naming the field, and no MLflow store or run."""
    path = tmp_path / "bad.yaml"
    path.write_text(recipe_text.replace("{base}", str(RECIPES / "base.yaml")))
    out = run_sslctl(tmp_path, "pretrain", str(path), *overrides, timeout=120)
    assert out.returncode == 2, out.stdout + out.stderr
    assert fragment in out.stderr
    assert "Traceback" not in out.stderr
    assert not (tmp_path / "mlflow.db").exists()
    assert not (tmp_path / ".sslctl").exists()


def test_missing_recipe_file_exits_2(tmp_path: Path) -> None:
    """A recipe path that does not exist: exit 2 and the path in the message."""
    out = run_sslctl(tmp_path, "validate", "nope.yaml", timeout=60)
    assert out.returncode == 2 and "nope.yaml" in out.stderr


def test_validate_prints_resolved_recipe(tmp_path: Path) -> None:
    """`validate` prints the resolved recipe with defaults and overrides applied."""
    out = run_sslctl(
        tmp_path, "validate", str(RECIPES / "intl.yaml"), "--set", "seed=7", timeout=60
    )
    assert out.returncode == 0, out.stderr
    assert "seed: 7" in out.stdout and "name: intl" in out.stdout and "iters: 4" in out.stdout


def test_error_messages_are_printed_verbatim(capsys) -> None:
    """Values quoted in an error (a list such as [bold], a path with [brackets]) are shown
    as written, not read as rich markup, and the exit code is 2."""
    import typer

    from sslctl.cli.common import fail
    from sslctl.errors import SslctlError

    with pytest.raises(typer.Exit) as info:
        fail(SslctlError("eval.ood.datasets: got [bold] and data/[x]/train"))
    assert info.value.exit_code == 2
    assert "got [bold] and data/[x]/train" in capsys.readouterr().err


def test_claim_names_are_never_cut_in_the_verdict_table() -> None:
    """On an 80-column terminal the verdict table keeps each claim's name whole (it is
    what `sslctl claims check NAME` takes); the other columns wrap instead."""
    from rich.console import Console

    from sslctl.cli.claims import _verdict_table

    comparison = {
        "effect": "spectrum/rankme difference st-power-0.25 - no-transformation",
        "estimate": 2.014,
        "low": -0.4821,
        "high": 4.51,
        "n": 2,
        "p": 0.0619,
        "verdict": "inconclusive",
    }
    result = {
        "name": "intl-spectral-transformation",
        "verdict": "inconclusive",
        "scale": "quick",
        "comparisons": [comparison, comparison],
    }
    console = Console(width=80, record=True)
    console.print(_verdict_table([result]))
    assert console.export_text().count("intl-spectral-transformation") == 2
