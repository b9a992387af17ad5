"""Barlow Twins (Zbontar et al., ICML 2021), following facebookresearch/barlowtwins
``main.py``: batch-norm without affine parameters on each view (batch statistics),
cross-correlation ``c = bn(z1)^T bn(z2) / batch``, loss ``sum_i (1 - c_ii)^2 +
lambd * sum_{i != j} c_ij^2`` with ``lambd = 0.0051``. The early official version's
``scale-loss`` factor (1/32) was removed upstream and is not applied here.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from sslctl.methods._checks import check_pair, off_diagonal


def cross_correlation(z1: torch.Tensor, z2: torch.Tensor) -> torch.Tensor:
    """Batch-normalised cross-correlation matrix [dim, dim]."""
    n = z1.shape[0]
    a = F.batch_norm(z1, None, None, training=True, eps=1e-5)
    b = F.batch_norm(z2, None, None, training=True, eps=1e-5)
    return a.T @ b / n


def barlow_loss(
    z1: torch.Tensor, z2: torch.Tensor, *, lambd: float = 0.0051
) -> dict[str, torch.Tensor]:
    """Barlow Twins redundancy-reduction loss."""
    check_pair(z1, z2, "barlow")
    c = cross_correlation(z1, z2)
    on_diag = (torch.diagonal(c) - 1).pow(2).sum()
    off_diag = off_diagonal(c).pow(2).sum()
    return {"loss": on_diag + lambd * off_diag, "on_diag": on_diag, "off_diag": off_diag}
