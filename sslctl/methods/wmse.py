"""W-MSE: Whitening for self-supervised representation learning (Ermolov, Siarohin,
Sangineto, Sebe, ICML 2021, https://arxiv.org/abs/2007.06346).

Follows the official code, htdt/self-supervised ``methods/w_mse.py`` and
``methods/whitening.py`` (``Whitening2d`` without running statistics), for two views:

* ``w_iter`` times: draw ``torch.randperm(batch).view(-1, w_size)``, i.e. split the batch
  into random sub-batches of ``w_size`` samples, the same split for both views;
* in each sub-batch, each view is Cholesky-whitened **separately** (its own mean and
  covariance; ``Whitening2d`` is called once per view and sub-batch); gradients flow through
  the whitening;
* the loss is the normalised MSE ``2 - 2 cos`` (``norm_mse_loss``, the official default;
  ``norm=False`` is the official ``--no_norm``: plain MSE) between the whitened views,
  averaged over the ``w_iter`` splits.

Official defaults: ``w_size = 128``, ``w_iter = 1``, ``w_eps = 0`` (covariance shrinkage
``(1 - w_eps) Sigma + w_eps I``), with 64-d embeddings on CIFAR (the README uses
``w_size 256`` with 128-d embeddings, and ``w_iter 4`` for "W-MSE 4").

Constraints (official behaviour made explicit): the batch must be a multiple of
``w_size`` (the official ``view(-1, w_size)`` fails otherwise) and, without shrinkage, the
sub-batch must be larger than the embedding dim, or its covariance is singular and the
Cholesky factorisation fails; both are ``ValueError`` here, before any computation.
lightly's ``WMSELoss`` demands ``w_size >= 2 * dim`` "to avoid instability"; we keep the
official, weaker ``w_size > dim``. solo-learn's ``wmse_loss_func`` stops the gradient
through the second view; the official code does not, and neither do we.

The random split uses torch's global RNG on the embeddings' device (as the official code),
so a seeded run is reproducible; under DDP every rank must use the same seed so that all
ranks whiten the gathered batch with the same split.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from sslctl.methods._common import at_least_fp32, check_pair, full_precision, normalized_mse
from sslctl.methods.facts import MethodFacts
from sslctl.methods.whitening import cholesky_whiten

FACTS = MethodFacts(
    name="wmse",
    loss="wmse_loss",
    gathers=False,
    whitening="cholesky",
    official="htdt/self-supervised methods/w_mse.py (whitens each GPU's batch)",
)


def check_w_size(batch: int, dim: int, w_size: int, w_eps: float) -> None:
    """Raise ``ValueError`` unless ``batch`` splits into sub-batches of ``w_size`` whose
    covariance can be positive definite."""
    if w_size < 2:
        raise ValueError(f"wmse: w_size must be >= 2, got {w_size}")
    if w_size <= dim and not w_eps:
        raise ValueError(
            f"wmse: w_size ({w_size}) must be larger than the embedding dim ({dim}): the "
            f"covariance of {w_size} samples in {dim} dimensions is singular and cannot be "
            "Cholesky-whitened (use a smaller projector out_dim, a larger w_size, or w_eps > 0)"
        )
    if batch < w_size or batch % w_size:
        raise ValueError(
            f"wmse: the batch ({batch}) must be a multiple of w_size ({w_size}), as in the "
            "official torch.randperm(batch).view(-1, w_size)"
        )


def whiten_sub_batches(
    z1: Tensor, z2: Tensor, order: Tensor, w_eps: float
) -> tuple[Tensor, Tensor]:
    """Whiten each view separately within the sub-batches ``order`` [k, w_size] (row indices);
    returns both views whitened, rows in ``order.flatten()`` order, [batch, dim] each."""
    n_sub, w_size = order.shape
    dim = z1.shape[1]
    label = "W-MSE Cholesky of the sub-batch covariance"
    out = []
    for z in (z1, z2):
        chunks = z[order]  # [k, w_size, dim]
        white = cholesky_whiten(chunks, eps=w_eps, label=label, size_name="w_size")
        out.append(white.reshape(n_sub * w_size, dim))
    return out[0], out[1]


def wmse_loss(
    z1: Tensor,
    z2: Tensor,
    *,
    w_size: int = 128,
    w_iter: int = 1,
    w_eps: float = 0.0,
    norm: bool = True,
) -> dict[str, Tensor]:
    """W-MSE loss of two views' embeddings ``z1``, ``z2`` [batch, dim].

    Args:
        z1, z2: the projector outputs of the two views, same shape.
        w_size: samples per whitening sub-batch; must divide the batch and exceed the dim.
        w_iter: number of random splits, averaged.
        w_eps: covariance shrinkage towards the identity (official ``--w_eps``, 0).
        norm: normalised MSE ``2 - 2 cos`` (official default) or plain MSE.

    Returns:
        ``{"loss", "alignment"}`` (the same value: W-MSE has a single term).

    Raises:
        ValueError: bad shapes or ``w_size`` (see :func:`check_w_size`).
        NumericalError: a sub-batch covariance is not positive definite or not finite.
    """
    check_pair(z1, z2, "wmse")
    if w_iter < 1:
        raise ValueError(f"wmse: w_iter must be >= 1, got {w_iter}")
    batch, dim = z1.shape
    check_w_size(batch, dim, w_size, w_eps)
    with full_precision(z1.device):
        z1, z2 = at_least_fp32(z1, z2)
        total = z1.new_zeros(())
        for _ in range(w_iter):
            order = torch.randperm(batch, device=z1.device).view(-1, w_size)
            w1, w2 = whiten_sub_batches(z1, z2, order, w_eps)
            total = total + (normalized_mse(w1, w2) if norm else F.mse_loss(w1, w2))
        loss = total / w_iter
    return {"loss": loss, "alignment": loss}
