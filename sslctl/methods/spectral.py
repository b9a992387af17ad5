"""Spectral transformation (ST) from the INTL paper (Weng et al., ICLR 2024): each view's
embedding is transformed by ``U g(Lambda) U^T`` of its feature covariance with
``g(lambda) = lambda^-power`` (power 0.5 is whitening; the paper shows other powers also
avoid collapse), and the loss is the normalised MSE between the transformed views.
Eigendecomposition runs in float64. INTL (IterNorm + trace loss) is the default of this
family; ST is the exact-eigendecomposition member used to study ``power``.
"""

from __future__ import annotations

import torch

from sslctl.methods._checks import check_pair, normalized_mse
from sslctl.methods.whitening import spectral_transform


def st_loss(z1: torch.Tensor, z2: torch.Tensor, *, power: float = 0.5) -> dict[str, torch.Tensor]:
    """Spectral-transformation loss of two views' embeddings [batch, dim]."""
    check_pair(z1, z2, "st", min_batch=3)
    t1 = spectral_transform(z1, power=power)
    t2 = spectral_transform(z2, power=power)
    loss = normalized_mse(t1, t2)
    return {"loss": loss, "alignment": loss}
