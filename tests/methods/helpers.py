"""Inputs and small reference formulas shared by the method tests (NumPy, float64)."""

from __future__ import annotations

import numpy as np
import torch


def paired_views(
    n: int = 48, d: int = 6, *, noise: float = 0.3, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Two float64 views [n, d]: an anisotropic, shifted sample and a noisy copy of it."""
    g = torch.Generator().manual_seed(seed)
    scales = torch.linspace(0.3, 1.5, d, dtype=torch.float64)
    z1 = torch.randn(n, d, generator=g, dtype=torch.float64) * scales + 0.5
    z2 = z1 + noise * torch.randn(n, d, generator=g, dtype=torch.float64)
    return z1, z2


def np_cov(x: np.ndarray) -> np.ndarray:
    """Unbiased covariance of the columns of x [n, d], by explicit centring."""
    xc = x - x.mean(axis=0)
    return xc.T @ xc / (x.shape[0] - 1)


def cosine_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cosine similarity of matching rows, one row at a time."""
    return np.array([u @ v / np.sqrt((u @ u) * (v @ v)) for u, v in zip(a, b, strict=True)])
