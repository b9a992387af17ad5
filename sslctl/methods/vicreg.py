"""VICReg: Variance-Invariance-Covariance Regularization (Bardes, Ponce, LeCun, ICLR 2022,
https://arxiv.org/abs/2105.04906).

Follows the official code, facebookresearch/vicreg ``main_vicreg.py`` (``VICReg.forward``):

* invariance: ``F.mse_loss(z1, z2)``, the mean over batch *and* dimensions;
* variance, per branch: ``mean_j relu(1 - sqrt(Var(z_j) + 1e-4))`` with the unbiased
  (N - 1) variance; the two branches are **averaged** (each divided by 2);
* covariance, per branch: the sum of the squared off-diagonal entries of the (N - 1)
  covariance matrix, divided by the dimension d; the two branches are **summed**;
* ``loss = sim_coeff * invariance + std_coeff * variance + cov_coeff * covariance`` with
  the paper's 25 / 25 / 1.

lightly's ``VICRegLoss`` uses the same conventions. solo-learn's ``vicreg_loss_func`` sums
the two branches' variance terms instead of averaging them, which doubles the effective
``std_coeff``; we keep the official halving so that the paper's 25 / 25 / 1 mean what they
meant there. The official code computes the terms in the ambient (mixed) precision; here
they always run in float32 (see ``_common``), a no-op in fp32 training.

Distributed training: the official code all-gathers the embeddings before the variance and
covariance terms; this function is pure, so pass it the gathered embeddings (the
invariance term of the full batch equals the mean of the per-rank ones).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from sslctl.methods._common import at_least_fp32, check_pair, full_precision, off_diagonal
from sslctl.methods.facts import MethodFacts

FACTS = MethodFacts(
    name="vicreg",
    loss="vicreg_loss",
    gathers=True,
    whitening="none",
    official="facebookresearch/vicreg main_vicreg.py (VICReg.forward, FullGatherLayer)",
)


def invariance_term(z1: Tensor, z2: Tensor) -> Tensor:
    """Mean squared error between the two views, over batch and dimensions."""
    return F.mse_loss(z1, z2)


def variance_term(z: Tensor, eps: float = 1e-4) -> Tensor:
    """Hinge on each dimension's standard deviation: ``mean_j relu(1 - sqrt(Var(z_j) + eps))``
    with the unbiased variance over the batch."""
    std = torch.sqrt(z.var(dim=0) + eps)
    return F.relu(1 - std).mean()


def covariance_term(z: Tensor) -> Tensor:
    """Sum of the squared off-diagonal entries of the (N - 1)-normalised covariance of ``z``
    [batch, dim], divided by the dimension."""
    n, d = z.shape
    zc = z - z.mean(dim=0)
    cov = zc.T @ zc / (n - 1)
    return off_diagonal(cov).pow(2).sum() / d


def vicreg_loss(
    z1: Tensor,
    z2: Tensor,
    *,
    sim_coeff: float = 25.0,
    std_coeff: float = 25.0,
    cov_coeff: float = 1.0,
    eps: float = 1e-4,
) -> dict[str, Tensor]:
    """VICReg loss of two views' embeddings ``z1``, ``z2`` [batch, dim].

    Args:
        z1, z2: the projector outputs of the two views, same shape, batch >= 2.
        sim_coeff: weight of the invariance (MSE) term (the paper's lambda, 25).
        std_coeff: weight of the variance hinge (mu, 25).
        cov_coeff: weight of the covariance term (nu, 1).
        eps: added to the variance under the square root (official 1e-4).

    Returns:
        ``{"loss", "invariance", "variance", "covariance"}``, the terms unweighted, in
        float32 (float64 for float64 input).
    """
    check_pair(z1, z2, "vicreg")
    with full_precision(z1.device):
        z1, z2 = at_least_fp32(z1, z2)
        invariance = invariance_term(z1, z2)
        variance = variance_term(z1, eps) / 2 + variance_term(z2, eps) / 2
        covariance = covariance_term(z1) + covariance_term(z2)
        loss = sim_coeff * invariance + std_coeff * variance + cov_coeff * covariance
    return {"loss": loss, "invariance": invariance, "variance": variance, "covariance": covariance}
