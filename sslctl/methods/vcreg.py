"""VCReg: variance-covariance regularisation (Mialon, Balestriero, LeCun, "Variance
Covariance Regularization Enforces Pairwise Independence in Self-Supervised
Representations", 2022).

VICReg's variance and covariance terms (same conventions as ``vicreg.py``, shared helpers)
on the projector output, without the invariance term by default (``sim_coeff = 0``), which
is the form used for linear ICA; a positive ``sim_coeff`` adds VICReg's invariance.
For ICA, pass the same tensor as both views.
"""

from __future__ import annotations

import torch

from sslctl.methods._checks import check_pair
from sslctl.methods.vicreg import covariance_term, invariance_term, variance_term


def vcreg_loss(
    z1: torch.Tensor,
    z2: torch.Tensor,
    *,
    std_coeff: float = 25.0,
    cov_coeff: float = 1.0,
    sim_coeff: float = 0.0,
    eps: float = 1e-4,
) -> dict[str, torch.Tensor]:
    """Variance + covariance regularisation (+ optional invariance) of two views."""
    check_pair(z1, z2, "vcreg")
    variance = variance_term(z1, eps) / 2 + variance_term(z2, eps) / 2
    covariance = covariance_term(z1) + covariance_term(z2)
    invariance = invariance_term(z1, z2)
    loss = std_coeff * variance + cov_coeff * covariance + sim_coeff * invariance
    return {"loss": loss, "variance": variance, "covariance": covariance, "invariance": invariance}
