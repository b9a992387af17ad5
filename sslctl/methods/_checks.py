"""Shape checks shared by the losses."""

from __future__ import annotations

import torch


def check_pair(z1: torch.Tensor, z2: torch.Tensor, method: str, min_batch: int = 2) -> None:
    """Both views must be [batch, dim] of the same shape with at least ``min_batch`` rows."""
    if z1.ndim != 2 or z1.shape != z2.shape:
        raise ValueError(
            f"{method}: expected two embeddings of the same shape [batch, dim], "
            f"got {tuple(z1.shape)} and {tuple(z2.shape)}"
        )
    if z1.shape[0] < min_batch:
        raise ValueError(f"{method}: needs a batch of at least {min_batch}, got {z1.shape[0]}")


def off_diagonal(m: torch.Tensor) -> torch.Tensor:
    """The off-diagonal entries of a square matrix, flattened."""
    n = m.shape[0]
    return m.flatten()[:-1].view(n - 1, n + 1)[:, 1:].flatten()


def normalized_mse(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """2 - 2 cos(a, b), averaged over the batch (W-MSE's and INTL's ``norm_mse_loss``)."""
    a = torch.nn.functional.normalize(a, dim=1)
    b = torch.nn.functional.normalize(b, dim=1)
    return 2 - 2 * (a * b).sum(1).mean()
