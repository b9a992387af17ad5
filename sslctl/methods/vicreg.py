"""VICReg: Variance-Invariance-Covariance Regularization (Bardes, Ponce, LeCun, ICLR 2022).

Follows facebookresearch/vicreg ``main_vicreg.py`` exactly:

* invariance: ``F.mse_loss(z1, z2)`` (mean over batch and dimensions);
* variance: per branch ``mean(relu(1 - sqrt(var + 1e-4)))`` with the unbiased variance,
  the two branches **averaged** (each divided by 2), as in the official code;
* covariance: per branch the squared off-diagonal entries of the (N-1)-normalised
  covariance, summed and divided by the dimension d, the two branches **summed**;
* ``loss = sim_coeff * invariance + std_coeff * variance + cov_coeff * covariance`` with
  the paper's 25 / 25 / 1.

lightly's ``VICRegLoss`` matches these conventions; some re-implementations average the
covariance term over branches instead, which halves its weight.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from sslctl.methods._checks import check_pair, off_diagonal


def variance_term(z: torch.Tensor, eps: float = 1e-4) -> torch.Tensor:
    """Hinge on the per-dimension standard deviation: mean(relu(1 - sqrt(var + eps)))."""
    std = torch.sqrt(z.var(dim=0) + eps)
    return F.relu(1 - std).mean()


def covariance_term(z: torch.Tensor) -> torch.Tensor:
    """Sum of squared off-diagonal covariance entries divided by the dimension."""
    n, d = z.shape
    zc = z - z.mean(dim=0)
    cov = zc.T @ zc / (n - 1)
    return off_diagonal(cov).pow(2).sum() / d


def invariance_term(z1: torch.Tensor, z2: torch.Tensor) -> torch.Tensor:
    """Mean squared error between the views."""
    return F.mse_loss(z1, z2)


def vicreg_loss(
    z1: torch.Tensor,
    z2: torch.Tensor,
    *,
    sim_coeff: float = 25.0,
    std_coeff: float = 25.0,
    cov_coeff: float = 1.0,
    eps: float = 1e-4,
) -> dict[str, torch.Tensor]:
    """VICReg loss of two views' embeddings [batch, dim]."""
    check_pair(z1, z2, "vicreg")
    invariance = invariance_term(z1, z2)
    variance = variance_term(z1, eps) / 2 + variance_term(z2, eps) / 2
    covariance = covariance_term(z1) + covariance_term(z2)
    loss = sim_coeff * invariance + std_coeff * variance + cov_coeff * covariance
    return {"loss": loss, "invariance": invariance, "variance": variance, "covariance": covariance}
