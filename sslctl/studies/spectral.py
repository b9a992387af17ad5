"""Closed forms of Balestriero & LeCun (NeurIPS 2022), "Contrastive and Non-Contrastive
Self-Supervised Learning Recover Global and Local Spectral Embedding Methods".

For data X (N x D) with a known pairwise relation graph G (here: each sample is joined to
its other view), a linear encoder z = W^T x trained with VICReg, in the regime where the
variance and covariance terms dominate the invariance term, solves

    min_W tr(W^T X^T L X W)   s.t.   W^T (X^T H X / (N - 1)) W = I

(L the Laplacian of G, H the centring matrix): W spans the K smallest generalized
eigenvectors of (X^T L X) w = lambda (X^T H X / (N - 1)) w — Laplacian eigenmaps on the
augmentation graph. The study trains linear encoders with VICReg, SimCLR and Barlow Twins
on the same data and reports the principal-angle cosines between what each reaches and
this closed form as 1 - cos (0 = the same subspace), next to a trivial baseline that
uses no pairing: the top-K principal subspace of the pooled views (``pca``), so that a
reader can tell a converged method from a subspace that merely looks close.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from sslctl.methods import build_loss


@dataclass
class SpectralRow:
    """``one_minus_cos``: 1 - the smallest principal-angle cosine between the method's
    subspace and the closed form (the worst direction); ``mean_one_minus_cos``: 1 - their
    mean; the VICReg loss of the method's W and of the closed form."""

    method: str
    seed: int
    one_minus_cos: float
    mean_one_minus_cos: float
    loss_trained: float
    loss_closed_form: float


def make_views(
    n: int = 512, d: int = 12, seed: int = 0, k: int = 3
) -> tuple[torch.Tensor, torch.Tensor]:
    """Two views of n points in d dims: anisotropic data plus view noise whose size differs
    per direction — small in k directions, large in the others — so the k directions the
    views agree on are well separated (an eigengap), then a random rotation."""
    g = torch.Generator().manual_seed(seed)
    scales = torch.linspace(0.5, 2.0, d, dtype=torch.float64)
    noise = torch.cat(
        [
            torch.linspace(0.05, 0.2, k, dtype=torch.float64),
            torch.linspace(0.8, 1.5, d - k, dtype=torch.float64),
        ]
    )
    noise = noise[torch.randperm(d, generator=g)]
    rot = torch.linalg.qr(torch.randn(d, d, generator=g, dtype=torch.float64))[0]
    base = torch.randn(n, d, generator=g, dtype=torch.float64) * scales
    views = [
        (base + torch.randn(n, d, generator=g, dtype=torch.float64) * noise) @ rot for _ in range(2)
    ]
    return views[0], views[1]


def closed_form_vicreg(x1: torch.Tensor, x2: torch.Tensor, k: int) -> np.ndarray:
    """The K smallest generalized eigenvectors of (X^T L X) w = lambda (X^T H X/(N-1)) w,
    G joining each sample to its other view; columns satisfy W^T B W = I. As VICReg
    constrains each view's covariance, B is the mean of the two views' covariances."""
    from scipy.linalg import eigh

    diff = (x1 - x2).numpy()
    a = diff.T @ diff  # X^T L X for the pairing graph: sum over edges of (x_i - x_j)(x_i - x_j)^T
    b = sum(np.cov(x.numpy(), rowvar=False) for x in (x1, x2)) / 2  # VICReg: per-view moments
    _, vectors = eigh(a, b)
    return vectors[:, :k]


def _loss(name: str) -> dict:
    return {
        "vicreg": {"sim_coeff": 5.0, "std_coeff": 25.0, "cov_coeff": 25.0},
        "simclr": {"temperature": 0.5},
        "barlow": {"lambd": 0.0051},
    }[name]


def train_linear(
    method: str,
    x1: torch.Tensor,
    x2: torch.Tensor,
    k: int,
    *,
    steps: int = 3000,
    lr: float = 0.02,
    seed: int = 0,
) -> np.ndarray:
    """Full-batch Adam on a linear encoder W (D x K) with the method's loss."""
    g = torch.Generator().manual_seed(seed)
    w = torch.nn.Parameter(torch.randn(x1.shape[1], k, generator=g, dtype=torch.float64) * 0.3)
    loss_fn = build_loss(method, **_loss(method))
    opt = torch.optim.Adam([w], lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    for _ in range(steps):
        loss = loss_fn(x1 @ w, x2 @ w)["loss"]
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
    return w.detach().numpy()


def pca_subspace(x1: torch.Tensor, x2: torch.Tensor, k: int) -> np.ndarray:
    """The trivial baseline: the top-K principal directions of both views pooled (no
    use of which sample pairs with which)."""
    x = torch.cat([x1, x2]).numpy()
    _, _, vt = np.linalg.svd(x - x.mean(0), full_matrices=False)
    return vt[:k].T


def principal_cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cosines of the principal angles between the column spans of a and b."""
    from scipy.linalg import subspace_angles

    return np.cos(subspace_angles(a, b))


def run_spectral_study(
    *,
    methods: tuple[str, ...] = ("vicreg", "simclr", "barlow"),
    seeds: tuple[int, ...] = (0, 1, 2),
    n: int = 256,
    d: int = 12,
    k: int = 3,
    steps: int = 3000,
) -> list[SpectralRow]:
    """Train each method on each seed's data; compare with the VICReg closed form, and
    the PCA baseline (row ``pca``) likewise."""
    rows = []
    vicreg = build_loss("vicreg", **_loss("vicreg"))
    for seed in seeds:
        x1, x2 = make_views(n, d, seed, k)
        closed = closed_form_vicreg(x1, x2, k)
        wc = torch.from_numpy(closed)
        loss_closed = float(vicreg(x1 @ wc, x2 @ wc)["loss"])
        found = {m: train_linear(m, x1, x2, k, steps=steps, seed=seed) for m in methods}
        found["pca"] = pca_subspace(x1, x2, k)
        for method, w in found.items():
            cos = principal_cosines(w, closed)
            wt = torch.from_numpy(np.ascontiguousarray(w))
            rows.append(
                SpectralRow(
                    method,
                    seed,
                    float(1 - cos.min()),
                    float(1 - cos.mean()),
                    float(vicreg(x1 @ wt, x2 @ wt)["loss"]),
                    loss_closed,
                )
            )
    return rows
