"""Spectrum of the embedding covariance (INTL paper: whitening modulates the spectrum
toward equal eigenvalues), effective rank and collapse diagnostics."""

from __future__ import annotations

from pathlib import Path

import torch

COLLAPSE_RTOL = 1e-4  # an eigenvalue below 1e-4 x the largest counts as collapsed


def eigenvalues(z: torch.Tensor) -> torch.Tensor:
    """Eigenvalues of the covariance of ``z`` [n, d] (float64), descending."""
    x = z.double()
    x = x - x.mean(0)
    cov = x.T @ x / (len(x) - 1)
    return torch.linalg.eigvalsh(cov).flip(0).clamp_min(0)


def rankme(z: torch.Tensor, eps: float = 1e-7) -> float:
    """RankMe (Garrido et al., 2023): exp of the entropy of the normalised singular values
    of the embedding matrix, p_k = s_k / sum s + eps; between 1 and min(n, d)."""
    s = torch.linalg.svdvals(z.double())
    p = s / s.sum() + eps
    return float(torch.exp(-(p * p.log()).sum()))


def spectrum_stats(z: torch.Tensor) -> dict[str, float]:
    """rankme, condition number (largest / smallest non-collapsed eigenvalue) and the
    fraction of collapsed dimensions (eigenvalue < COLLAPSE_RTOL x the largest)."""
    lam = eigenvalues(z)
    alive = lam > COLLAPSE_RTOL * lam[0].clamp_min(1e-30)
    return {
        "rankme": rankme(z),
        "condition": float(lam[0] / lam[alive][-1]) if alive.any() else float("inf"),
        "collapsed": float(1 - alive.double().mean()),
    }


def plot_spectra(spectra: dict[int, list[float]], path: Path, title: str = "") -> Path:
    """PNG: log eigenvalue against index, one line per epoch."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    cmap = plt.get_cmap("viridis")
    epochs = sorted(spectra)
    for i, epoch in enumerate(epochs):
        values = torch.tensor(spectra[epoch]).clamp_min(1e-12)
        ax.plot(values.numpy(), color=cmap(i / max(1, len(epochs) - 1)), label=f"epoch {epoch}")
    ax.set_yscale("log")
    ax.set_xlabel("eigenvalue index")
    ax.set_ylabel("eigenvalue of the embedding covariance")
    ax.set_title(title)
    if len(epochs) <= 10:
        ax.legend(fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
