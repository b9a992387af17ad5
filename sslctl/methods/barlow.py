"""Barlow Twins: redundancy reduction (Zbontar, Jing, Misra, LeCun, Deny, ICML 2021,
https://arxiv.org/abs/2103.03230).

Follows the official code, facebookresearch/barlowtwins ``main.py`` (``BarlowTwins.forward``,
current version):

* each view is batch-normalised without affine parameters (``nn.BatchNorm1d(affine=False)``
  in training mode: batch mean and the *biased* batch variance, ``eps = 1e-5``);
* ``c = bn(z1)^T bn(z2) / batch`` (the official code divides by the global batch size and
  all-reduces ``c``, i.e. the full-batch matrix: pass all-gathered embeddings here);
* ``loss = sum_i (1 - c_ii)^2 + lambd * sum_{i != j} c_ij^2`` with ``lambd = 0.0051``.

The first code release had ``--lambd 3.9e-3`` and a ``--scale-loss`` factor (1/32; the
best model used 0.024) multiplying the whole loss; commit 046eec3 ("replace --scale-loss
with --learning-rate-biases") removed the factor and made ``lambd = 0.0051`` the default:
we follow the current code (no scale factor). With SGD/LARS a constant factor acts as a
learning-rate multiplier, so recipes tuned for the old code need their learning rate
rescaled. Computed in float32 under mixed precision.
"""

from __future__ import annotations

import torch
from torch import Tensor

from sslctl.methods._common import at_least_fp32, check_pair, full_precision, off_diagonal
from sslctl.methods.facts import MethodFacts

FACTS = MethodFacts(
    name="barlow",
    loss="barlow_loss",
    gathers=True,
    whitening="none",
    official="facebookresearch/barlowtwins main.py (all-reduced cross-correlation)",
)


def batch_standardize(z: Tensor, eps: float = 1e-5) -> Tensor:
    """What ``BatchNorm1d(affine=False)`` computes in training mode: ``(z - mean) /
    sqrt(var + eps)`` with the batch mean and the biased batch variance. Written out
    rather than ``F.batch_norm``, which gives the same values but is far slower on CPU."""
    zc = z - z.mean(dim=0)
    return zc / torch.sqrt(zc.pow(2).mean(dim=0) + eps)


def cross_correlation(z1: Tensor, z2: Tensor) -> Tensor:
    """The [dim, dim] cross-correlation matrix ``bn(z1)^T bn(z2) / batch``."""
    return batch_standardize(z1).T @ batch_standardize(z2) / z1.shape[0]


def barlow_loss(z1: Tensor, z2: Tensor, *, lambd: float = 0.0051) -> dict[str, Tensor]:
    """Barlow Twins loss of two views' embeddings ``z1``, ``z2`` [batch, dim].

    Args:
        z1, z2: the projector outputs of the two views, same shape, batch >= 2.
        lambd: weight of the off-diagonal (redundancy reduction) term.

    Returns:
        ``{"loss", "on_diag", "off_diag"}``, the terms unweighted.
    """
    check_pair(z1, z2, "barlow")
    with full_precision(z1.device):
        z1, z2 = at_least_fp32(z1, z2)
        c = cross_correlation(z1, z2)
        on_diag = (c.diagonal() - 1).pow(2).sum()
        off_diag = off_diagonal(c).pow(2).sum()
        loss = on_diag + lambd * off_diag
    return {"loss": loss, "on_diag": on_diag, "off_diag": off_diag}
