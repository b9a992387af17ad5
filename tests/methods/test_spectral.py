"""ST (spectral transformation) against SciPy's fractional matrix power."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.linalg import fractional_matrix_power

from sslctl.errors import NumericalError
from sslctl.methods import build_loss
from sslctl.methods.spectral import st_loss
from tests.methods.helpers import cosine_rows, paired_views


def reference_st(a: np.ndarray, b: np.ndarray, power: float, axis: int) -> float:
    """Centre the observations, multiply by Sigma^-power (Schur-Pade fractional power, no
    eigendecomposition), 2 - 2 cos between the views."""

    def transform(x: np.ndarray) -> np.ndarray:
        rows = x.T if axis == 0 else x
        xc = rows - rows.mean(axis=0)
        sigma = xc.T @ xc / (len(rows) - 1)
        out = xc @ np.real(fractional_matrix_power(sigma, -power))
        return out.T if axis == 0 else out

    return float(2 - 2 * cosine_rows(transform(a), transform(b)).mean())


@pytest.mark.parametrize("power", [0.5, 0.25, 0.0])
def test_st_matches_the_reference(power: float) -> None:
    """ST with g(lambda) = lambda^-power on the feature covariance (default axis 1)."""
    z1, z2 = paired_views(n=40, d=6, noise=0.7, seed=1)
    got = float(build_loss("st", power=power)(z1, z2)["loss"])
    assert math.isclose(got, reference_st(z1.numpy(), z2.numpy(), power, 1), rel_tol=1e-9)


def test_st_default_is_whitening_and_axis0_uses_the_sample_gram() -> None:
    """Default power 0.5 (whitening); axis 0 transforms the N x N Gram matrix (dim > batch)."""
    z1, z2 = paired_views(n=40, d=6, noise=0.7, seed=2)
    got = float(st_loss(z1, z2)["loss"])
    assert math.isclose(got, reference_st(z1.numpy(), z2.numpy(), 0.5, 1), rel_tol=1e-9)
    w1, w2 = paired_views(n=8, d=30, noise=0.7, seed=3)
    got0 = float(st_loss(w1, w2, axis=0)["loss"])
    assert math.isclose(got0, reference_st(w1.numpy(), w2.numpy(), 0.5, 0), rel_tol=1e-9)


def test_st_needs_an_invertible_covariance() -> None:
    """power != 0 with batch <= dim (axis 1) is a ValueError; a singular covariance of the
    right shape (duplicated dimension) a NumericalError naming the spectral transform."""
    z1, z2 = paired_views(n=8, d=8)
    with pytest.raises(ValueError, match="needs batch > dim"):
        st_loss(z1, z2)
    assert np.isfinite(float(st_loss(z1, z2, power=0.0)["loss"]))
    z1, z2 = paired_views(n=32, d=4)
    dup1 = np.concatenate([z1.numpy(), z1.numpy()[:, :1]], axis=1)
    dup2 = np.concatenate([z2.numpy(), z2.numpy()[:, :1]], axis=1)
    with pytest.raises(NumericalError, match="spectral transform .* singular"):
        st_loss(torch.from_numpy(dup1), torch.from_numpy(dup2))
