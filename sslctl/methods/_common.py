"""Helpers shared by the losses: shape checks, full-precision blocks, small matrix utilities.

Every loss casts its inputs with :func:`at_least_fp32` inside :func:`full_precision`, so
that under mixed precision (``torch.autocast`` with bf16/fp16) the statistics, covariances
and similarities are computed in float32 (float64 inputs stay float64), whatever the
surrounding autocast state.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
import torch.nn.functional as F
from torch import Tensor


def check_pair(z1: Tensor, z2: Tensor, method: str, *, min_batch: int = 2) -> None:
    """Both views must be floating-point ``[batch, dim]`` tensors of the same shape with at
    least ``min_batch`` rows; raises ``ValueError`` naming the shapes otherwise."""
    if not isinstance(z1, Tensor) or not isinstance(z2, Tensor):
        raise TypeError(
            f"{method}: expected two tensors, got {type(z1).__name__} and {type(z2).__name__}"
        )
    if z1.ndim != 2 or z1.shape != z2.shape:
        raise ValueError(
            f"{method}: expected two embeddings of the same shape [batch, dim], "
            f"got {tuple(z1.shape)} and {tuple(z2.shape)}"
        )
    if not (z1.is_floating_point() and z2.is_floating_point()):
        raise ValueError(
            f"{method}: expected floating-point embeddings, got {z1.dtype}, {z2.dtype}"
        )
    if z1.shape[0] < min_batch:
        raise ValueError(
            f"{method}: needs a batch of at least {min_batch} samples, "
            f"got embeddings of shape {tuple(z1.shape)}"
        )
    if z1.shape[1] < 1:
        raise ValueError(f"{method}: embeddings have no dimensions: shape {tuple(z1.shape)}")


@contextlib.contextmanager
def full_precision(device: torch.device) -> Iterator[None]:
    """A block in which autocast is off on ``device``: operations run in their inputs' dtype."""
    with torch.autocast(device.type, enabled=False):
        yield


def at_least_fp32(*tensors: Tensor) -> tuple[Tensor, ...]:
    """Half-precision tensors promoted to float32; float32 and float64 unchanged."""
    return tuple(t.to(torch.promote_types(t.dtype, torch.float32)) for t in tensors)


def off_diagonal(m: Tensor) -> Tensor:
    """The off-diagonal entries of a square matrix, flattened (the official VICReg and Barlow
    Twins helper's trick: drop the last entry, view as (n-1) x (n+1), drop the first column)."""
    n, n2 = m.shape
    if n != n2:
        raise ValueError(f"off_diagonal: expected a square matrix, got shape {tuple(m.shape)}")
    return m.flatten()[:-1].view(n - 1, n + 1)[:, 1:].flatten()


def normalized_mse(a: Tensor, b: Tensor) -> Tensor:
    """``2 - 2 cos(a_i, b_i)`` averaged over the rows: the squared distance between the
    L2-normalised rows (W-MSE's and INTL's ``norm_mse_loss``)."""
    a = F.normalize(a, dim=-1)
    b = F.normalize(b, dim=-1)
    return 2 - 2 * (a * b).sum(dim=-1).mean()
