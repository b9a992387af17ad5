"""Pairwise independence of representation features (Mialon, Balestriero, LeCun 2022).

HSIC (Gretton et al., 2005) with Gaussian kernels whose bandwidth is the median pairwise
distance (median heuristic). The biased estimator is used:
``HSIC_b(X, Y) = tr(K H L H) / (n - 1)^2`` with ``H = I - 11^T / n``. The normalised
variant ``HSIC(X, Y) / sqrt(HSIC(X, X) HSIC(Y, Y))`` (as in CKA) lies in [0, 1] and is
invariant to rescaling either feature. dHSIC (Pfister et al., 2018) measures the joint
independence of several variables. A permutation test gives p-values.
All computations are float64; pairs are processed in vectorised batches.
"""

from __future__ import annotations

import torch


def _sq_dists(x: torch.Tensor) -> torch.Tensor:
    """Pairwise squared distances of 1-d samples, batched: [B, n] -> [B, n, n]."""
    return (x[:, :, None] - x[:, None, :]) ** 2


def median_sq_distance(x: torch.Tensor, max_pairs: int = 4096) -> torch.Tensor:
    """Median squared distance between distinct samples of each row of ``x`` [B, n],
    estimated on a fixed subset of at most ``max_pairs`` index pairs (the median heuristic
    without sorting n^2 distances)."""
    n = x.shape[1]
    i, j = torch.triu_indices(n, n, offset=1, device=x.device)
    if len(i) > max_pairs:
        keep = torch.linspace(0, len(i) - 1, max_pairs, device=x.device).long()
        i, j = i[keep], j[keep]
    return ((x[:, i] - x[:, j]) ** 2).median(dim=1).values.clamp_min(1e-12)


def gaussian_gram(x: torch.Tensor) -> torch.Tensor:
    """Gaussian kernel matrices [B, n, n] of 1-d samples [B, n]: exp(-d^2 / (2 sigma^2))
    with sigma = the median distance between samples (median heuristic)."""
    x = x.double()
    sigma2 = median_sq_distance(x)
    return torch.exp(-_sq_dists(x) / (2 * sigma2[:, None, None]))


def _centre(k: torch.Tensor) -> torch.Tensor:
    return k - k.mean(1, keepdim=True) - k.mean(2, keepdim=True) + k.mean((1, 2), keepdim=True)


def hsic_from_grams(k: torch.Tensor, l: torch.Tensor) -> torch.Tensor:  # noqa: E741
    """Biased HSIC of kernel matrices [B, n, n] -> [B]: tr(K H L H) / (n-1)^2."""
    n = k.shape[-1]
    return (_centre(k) * l).sum((1, 2)) / (n - 1) ** 2


def hsic(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """HSIC_b between paired 1-d samples, batched: x, y [B, n] (or [n]) -> [B] (or scalar)."""
    squeeze = x.ndim == 1
    x, y = (x[None], y[None]) if squeeze else (x, y)
    out = hsic_from_grams(gaussian_gram(x), gaussian_gram(y))
    return out[0] if squeeze else out


def normalized_hsic(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """HSIC(X, Y) / sqrt(HSIC(X, X) HSIC(Y, Y)), batched like :func:`hsic`."""
    squeeze = x.ndim == 1
    x, y = (x[None], y[None]) if squeeze else (x, y)
    k, l = gaussian_gram(x), gaussian_gram(y)  # noqa: E741
    value = hsic_from_grams(k, l) / torch.sqrt(
        (hsic_from_grams(k, k) * hsic_from_grams(l, l)).clamp_min(1e-24)
    )
    return value[0] if squeeze else value


def dhsic(features: torch.Tensor) -> torch.Tensor:
    """dHSIC (Pfister et al. 2018) of the columns of ``features`` [n, d]: a V-statistic
    that is 0 iff the d variables are jointly independent (for characteristic kernels)."""
    grams = gaussian_gram(features.double().T)  # [d, n, n]
    term1 = grams.prod(0).mean()
    term2 = grams.mean((1, 2)).prod()
    term3 = 2 * grams.mean(2).prod(0).mean()
    return term1 + term2 - term3


def permutation_pvalue(
    x: torch.Tensor, y: torch.Tensor, permutations: int = 200, seed: int = 0
) -> float:
    """p-value of H0 "x independent of y" by permuting y (HSIC statistic)."""
    gen = torch.Generator().manual_seed(seed)
    k, l = gaussian_gram(x[None]), gaussian_gram(y[None])  # noqa: E741
    observed = hsic_from_grams(k, l)[0]
    perms = torch.stack([torch.randperm(len(y), generator=gen) for _ in range(permutations)])
    lp = l[0][perms[:, :, None], perms[:, None, :]]
    null = hsic_from_grams(k.expand(permutations, -1, -1), lp)
    return float(((null >= observed).sum() + 1) / (permutations + 1))


def pairwise_independence(
    features: torch.Tensor,
    *,
    pairs: int = 256,
    samples: int = 512,
    subset: int = 4,
    permutations: int = 0,
    seed: int = 0,
    batch: int = 32,
) -> dict[str, float]:
    """Average HSIC and normalised HSIC over random pairs of distinct features of
    ``samples`` random rows, dHSIC of a random ``subset`` of features, and (optionally) the
    permutation p-value of the first pair. Keys: hsic, nhsic, dhsic[, pvalue]."""
    gen = torch.Generator().manual_seed(seed)
    n, d = features.shape
    if d < 2:
        raise ValueError(f"pairwise independence needs at least 2 features, got {d}")
    rows = torch.randperm(n, generator=gen)[: min(samples, n)]
    x = features[rows].double()
    x = (x - x.mean(0)) / x.std(0).clamp_min(1e-12)
    a = torch.randint(0, d, (pairs,), generator=gen)
    b = (a + torch.randint(1, d, (pairs,), generator=gen)) % d
    values, normed = [], []
    for start in range(0, pairs, batch):
        xa, xb = x[:, a[start : start + batch]].T, x[:, b[start : start + batch]].T
        values.append(hsic(xa, xb))
        normed.append(normalized_hsic(xa, xb))
    cols = torch.randperm(d, generator=gen)[: min(subset, d)]
    out = {
        "hsic": float(torch.cat(values).mean()),
        "nhsic": float(torch.cat(normed).mean()),
        "dhsic": float(dhsic(x[:, cols])),
    }
    if permutations:
        out["pvalue"] = permutation_pvalue(x[:, a[0]], x[:, b[0]], permutations, seed)
    return out
