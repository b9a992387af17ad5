"""INTL: IterNorm with trace loss (Weng, Ni, Song, Luo, Anwer, Khan, Khan, Huang, "Modulate
Your Spectrum in Self-Supervised Learning", ICLR 2024, https://arxiv.org/abs/2305.16789).

Follows the official code, winci-ai/INTL (``methods/intl.py``, ``methods/base.py``,
``methods/whitening.py``), for two views:

* each view's embedding is transformed by IterNorm (:func:`~sslctl.methods.whitening.
  iternorm`) with ``iters`` Newton iterations (official 4) along ``axis``:
  0, the official default (``--axis``, "channel whitening"), whitens the N x N Gram
  matrix of the samples, each sample centred over its own features and the matrix
  normalised by D - 1; 1 ("batch whitening") whitens the D x D feature covariance;
* alignment: the normalised MSE ``2 - 2 cos`` between the transformed views
  (``norm_mse_loss``);
* trace loss per view (``TL``): ``sum_j (Var_j - 1)^2`` of the transformed output along the
  same axis (the per-sample variances over the features for axis 0, the per-feature
  variances over the batch for axis 1, both unbiased);
* ``loss = alignment + trace_coeff * (TL(view 1) + TL(view 2))``; ``trace_coeff = "auto"``
  is the official ``cal_trade_off``: ``0.01 * (log2(batch) - 3)`` for axis 0 and
  ``0.01 * (log2(dim) - 3)`` for axis 1 (the official ``bs`` is the global batch, which
  is what this function sees when given all-gathered embeddings). For batches (axis 0)
  or dims (axis 1) below 8 the formula turns negative; "auto" then gives 0.

The official code runs IterNorm under fp16 autocast; here it always runs in float32.
With more than two crops the official loss averages over the pairs (crop i, crop 0); this
function is the two-view case.
"""

from __future__ import annotations

import math
from typing import Literal

from torch import Tensor

from sslctl.methods._common import at_least_fp32, check_pair, full_precision, normalized_mse
from sslctl.methods.facts import MethodFacts
from sslctl.methods.whitening import iternorm

FACTS = MethodFacts(
    name="intl",
    loss="intl_loss",
    gathers=True,
    whitening="iternorm",
    official="winci-ai/INTL (IterNorm on the gathered batch)",
)


def trace_term(w: Tensor, axis: int) -> Tensor:
    """The official ``TL``: squared deviation from 1 of the unbiased variances of the
    transformed embeddings ``w`` [batch, dim] along ``axis``, summed."""
    x = w.T if axis == 0 else w
    xc = x - x.mean(dim=0)
    var = xc.pow(2).sum(dim=0) / (x.shape[0] - 1)
    return (var - 1).pow(2).sum()


def auto_trace_coeff(batch: int, dim: int, axis: int) -> float:
    """The official trade-off ``0.01 * (log2(batch or dim) - 3)``, floored at 0."""
    size = batch if axis == 0 else dim
    return max(0.0, 0.01 * (math.log2(size) - 3))


def intl_loss(
    z1: Tensor,
    z2: Tensor,
    *,
    iters: int = 4,
    axis: Literal[0, 1] = 0,
    trace_coeff: float | Literal["auto"] = "auto",
) -> dict[str, Tensor]:
    """INTL loss of two views' embeddings ``z1``, ``z2`` [batch, dim].

    Args:
        z1, z2: the projector outputs of the two views, same shape, batch >= 2, dim >= 2.
        iters: IterNorm Newton iterations T.
        axis: 0 whitens the N x N sample Gram matrix (official default), 1 the D x D
            feature covariance.
        trace_coeff: weight of the trace loss, or "auto" for the official formula.

    Returns:
        ``{"loss", "alignment", "trace"}`` with ``loss = alignment + coeff * trace``.
    """
    check_pair(z1, z2, "intl")
    if axis not in (0, 1):
        raise ValueError(
            f"intl: axis must be 0 (sample Gram) or 1 (feature covariance), got {axis}"
        )
    if axis == 0 and z1.shape[1] < 2:
        raise ValueError(f"intl: axis 0 needs dim >= 2, got shape {tuple(z1.shape)}")
    if trace_coeff == "auto":
        coeff = auto_trace_coeff(*z1.shape, axis)
    elif isinstance(trace_coeff, (int, float)):
        coeff = float(trace_coeff)
    else:
        raise ValueError(f"intl: trace_coeff must be a number or 'auto', got {trace_coeff!r}")
    with full_precision(z1.device):
        z1, z2 = at_least_fp32(z1, z2)
        w1 = iternorm(z1, iters=iters, axis=axis)
        w2 = iternorm(z2, iters=iters, axis=axis)
        alignment = normalized_mse(w1, w2)
        trace = trace_term(w1, axis) + trace_term(w2, axis)
        loss = alignment + coeff * trace
    return {"loss": loss, "alignment": alignment, "trace": trace}
