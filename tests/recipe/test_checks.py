"""Checks beyond the schema's types (sslctl.recipe.checks): the size estimate against
the real model, and plain-value refusals naming the field."""

from __future__ import annotations

import pytest

from sslctl.errors import RecipeError
from sslctl.recipe import load_recipe
from sslctl.recipe.checks import check_plain, model_size
from tests.conftest import RECIPES


@pytest.mark.parametrize(
    "sets",
    [
        [],
        ["model.width=8", "projector.depth=2"],
        ["projector.depth=0"],
        ["model.backbone=resnet18", "projector.width=512"],
        ["model.backbone=resnet50", "projector.depth=1"],
    ],
)
def test_parameter_estimate_matches_the_built_model(sets: list[str]) -> None:
    """The estimate used to refuse absurd sizes is within 1% of the model's real count."""
    from sslctl.train import build_model

    recipe = load_recipe(RECIPES / "vicreg.yaml", sets)
    real = sum(p.numel() for p in build_model(recipe, 1).parameters())
    estimate, nbytes = model_size(recipe, in_channels=1)
    assert abs(estimate - real) <= 0.01 * real
    assert nbytes > 4 * 4 * estimate  # weights, gradients, two moments, activations


def test_absurd_sizes_are_refused_with_the_estimate() -> None:
    """`model.width: 100000` is refused at validation, with the parameter count."""
    with pytest.raises(RecipeError) as info:
        load_recipe(RECIPES / "vicreg.yaml", ["model.width=100000"])
    assert "billion parameters" in str(info.value) and "GiB" in str(info.value)


def test_plain_checks_name_the_field() -> None:
    """Control characters (in keys and values), huge integers and long text are refused
    with the dotted path of the field."""
    with pytest.raises(RecipeError) as info:
        check_plain(
            {
                "experiment": "a\nb",
                "eval": {"x\x1b": 1},
                "seed": 2**40,
                "data": {"root": "r" * 5000},
            },
            "r.yaml",
        )
    text = str(info.value)
    for fragment in ("experiment: got 'a\\nb'", "eval: key 'x\\x1b'", "seed: got", "data.root"):
        assert fragment in text, fragment
