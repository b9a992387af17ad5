"""SimCLR's NT-Xent against a per-anchor re-derivation of google-research/simclr."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sslctl.methods import build_loss
from sslctl.methods.simclr import simclr_loss
from tests.methods.helpers import paired_views


def reference_nt_xent(a: np.ndarray, b: np.ndarray, tau: float, normalize: bool = True) -> float:
    """For each anchor of each view: -log softmax of its positive among the 2N - 1 other
    embeddings (itself excluded), averaged over the N anchors of a view; the two views'
    averages summed (objective.py: loss = loss_a + loss_b)."""
    h = np.concatenate([a, b])
    if normalize:
        h = h / np.linalg.norm(h, axis=1, keepdims=True)
    n = len(a)
    per_view = [0.0, 0.0]
    for i in range(2 * n):
        positive = (i + n) % (2 * n)
        others = [k for k in range(2 * n) if k != i]
        log_z = math.log(sum(math.exp(h[i] @ h[k] / tau) for k in others))
        per_view[i // n] += (log_z - h[i] @ h[positive] / tau) / n
    return per_view[0] + per_view[1]


@pytest.mark.parametrize("seed", [0, 1])
def test_simclr_sums_both_directions_at_temperature_0_1(seed: int) -> None:
    """Default NT-Xent (tau = 0.1, cosine similarity) = loss_a + loss_b, not their mean."""
    z1, z2 = paired_views(n=12, seed=seed, noise=1.0)
    out = build_loss("simclr")(z1, z2)
    assert math.isclose(
        float(out["loss"]), reference_nt_xent(z1.numpy(), z2.numpy(), 0.1), rel_tol=1e-9
    )
    assert math.isclose(float(out["loss"]), float(out["loss_a"] + out["loss_b"]), rel_tol=1e-12)


def test_simclr_temperature_and_unnormalised_variant() -> None:
    """temperature divides the similarities; hidden_norm=False uses raw dot products."""
    z1, z2 = paired_views(n=10, seed=2, noise=1.0)
    a, b = z1.numpy(), z2.numpy()
    got = simclr_loss(z1, z2, temperature=0.5)["loss"]
    assert math.isclose(float(got), reference_nt_xent(a, b, 0.5), rel_tol=1e-9)
    raw = simclr_loss(z1 * 0.3, z2 * 0.3, temperature=1.0, hidden_norm=False)["loss"]
    assert math.isclose(float(raw), reference_nt_xent(a * 0.3, b * 0.3, 1.0, False), rel_tol=1e-9)


def test_simclr_rejects_a_non_positive_temperature() -> None:
    """temperature <= 0 is a ValueError naming it."""
    z1, z2 = paired_views(n=8)
    with pytest.raises(ValueError, match="temperature"):
        simclr_loss(z1, z2, temperature=0.0)
