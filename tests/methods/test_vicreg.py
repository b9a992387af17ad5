"""VICReg against a loop-by-loop re-derivation of facebookresearch/vicreg's formulas."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from sslctl.methods import build_loss
from sslctl.methods.vicreg import covariance_term, variance_term, vicreg_loss
from tests.methods.helpers import paired_views


def reference_vicreg(
    a: np.ndarray, b: np.ndarray, sim: float, std: float, cov: float
) -> dict[str, float]:
    """Scalar loops, float64: MSE over all entries; per-branch hinge on the unbiased std
    (eps 1e-4) averaged over dims, the branches averaged; per-branch sum of squared
    off-diagonal covariances over d, the branches summed."""
    n, d = a.shape
    invariance = sum((a[i, j] - b[i, j]) ** 2 for i in range(n) for j in range(d)) / (n * d)
    hinges, penalties = [], []
    for x in (a, b):
        means = [sum(x[i, j] for i in range(n)) / n for j in range(d)]
        hinge = 0.0
        for j in range(d):
            var = sum((x[i, j] - means[j]) ** 2 for i in range(n)) / (n - 1)
            hinge += max(0.0, 1.0 - math.sqrt(var + 1e-4))
        hinges.append(hinge / d)
        penalty = 0.0
        for p in range(d):
            for q in range(d):
                if p != q:
                    c = sum((x[i, p] - means[p]) * (x[i, q] - means[q]) for i in range(n))
                    penalty += (c / (n - 1)) ** 2
        penalties.append(penalty / d)
    variance = (hinges[0] + hinges[1]) / 2
    covariance = penalties[0] + penalties[1]
    return {
        "loss": sim * invariance + std * variance + cov * covariance,
        "invariance": invariance,
        "variance": variance,
        "covariance": covariance,
    }


@pytest.mark.parametrize("seed", [0, 1])
def test_vicreg_matches_the_reference_with_the_papers_25_25_1(seed: int) -> None:
    """Default VICReg = 25 * MSE + 25 * (hinge_1 + hinge_2) / 2 + 1 * (cov_1 + cov_2),
    term by term, as in main_vicreg.py."""
    z1, z2 = paired_views(seed=seed)
    z1 = z1 * 0.6  # some dimensions below std 1, so that the hinge is active
    expected = reference_vicreg(z1.numpy(), z2.numpy(), 25.0, 25.0, 1.0)
    out = build_loss("vicreg")(z1, z2)
    assert expected["variance"] > 0.01
    for key, value in expected.items():
        assert math.isclose(float(out[key]), value, rel_tol=1e-10), key


def test_vicreg_coefficients_weight_the_unweighted_terms() -> None:
    """Non-default coefficients multiply the returned (unweighted) terms."""
    z1, z2 = paired_views(seed=3)
    out = vicreg_loss(z1, z2, sim_coeff=2.0, std_coeff=3.0, cov_coeff=5.0)
    expected = reference_vicreg(z1.numpy(), z2.numpy(), 2.0, 3.0, 5.0)
    assert math.isclose(float(out["loss"]), expected["loss"], rel_tol=1e-10)


def test_variance_term_is_zero_above_unit_std_and_linear_below() -> None:
    """The hinge: 0 for every std >= 1; 1 - sqrt(var + eps) for a dimension below."""
    g = torch.Generator().manual_seed(0)
    wide = torch.randn(4096, 3, generator=g, dtype=torch.float64) * 3.0
    assert float(variance_term(wide)) == 0.0
    const = torch.zeros(16, 2, dtype=torch.float64)
    assert math.isclose(float(variance_term(const)), 1 - math.sqrt(1e-4), rel_tol=1e-12)


def test_covariance_term_is_zero_for_uncorrelated_dimensions() -> None:
    """Orthogonal centred columns have zero covariance; duplicated columns do not."""
    x = torch.randn(32, 4, dtype=torch.float64)
    q = torch.linalg.qr(x - x.mean(0))[0]  # orthonormal combinations of centred columns
    assert float(covariance_term(q)) < 1e-20
    dup = torch.cat([q[:, :1], q[:, :1]], dim=1)  # cov = [[c, c], [c, c]], c = 1/31
    assert math.isclose(float(covariance_term(dup)), 2 * (1 / 31) ** 2 / 2, rel_tol=1e-10)
