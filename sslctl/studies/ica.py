"""Linear ICA with VCReg (Mialon, Balestriero, LeCun 2022, "Variance Covariance
Regularization Enforces Pairwise Independence in Self-Supervised Representations").

Independent non-Gaussian sources s (Laplace by default) are mixed, x = A s. An unmixing
matrix W is learned by minimising VCReg (variance + covariance, no invariance) on the
output of a random, frozen, wide MLP projector applied to y = W x: decorrelating many
random non-linear features of y forces the components of y to be pairwise independent,
i.e. W A is a scaled permutation. Reported: the Amari distance of W A (0 = perfect
separation, 1 = worst) and the mean |correlation| of matched sources (Hungarian matching),
side by side with scikit-learn's FastICA on the same data.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from sslctl.methods import build_loss


@dataclass
class ICARow:
    method: str
    sources: int
    seed: int
    amari: float
    correlation: float


def amari_distance(p: np.ndarray) -> float:
    """Amari et al. (1996) index of P = W A, normalised to [0, 1]."""
    a = np.abs(p)
    k = a.shape[0]
    rows = (a.sum(1) / a.max(1) - 1).sum()
    cols = (a.sum(0) / a.max(0) - 1).sum()
    return float((rows + cols) / (2 * k * (k - 1)))


def matched_correlation(s: np.ndarray, y: np.ndarray) -> float:
    """Mean |corr| between true and recovered sources after the best one-to-one matching."""
    from scipy.optimize import linear_sum_assignment

    k = s.shape[1]
    corr = np.abs(np.corrcoef(s.T, y.T)[:k, k:])
    r, c = linear_sum_assignment(-corr)
    return float(corr[r, c].mean())


def mixtures(
    k: int, n: int, seed: int, kind: str = "laplace"
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(sources [n, k], mixing A [k, k], observations x = s A^T [n, k])."""
    rng = np.random.default_rng(seed)
    s = rng.laplace(size=(n, k)) if kind == "laplace" else rng.uniform(-1, 1, (n, k))
    s = (s - s.mean(0)) / s.std(0)
    a = rng.normal(size=(k, k))
    return s, a, s @ a.T


def whiten(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """PCA whitening: (x_white, V) with x_white = (x - mean) V and cov(x_white) = I."""
    xc = x - x.mean(0)
    lam, u = np.linalg.eigh(np.cov(xc, rowvar=False))
    v = u / np.sqrt(lam)
    return xc @ v, v


def vcreg_unmixing(
    x: np.ndarray, *, width: int = 256, steps: int = 600, lr: float = 0.02, seed: int = 0
) -> np.ndarray:
    """Learn W [k, k] on whitened data by minimising VCReg on [y, random features of y],
    y = W x_white; the random features are a frozen random projector cos(y P + b) (random
    Fourier features): decorrelating them makes the components of y pairwise independent.
    Returns the unmixing matrix in the original coordinates."""
    g = torch.Generator().manual_seed(seed)
    k = x.shape[1]
    xw, v = whiten(x)
    xt = torch.from_numpy(xw)
    w = torch.nn.Parameter(torch.linalg.qr(torch.randn(k, k, generator=g, dtype=torch.float64))[0])
    proj_w = torch.randn(k, width, generator=g, dtype=torch.float64)
    proj_b = torch.rand(width, generator=g, dtype=torch.float64) * 2 * np.pi
    loss_fn = build_loss("vcreg", std_coeff=25.0, cov_coeff=1.0)
    opt = torch.optim.Adam([w], lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    for _ in range(steps):
        y = xt @ w.T
        features = torch.cat([y, torch.cos(y @ proj_w + proj_b)], 1)
        loss = loss_fn(features, features)["loss"]
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
    return w.detach().numpy() @ v.T


def run_ica_study(
    *,
    sources: tuple[int, ...] = (4, 8),
    seeds: tuple[int, ...] = (0, 1, 2),
    samples: int = 2000,
    width: int = 256,
    steps: int = 600,
    kind: str = "laplace",
) -> list[ICARow]:
    """VCReg and FastICA on identical mixtures for each (sources, seed)."""
    from sklearn.decomposition import FastICA

    rows = []
    for k in sources:
        for seed in seeds:
            s, a, x = mixtures(k, samples, seed, kind)
            w = vcreg_unmixing(x, width=width, steps=steps, seed=seed)
            rows.append(
                ICARow(
                    "vcreg",
                    k,
                    seed,
                    amari_distance(w @ a),
                    matched_correlation(s, (x - x.mean(0)) @ w.T),
                )
            )
            ica = FastICA(
                n_components=k, whiten="unit-variance", random_state=seed, max_iter=1000
            ).fit(x)
            rows.append(
                ICARow(
                    "fastica",
                    k,
                    seed,
                    amari_distance(ica.components_ @ a),
                    matched_correlation(s, ica.transform(x)),
                )
            )
    return rows
