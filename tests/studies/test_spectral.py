"""Balestriero & LeCun's closed form: linear VICReg reaches the generalized eigenvectors."""

from __future__ import annotations

import numpy as np

from sslctl.studies.spectral import (
    closed_form_vicreg,
    make_views,
    principal_cosines,
    train_linear,
)


def test_closed_form_satisfies_the_constraint() -> None:
    """The closed-form W has per-view-averaged covariance W^T B W = I."""
    x1, x2 = make_views(seed=0)
    w = closed_form_vicreg(x1, x2, 3)
    b = (np.cov(x1.numpy(), rowvar=False) + np.cov(x2.numpy(), rowvar=False)) / 2
    assert np.allclose(w.T @ b @ w, np.eye(3), atol=1e-8)


def test_linear_vicreg_converges_to_the_closed_form_subspace() -> None:
    """Variance/covariance coefficients (25, 25) much larger than invariance (5): the
    trained encoder spans the K smallest generalized eigenvectors (cosines >= 0.99)."""
    for seed in (0, 1):
        x1, x2 = make_views(seed=seed)
        w = train_linear("vicreg", x1, x2, 3, seed=seed)
        assert principal_cosines(w, closed_form_vicreg(x1, x2, 3)).min() >= 0.99
