"""Sweep guards (sslctl.sweep.objective, spec): the objective is checked against the
metric names the recipe logs, and a sweep whose every trial failed exits non-zero."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from sslctl.recipe import load_recipe
from sslctl.sweep.objective import check_objective, headline_metrics
from tests.conftest import RECIPES
from tests.sweep.test_sweep import TINY, write_sweep


def test_objective_names_follow_the_recipe() -> None:
    """The names a recipe logs depend on its evaluations: OOD sets, kNN, projector."""
    recipe = load_recipe(RECIPES / "vicreg.yaml", ["eval.linear.on=[backbone, projector]"])
    names = headline_metrics(recipe)
    assert {"linear/top1", "knn/top1", "ood/digits/top1", "projector/linear/top1"} <= set(names)
    assert check_objective("ood/mnist5k-c/top1", recipe) is None
    assert check_objective("ood/mnist5k-c/gaussian_noise/top1", recipe) is None
    assert check_objective("indep/hsic", recipe) is None
    problem = check_objective("linaer/top1", recipe)
    assert problem is not None and "did you mean 'linear/top1'" in problem
    off = load_recipe(RECIPES / "vicreg.yaml", ["eval.knn.enabled=false"])
    assert check_objective("knn/top1", off) is not None


@pytest.mark.slow
def test_a_sweep_whose_every_trial_failed_exits_1(workdir: Path) -> None:
    """Every point fails (a batch larger than the training set, found in preflight): the
    leaderboard shows the reasons and the command exits 1, not 0."""
    from sslctl.cli import app

    path = write_sweep(
        workdir / "fails.yaml", "  projector.width: [16, 32]", sets=[*TINY, "optim.batch_size=8000"]
    )
    result = CliRunner().invoke(app, ["sweep", str(path)], env={"COLUMNS": "300"})
    assert result.exit_code == 1, result.output
    assert "every trial failed" in result.output and "optim.batch_size" in result.output
