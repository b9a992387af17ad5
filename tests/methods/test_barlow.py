"""Barlow Twins against a re-derivation of facebookresearch/barlowtwins' loss."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from sslctl.methods import build_loss
from sslctl.methods.barlow import barlow_loss, cross_correlation
from tests.methods.helpers import paired_views


def reference_barlow(a: np.ndarray, b: np.ndarray, lambd: float) -> dict[str, float]:
    """Standardise each column with the biased std and eps 1e-5 (BatchNorm1d, affine=False,
    training mode), C_pq = (1/N) sum_i a_ip b_iq by loops, then on + lambd * off."""
    n, d = a.shape
    sa = (a - a.mean(0)) / np.sqrt(a.var(0, ddof=0) + 1e-5)
    sb = (b - b.mean(0)) / np.sqrt(b.var(0, ddof=0) + 1e-5)
    on = off = 0.0
    for p in range(d):
        for q in range(d):
            c = sum(sa[i, p] * sb[i, q] for i in range(n)) / n
            if p == q:
                on += (1 - c) ** 2
            else:
                off += c**2
    return {"loss": on + lambd * off, "on_diag": on, "off_diag": off}


@pytest.mark.parametrize("seed", [0, 1])
def test_barlow_matches_the_reference_with_lambda_0_0051(seed: int) -> None:
    """Default Barlow Twins = sum (1 - c_ii)^2 + 0.0051 * sum_{i!=j} c_ij^2, no scale factor."""
    z1, z2 = paired_views(seed=seed, noise=0.8)
    expected = reference_barlow(z1.numpy(), z2.numpy(), 0.0051)
    out = build_loss("barlow")(z1, z2)
    for key, value in expected.items():
        assert math.isclose(float(out[key]), value, rel_tol=1e-9), key


def test_barlow_lambda_weights_the_off_diagonal() -> None:
    """lambd multiplies the off-diagonal sum."""
    z1, z2 = paired_views(seed=2, noise=0.8)
    expected = reference_barlow(z1.numpy(), z2.numpy(), 0.5)
    assert math.isclose(
        float(barlow_loss(z1, z2, lambd=0.5)["loss"]), expected["loss"], rel_tol=1e-9
    )


def test_cross_correlation_of_a_view_with_itself_has_unit_diagonal() -> None:
    """bn(z)^T bn(z) / N is the correlation matrix (diagonal 1 up to the 1e-5 eps)."""
    z, _ = paired_views(n=256, seed=3)
    c = cross_correlation(z, z)
    assert torch.allclose(c.diagonal(), torch.ones(6, dtype=torch.float64), atol=1e-3)
    assert torch.allclose(c, torch.from_numpy(np.corrcoef(z.numpy(), rowvar=False)), atol=1e-3)
