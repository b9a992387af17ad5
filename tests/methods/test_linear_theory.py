"""Linear-regime theory (Balestriero & LeCun, NeurIPS 2022, "Contrastive and Non-Contrastive
Self-Supervised Learning Recover Global and Local Spectral Embedding Methods"): a linear
encoder trained with VICReg, variance and covariance terms dominating the invariance,
spans the K smallest generalized eigenvectors of (X^T L X) w = lambda (X^T H X / (N-1)) w,
L the Laplacian of the pairing graph and H the centring matrix (Laplacian eigenmaps)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.linalg import eigh, subspace_angles

from sslctl.methods import build_loss


def spectral_embedding_closed_form(
    x: np.ndarray, edges: list[tuple[int, int]], k: int
) -> tuple[np.ndarray, np.ndarray]:
    """The K smallest generalized eigenvectors (columns) and all eigenvalues of
    (X^T L X) w = lambda (X^T H X / (N - 1)) w for data X [N, D] and an undirected graph
    given by its edges, L = degree - adjacency, H = I - 11^T / N."""
    n = x.shape[0]
    adjacency = np.zeros((n, n))
    for i, j in edges:
        adjacency[i, j] = adjacency[j, i] = 1.0
    laplacian = np.diag(adjacency.sum(axis=1)) - adjacency
    centring = np.eye(n) - np.ones((n, n)) / n
    values, vectors = eigh(x.T @ laplacian @ x, x.T @ centring @ x / (n - 1))
    return vectors[:, :k], values


def antithetic_pairs(n: int, d: int, k: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Views base + e and base - e: e is centred and orthogonal to base's columns, so both
    views have the same mean and covariance (VICReg's per-view constraints then coincide
    with the pooled X^T H X); e is small in k random directions (the views agree there)."""
    rng = np.random.default_rng(seed)
    base = rng.standard_normal((n, d)) * np.linspace(0.6, 1.5, d)
    spread = np.concatenate([np.linspace(0.1, 0.2, k), np.linspace(0.7, 1.2, d - k)])
    e = rng.standard_normal((n, d)) * rng.permutation(spread)
    base -= base.mean(axis=0)
    e -= e.mean(axis=0)
    e -= base @ np.linalg.lstsq(base, e, rcond=None)[0]
    rotation = np.linalg.qr(rng.standard_normal((d, d)))[0]
    return (base + e) @ rotation, (base - e) @ rotation


@pytest.mark.parametrize("seed", [0, 1])
def test_linear_vicreg_recovers_the_generalized_eigenvectors(seed: int) -> None:
    """Full-batch Adam on W (D=10 -> K=3) with VICReg (sim 5 << std 25, cov 25) reaches the
    closed-form span: all principal-angle cosines >= 0.99 (from a random start < 0.9)."""
    n, d, k = 512, 10, 3
    x1, x2 = antithetic_pairs(n, d, k, seed)
    stacked = np.concatenate([x1, x2])
    closed, values = spectral_embedding_closed_form(stacked, [(i, n + i) for i in range(n)], k)
    assert values[k] > 4 * values[k - 1], "the test data must have an eigengap"

    torch.manual_seed(seed)
    v1, v2 = torch.from_numpy(x1), torch.from_numpy(x2)
    w = torch.nn.Parameter(torch.randn(d, k, dtype=torch.float64) * 0.5)
    start = np.cos(subspace_angles(w.detach().numpy(), closed))
    loss_fn = build_loss("vicreg", sim_coeff=5.0, std_coeff=25.0, cov_coeff=25.0)
    opt = torch.optim.Adam([w], lr=0.05)
    steps = 1000
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    for _ in range(steps):
        loss = loss_fn(v1 @ w, v2 @ w)["loss"]
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
    cosines = np.cos(subspace_angles(w.detach().numpy(), closed))
    assert start.min() < 0.9
    assert cosines.min() >= 0.99, cosines


def test_closed_form_is_the_pooled_generalized_eigenproblem() -> None:
    """The helper's pairing-graph quantities equal their direct forms: X^T L X = sum over
    edges of (x_i - x_j)(x_i - x_j)^T and X^T H X / (N - 1) the pooled covariance."""
    x1, x2 = antithetic_pairs(32, 4, 2, seed=3)
    stacked = np.concatenate([x1, x2])
    vectors, values = spectral_embedding_closed_form(stacked, [(i, 32 + i) for i in range(32)], 4)
    a = (x1 - x2).T @ (x1 - x2)
    b = np.cov(stacked, rowvar=False)
    assert np.allclose(a @ vectors, b @ vectors * values)
    assert np.allclose(vectors.T @ b @ vectors, np.eye(4))
