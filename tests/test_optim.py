"""Optimisers and the warm-up + cosine schedule."""

from __future__ import annotations

import itertools

import torch

from sslctl.optim import LARS, base_lr, build_optimizer, lr_at
from sslctl.recipe.schema import OptimConfig


def test_schedule_warms_up_linearly_then_decays_to_zero() -> None:
    """lr rises linearly over the warm-up steps to the peak, then follows a cosine to 0."""
    peak, total, warm = 1.0, 100, 10
    lrs = [lr_at(s, total, warm, peak) for s in range(total)]
    assert lrs[0] == 0.1 and lrs[9] == 1.0
    assert all(a >= b for a, b in itertools.pairwise(lrs[10:]))
    assert lr_at(total, total, warm, peak) == 0.0


def test_scale_lr_uses_the_papers_rule() -> None:
    """scale_lr: lr * batch_size / 256 (e.g. INTL's 0.3 * bs / 256)."""
    assert base_lr(OptimConfig(lr=0.3, batch_size=512, scale_lr=True)) == 0.6
    assert base_lr(OptimConfig(lr=0.3, batch_size=512)) == 0.3


def test_lars_skips_trust_ratio_and_decay_for_1d_parameters() -> None:
    """LARS: biases/BN (1-d) take plain momentum SGD steps; matrices are trust-scaled."""
    w = torch.nn.Parameter(torch.ones(2, 2))
    b = torch.nn.Parameter(torch.ones(2))
    opt = LARS([w, b], lr=1.0, weight_decay=0.0, momentum=0.0, eta=0.001)
    w.grad, b.grad = torch.full((2, 2), 10.0), torch.full((2,), 10.0)
    opt.step()
    assert torch.allclose(b, torch.full((2,), -9.0))
    # trust ratio = eta * ||w|| / ||g|| = 0.001 * 2 / 20 -> step = 1e-4 * 10
    assert torch.allclose(w, torch.full((2, 2), 1 - 1e-3))


def test_build_optimizer_names() -> None:
    """Each optimiser name in the schema builds the matching torch optimiser."""
    model = torch.nn.Linear(3, 2)
    kinds = {
        "adamw": torch.optim.AdamW,
        "adam": torch.optim.Adam,
        "sgd": torch.optim.SGD,
        "lars": LARS,
    }
    for name, cls in kinds.items():
        assert isinstance(build_optimizer(OptimConfig(name=name), model), cls)


def test_projector_lr_scale_scales_only_the_projector_group() -> None:
    """projector.lr_scale (the per-width rule of the width sweeps) multiplies the
    projector's learning rate, initially and along the schedule; the backbone keeps it."""
    from sslctl.recipe import load_recipe
    from sslctl.train import build_model
    from tests.conftest import RECIPES, TINY

    recipe = load_recipe(RECIPES / "vicreg.yaml", [*TINY, "projector.lr_scale=0.25"])
    model = build_model(recipe, in_channels=1)
    opt = build_optimizer(recipe.optim, model, recipe.projector.lr_scale)
    backbone, projector = opt.param_groups
    assert {id(p) for p in projector["params"]} == {id(p) for p in model.projector.parameters()}
    assert backbone["lr"] == recipe.optim.lr and projector["lr"] == 0.25 * recipe.optim.lr
    assert [g["lr_scale"] for g in opt.param_groups] == [1.0, 0.25]
