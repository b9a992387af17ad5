"""W-MSE: Whitening MSE (Ermolov et al., ICML 2021), following htdt/self-supervised
(``methods/w_mse.py``, ``methods/whitening.py``): the batch is split into random
sub-batches of ``w_size`` samples (``w_iter`` times); within each, each view's embeddings
are Cholesky-whitened separately (gradients flow through the whitening); the loss is the
normalised MSE ``2 - 2 cos`` between the whitened views, averaged over ``w_iter``.

The official defaults are ``w_size = 128`` (CIFAR; the batch must be a multiple of it),
``w_iter = 1`` and no shrinkage (``w_eps = 0``). The sub-batch must be larger than the
embedding dimension for the covariance to be invertible (the paper uses 64-d embeddings).
The random sub-batch split uses torch's global RNG, seeded by the trainer.
"""

from __future__ import annotations

import torch

from sslctl.methods._checks import check_pair, normalized_mse
from sslctl.methods.whitening import cholesky_whiten


def wmse_loss(
    z1: torch.Tensor,
    z2: torch.Tensor,
    *,
    w_size: int = 128,
    w_iter: int = 1,
    eps: float = 0.0,
) -> dict[str, torch.Tensor]:
    """W-MSE loss of two views' embeddings [batch, dim]."""
    check_pair(z1, z2, "wmse")
    n, d = z1.shape
    if w_size <= d:
        raise ValueError(
            f"wmse: w_size ({w_size}) must be larger than the embedding dim ({d}) "
            "for the sub-batch covariance to be invertible"
        )
    if n % w_size != 0:
        raise ValueError(f"wmse: the batch ({n}) must be a multiple of w_size ({w_size})")
    total = z1.new_zeros(())
    for _ in range(w_iter):
        order = torch.randperm(n, device=z1.device).view(-1, w_size)
        w1 = torch.empty_like(z1)
        w2 = torch.empty_like(z2)
        for idx in order:
            w1[idx] = cholesky_whiten(z1[idx], eps=eps)
            w2[idx] = cholesky_whiten(z2[idx], eps=eps)
        total = total + normalized_mse(w1, w2)
    loss = total / w_iter
    return {"loss": loss, "alignment": loss}
