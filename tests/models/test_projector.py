"""Projector geometry: depth counts linear layers, widths and options map onto modules."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from sslctl.models.projector import build_projector


def linears(module: nn.Module) -> list[nn.Linear]:
    return [m for m in module.modules() if isinstance(m, nn.Linear)]


@pytest.mark.parametrize("depth", [1, 2, 3, 5])
def test_depth_is_the_number_of_linear_layers(depth: int) -> None:
    """depth n gives n linear maps: in -> width (n-1 times) -> out_dim."""
    proj, out = build_projector(16, depth=depth, width=32, out_dim=8)
    layers = linears(proj)
    assert len(layers) == depth and out == 8
    assert layers[0].in_features == 16 and layers[-1].out_features == 8
    assert all(layer.out_features == 32 for layer in layers[:-1])
    assert proj(torch.randn(4, 16)).shape == (4, 8)


def test_depth_zero_is_identity() -> None:
    """depth 0 means no projector: the embedding is the backbone feature."""
    proj, out = build_projector(16, depth=0, width=32, out_dim=8)
    x = torch.randn(3, 16)
    assert out == 16 and torch.equal(proj(x), x)


def test_batchnorm_activation_and_last_bias_options() -> None:
    """batchnorm adds BatchNorm1d per hidden block; last_bias controls the final bias."""
    proj, _ = build_projector(
        8, depth=3, width=16, out_dim=4, batchnorm=True, activation="gelu", last_bias=True
    )
    assert sum(isinstance(m, nn.BatchNorm1d) for m in proj.modules()) == 2
    assert sum(isinstance(m, nn.GELU) for m in proj.modules()) == 2
    assert linears(proj)[-1].bias is not None
    plain, _ = build_projector(8, depth=3, width=16, out_dim=4, batchnorm=False)
    assert not any(isinstance(m, nn.BatchNorm1d) for m in plain.modules())
    assert linears(plain)[-1].bias is None


def test_frozen_projector_has_no_trainable_parameters() -> None:
    """frozen: true keeps the random initialisation (no parameter requires grad)."""
    proj, _ = build_projector(8, depth=2, width=16, out_dim=4, frozen=True)
    assert not any(p.requires_grad for p in proj.parameters())
