"""INTL: IterNorm with trace loss (Weng et al., "Modulate Your Spectrum in
Self-Supervised Learning", ICLR 2024), following winci-ai/INTL (``methods/intl.py``,
``methods/base.py``, ``methods/whitening.py``):

* each view's embedding is whitened by IterNorm with ``iters`` Newton steps along
  ``axis`` (0: the N x N sample Gram matrix, the official default; 1: the feature
  covariance);
* alignment: normalised MSE ``2 - 2 cos`` between the whitened views;
* trace loss per view: ``sum_j (var_j - 1)^2`` of the whitened output along the same axis
  (per-sample variances over features for axis 0, per-feature variances for axis 1);
* ``loss = alignment + trace_coeff * (trace(z1) + trace(z2))`` with ``trace_coeff = auto``
  meaning ``0.01 * (log2(batch) - 3)`` for axis 0 and ``0.01 * (log2(dim) - 3)`` for axis 1.
"""

from __future__ import annotations

import math
from typing import Literal

import torch

from sslctl.methods._checks import check_pair, normalized_mse
from sslctl.methods.whitening import iternorm


def trace_term(w: torch.Tensor, axis: int) -> torch.Tensor:
    """Squared deviation from 1 of the variances of the whitened output along ``axis``."""
    x = w.T if axis == 0 else w
    x = x - x.mean(dim=0)
    var = x.pow(2).sum(dim=0) / (x.shape[0] - 1)
    return (var - 1).pow(2).sum()


def auto_trace_coeff(batch: int, dim: int, axis: int) -> float:
    """The official trade-off: 0.01 * (log2(batch or dim) - 3)."""
    return 0.01 * (math.log2(batch if axis == 0 else dim) - 3)


def intl_loss(
    z1: torch.Tensor,
    z2: torch.Tensor,
    *,
    iters: int = 4,
    axis: Literal[0, 1] = 0,
    trace_coeff: float | Literal["auto"] = "auto",
) -> dict[str, torch.Tensor]:
    """INTL loss of two views' embeddings [batch, dim]."""
    check_pair(z1, z2, "intl", min_batch=3)
    w1, w2 = iternorm(z1, iters=iters, axis=axis), iternorm(z2, iters=iters, axis=axis)
    coeff = auto_trace_coeff(*z1.shape, axis) if trace_coeff == "auto" else float(trace_coeff)
    alignment = normalized_mse(w1, w2)
    trace = trace_term(w1, axis) + trace_term(w2, axis)
    return {"loss": alignment + coeff * trace, "alignment": alignment, "trace": trace}
