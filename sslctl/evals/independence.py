"""Pairwise independence of representation features (Mialon, Balestriero, LeCun 2022).

HSIC (Gretton et al., 2005) with Gaussian kernels ``k(a, b) = exp(-(a - b)^2 / (2 s^2))``
whose bandwidth ``s^2`` is the median squared distance between samples (median heuristic,
estimated on a fixed subset of at most 4,096 sample pairs). The *biased* estimator is used,
normalised by ``(n - 1)^2``::

    HSIC_b(X, Y) = tr(K H L H) / (n - 1)^2,     H = I - 11^T / n

(Gretton et al. 2005 write ``(m - 1)^{-2} tr(KHLH)``; some libraries divide by ``n^2``,
which differs by the factor ``((n - 1) / n)^2``). It is computed without forming ``H``:
``tr(KHLH) = <K, L> - 2/n <K1, L1> + (1^T K 1)(1^T L 1) / n^2``. The normalised variant
``HSIC(X, Y) / sqrt(HSIC(X, X) HSIC(Y, Y))`` (as in CKA) lies in [0, 1] and is invariant to
rescaling either feature. dHSIC (Pfister et al., 2018) measures the *joint* independence
of several variables. Permutation tests give p-values for both.

All computations are float64; pairs are processed in vectorised batches of kernel matrices.
"""

from __future__ import annotations

import torch

MEDIAN_PAIRS = 4096  # sample pairs used to estimate the median heuristic bandwidth


def median_sq_distance(x: torch.Tensor, max_pairs: int = MEDIAN_PAIRS) -> torch.Tensor:
    """Median squared distance between distinct samples of each row of ``x`` [B, n],
    estimated on a fixed, evenly spread subset of at most ``max_pairs`` index pairs (the
    median heuristic without sorting n^2 distances)."""
    n = x.shape[1]
    i, j = torch.triu_indices(n, n, offset=1, device=x.device)
    if len(i) > max_pairs:
        keep = torch.linspace(0, len(i) - 1, max_pairs, device=x.device).long()
        i, j = i[keep], j[keep]
    return ((x[:, i] - x[:, j]) ** 2).median(dim=1).values.clamp_min(1e-12)


def gaussian_gram(x: torch.Tensor) -> torch.Tensor:
    """Gaussian kernel matrices [B, n, n] of 1-d samples [B, n] (float64):
    exp(-d^2 / (2 s^2)) with s^2 the median squared distance (median heuristic)."""
    x = x.double().contiguous()  # a transposed view would give a strided (slow) k
    sigma2 = median_sq_distance(x)
    k = x[:, :, None] - x[:, None, :]
    k.square_().div_(-2 * sigma2[:, None, None]).exp_()
    return k


def _stats(k: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Row sums [B, n] and totals [B] of kernel matrices [B, n, n]."""
    rows = k.sum(2)
    return rows, rows.sum(1)


def _hsic(
    k: torch.Tensor,
    l: torch.Tensor,  # noqa: E741
    sk: tuple[torch.Tensor, torch.Tensor],
    sl: tuple[torch.Tensor, torch.Tensor],
) -> torch.Tensor:
    n = k.shape[-1]
    inner = torch.bmm(k.reshape(len(k), 1, -1), l.reshape(len(l), -1, 1)).flatten()
    cross = (sk[0] * sl[0]).sum(1)
    return (inner - 2 * cross / n + sk[1] * sl[1] / n**2) / (n - 1) ** 2


def hsic_from_grams(k: torch.Tensor, l: torch.Tensor) -> torch.Tensor:  # noqa: E741
    """Biased HSIC of kernel matrices [B, n, n] -> [B]: tr(K H L H) / (n-1)^2."""
    return _hsic(k, l, _stats(k), _stats(l))


def _batched(fn):  # [n] -> scalar, [B, n] -> [B]
    def wrapper(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if x.ndim == 1:
            return fn(x[None], y[None])[0]
        return fn(x, y)

    wrapper.__doc__ = fn.__doc__
    wrapper.__name__ = fn.__name__
    return wrapper


def _hsic_and_normalised(x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    k, l = gaussian_gram(x), gaussian_gram(y)  # noqa: E741
    sk, sl = _stats(k), _stats(l)
    value = _hsic(k, l, sk, sl)
    norm = torch.sqrt((_hsic(k, k, sk, sk) * _hsic(l, l, sl, sl)).clamp_min(1e-24))
    return value, value / norm


@_batched
def hsic(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """HSIC_b between paired 1-d samples, batched: x, y [B, n] (or [n]) -> [B] (or scalar)."""
    return hsic_from_grams(gaussian_gram(x), gaussian_gram(y))


@_batched
def normalized_hsic(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """HSIC(X, Y) / sqrt(HSIC(X, X) HSIC(Y, Y)) in [0, 1], batched like :func:`hsic`."""
    return _hsic_and_normalised(x, y)[1]


def _dhsic_from_grams(grams: torch.Tensor) -> torch.Tensor:
    term1 = grams.prod(0).mean()
    term2 = grams.mean((1, 2)).prod()
    term3 = 2 * grams.mean(2).prod(0).mean()
    return term1 + term2 - term3


def dhsic(features: torch.Tensor) -> torch.Tensor:
    """dHSIC (Pfister et al. 2018) of the columns of ``features`` [n, d]: the V-statistic
    (1/n^2) sum_ab prod_j K^j_ab + prod_j (1/n^2) sum_ab K^j_ab
    - (2/n) sum_a prod_j (1/n) sum_b K^j_ab, which is 0 iff the d variables are jointly
    independent (for characteristic kernels); for d = 2 it equals tr(KHLH) / n^2."""
    return _dhsic_from_grams(gaussian_gram(features.double().T))


def _chunks(total: int, elements: int, budget: int = 2**24) -> list[int]:
    """Split ``total`` permutations into chunks of ``budget / elements`` at most (memory:
    ``elements`` float64 values per permutation)."""
    size = max(1, budget // elements)
    return [min(size, total - start) for start in range(0, total, size)]


def permutation_pvalue(
    x: torch.Tensor, y: torch.Tensor, permutations: int = 200, seed: int = 0
) -> float:
    """p-value of H0 "x independent of y": the share of HSIC values with y permuted (which
    breaks any dependence) at least as large as the observed one, (count + 1) / (P + 1)."""
    gen = torch.Generator().manual_seed(seed)
    k, l = gaussian_gram(x[None]), gaussian_gram(y[None])  # noqa: E741
    sk, sl = _stats(k), _stats(l)
    observed = _hsic(k, l, sk, sl)[0]
    n, exceed = len(y), 0
    for chunk in _chunks(permutations, n * n):
        p = torch.stack([torch.randperm(n, generator=gen) for _ in range(chunk)])
        lp = l[0][p[:, :, None], p[:, None, :]]
        slp = (sl[0][0][p], sl[1].expand(chunk))
        exceed += int((_hsic(k.expand(chunk, -1, -1), lp, sk, slp) >= observed).sum())
    return (exceed + 1) / (permutations + 1)


def dhsic_pvalue(features: torch.Tensor, permutations: int = 200, seed: int = 0) -> float:
    """Permutation test of joint independence of the columns of ``features`` [n, d]
    (Pfister et al. 2018): every column but the first is permuted independently."""
    gen = torch.Generator().manual_seed(seed)
    grams = gaussian_gram(features.double().T)
    observed = _dhsic_from_grams(grams)
    d, n = grams.shape[:2]
    exceed = 0
    for chunk in _chunks(permutations, d * n * n):
        shuffled = [grams[0].expand(chunk, -1, -1)]
        for g in grams[1:]:
            p = torch.stack([torch.randperm(n, generator=gen) for _ in range(chunk)])
            shuffled.append(g[p[:, :, None], p[:, None, :]])
        stacked = torch.stack(shuffled, 1)  # [chunk, d, n, n]
        term1 = stacked.prod(1).mean((1, 2))
        term2 = stacked.mean((2, 3)).prod(1)
        term3 = 2 * stacked.mean(3).prod(1).mean(1)
        exceed += int((term1 + term2 - term3 >= observed).sum())
    return (exceed + 1) / (permutations + 1)


def pairwise_independence(
    features: torch.Tensor,
    *,
    pairs: int = 256,
    samples: int = 1000,
    subset: int = 4,
    permutations: int = 0,
    seed: int = 0,
    batch: int = 16,
) -> dict[str, float]:
    """Independence diagnostics of the features [n, d] of held-out samples.

    ``samples`` random rows; each feature standardised. ``hsic`` and ``nhsic``: mean HSIC_b
    and normalised HSIC over ``pairs`` random pairs of distinct features (vectorised over
    ``batch`` pairs at a time); ``dhsic``: dHSIC of ``subset`` random features. With
    ``permutations > 0``: ``pvalue`` (permutation test of the first random pair) and
    ``dhsic_pvalue`` (permutation test of joint independence of the dHSIC subset).
    Constant features (collapsed
    dimensions) are excluded; with fewer than two left, the values are NaN.
    """
    gen = torch.Generator().manual_seed(seed)
    n, d = features.shape
    if d < 2:
        raise ValueError(f"pairwise independence needs at least 2 features, got {d}")
    rows = torch.randperm(n, generator=gen)[: min(samples, n)]
    x = features[rows].double()
    std = x.std(0)
    alive = torch.nonzero(std > 1e-8 * std.max().clamp_min(1e-30)).flatten()
    if len(alive) < 2:
        nan = float("nan")
        return {"hsic": nan, "nhsic": nan, "dhsic": nan}
    x = ((x - x.mean(0)) / std)[:, alive]
    d = x.shape[1]
    a = torch.randint(0, d, (pairs,), generator=gen)
    b = (a + torch.randint(1, d, (pairs,), generator=gen)) % d
    values, normed = [], []
    for start in range(0, pairs, batch):
        xa, xb = x[:, a[start : start + batch]].T, x[:, b[start : start + batch]].T
        value, norm = _hsic_and_normalised(xa, xb)
        values.append(value)
        normed.append(norm)
    values_t = torch.cat(values)
    cols = torch.randperm(d, generator=gen)[: min(subset, d)]
    out = {
        "hsic": float(values_t.mean()),
        "nhsic": float(torch.cat(normed).mean()),
        "dhsic": float(dhsic(x[:, cols])),
    }
    if permutations:
        out["pvalue"] = permutation_pvalue(x[:, a[0]], x[:, b[0]], permutations, seed)
        out["dhsic_pvalue"] = dhsic_pvalue(x[:, cols], permutations, seed)
    return out
