"""The training-health check: collapse, a flat loss and a probe at chance are flagged with
their reason; a run that trained is ``ok``; criteria without their input are skipped."""

from __future__ import annotations

from pathlib import Path

import pytest

from sslctl.evals.health import FLAG, OK, check_training, loss_drop
from sslctl.vocabulary import Tag
from tests.conftest import RECIPES, TINY

TRAINED = {"spectrum/rankme": 14.0, "spectrum/projector/rankme": 40.0, "linear/top1": 95.0}


def test_a_run_that_trained_is_ok() -> None:
    health = check_training([22.0, 20.0, 18.5], TRAINED, num_classes=10)
    assert health.trained and health.tag == OK


def test_collapsed_embedding_is_flagged_from_the_projector_rankme() -> None:
    """The embedding the loss sees decides collapse, even if the backbone kept rank."""
    health = check_training([5.0, 0.1], {**TRAINED, "spectrum/projector/rankme": 1.01}, 10)
    assert not health.trained
    assert health.tag.startswith(f"{FLAG}: collapsed") and "1.01" in health.tag


def test_without_projector_the_backbone_rankme_counts() -> None:
    health = check_training([5.0, 1.0], {"spectrum/rankme": 1.5, "linear/top1": 90.0}, 10)
    assert "collapsed" in health.tag


def test_flat_loss_is_flagged_with_its_numbers() -> None:
    """The widest point of the shipped width sweep before the fix: 22.18 -> 21.98."""
    health = check_training([22.18, 22.1, 21.98], TRAINED, num_classes=10)
    assert not health.trained
    assert "loss not decreasing" in health.tag and "22.18 -> 21.98" in health.tag


def test_probe_at_chance_is_flagged() -> None:
    health = check_training([3.0, 1.0], {**TRAINED, "linear/top1": 11.0}, num_classes=10)
    assert health.reasons == ("probe at chance (linear top-1 11.0% vs chance 10.0%)",)


def test_every_failed_criterion_is_a_reason_and_missing_inputs_are_skipped() -> None:
    bad = {"spectrum/projector/rankme": 1.0, "linear/top1": 10.0}
    assert len(check_training([2.0, 2.0], bad, 10).reasons) == 3
    assert check_training([2.0], {}, 10).trained  # one epoch, nothing logged: no verdict


def test_loss_drop_is_relative_to_the_first_epoch() -> None:
    assert loss_drop([-2.0, -3.0]) == 0.5  # a negative loss that falls
    assert loss_drop([10.0, 9.0]) == 0.1 and loss_drop([1.0]) is None


@pytest.mark.slow
def test_a_recipe_made_to_collapse_is_flagged_at_the_end_of_its_run(workdir: Path) -> None:
    """VICReg with its variance and covariance coefficients at 0 (invariance only) is
    the collapse the paper's variance term prevents; the pipeline tags the run
    ``not trained`` with the reason (measured: the linear probe falls to ~12%, the
    projector output shrinks to std ~0.03 per dimension), and a normal tiny run is
    not flagged for collapse or chance."""
    from sslctl.pipeline import run_pipeline
    from sslctl.recipe import load_recipe

    quick = [*TINY, "eval.ood.datasets=[digits]", "eval.baselines=false"]
    collapse = load_recipe(
        RECIPES / "vicreg.yaml", [*quick, "method.std_coeff=0", "method.cov_coeff=0"]
    )
    said: list[str] = []
    result = run_pipeline(collapse, source="collapse", say=said.append)
    tag = result.tags[Tag.HEALTH]
    assert tag.startswith(f"{FLAG}: ") and "probe at chance" in tag
    assert any(tag in line for line in said)
    healthy = run_pipeline(load_recipe(RECIPES / "vicreg.yaml", quick), source="tiny")
    tag = healthy.tags[Tag.HEALTH]
    assert "collapsed" not in tag and "chance" not in tag
