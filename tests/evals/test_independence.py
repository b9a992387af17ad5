"""HSIC estimators: ~0 for independent samples, clearly positive for dependent ones."""

from __future__ import annotations

import torch

from sslctl.evals.independence import (
    dhsic,
    dhsic_pvalue,
    hsic,
    normalized_hsic,
    pairwise_independence,
    permutation_pvalue,
)


def samples(n: int = 400, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, generator=g, dtype=torch.float64), torch.randn(
        n, generator=g, dtype=torch.float64
    )


def test_hsic_near_zero_for_independent_and_positive_for_y_equals_x_squared() -> None:
    """y = x^2 is uncorrelated with x but dependent: HSIC sees it (10x the independent value)."""
    x, y = samples()
    independent, dependent = float(hsic(x, y)), float(hsic(x, x**2))
    assert independent < 1e-3 and dependent > 10 * independent
    assert float(normalized_hsic(x, x**2)) > 0.2 > 0.02 > float(normalized_hsic(x, y))


def test_normalised_hsic_is_scale_invariant() -> None:
    """Rescaling either variable leaves the normalised HSIC unchanged (median heuristic)."""
    x, _ = samples()
    base = normalized_hsic(x, x**2)
    assert torch.isclose(normalized_hsic(100 * x, 0.01 * x**2), base, rtol=1e-6)


def test_hsic_matches_explicit_trace_formula() -> None:
    """HSIC_b = tr(K H L H) / (n-1)^2 with explicit matrices."""
    x, y = samples(n=50)
    from sslctl.evals.independence import gaussian_gram

    k, l = gaussian_gram(x[None])[0], gaussian_gram(y[None])[0]  # noqa: E741
    h = torch.eye(50, dtype=torch.float64) - 1 / 50
    expected = torch.trace(k @ h @ l @ h) / 49**2
    assert torch.isclose(hsic(x, y), expected)


def test_permutation_pvalues() -> None:
    """Dependent pair: p-value at the floor; independent pair: not small."""
    x, y = samples()
    assert permutation_pvalue(x, x**2, permutations=99) <= 0.02
    assert permutation_pvalue(x, y, permutations=99) > 0.05


def test_dhsic_detects_joint_dependence() -> None:
    """dHSIC of three independent variables is ~0; with x, x^2 among them it is larger."""
    x, y = samples()
    z = samples(seed=1)[0]
    assert float(dhsic(torch.stack([x, x**2, y], 1))) > 5 * float(dhsic(torch.stack([x, y, z], 1)))


def test_dhsic_permutation_pvalues() -> None:
    """Joint dependence (x, x^2, y): p-value at the floor; independent (x, y, z): not small."""
    x, y = samples(n=300)
    z = samples(n=300, seed=1)[0]
    assert dhsic_pvalue(torch.stack([x, x**2, y], 1), permutations=99) <= 0.02
    assert dhsic_pvalue(torch.stack([x, y, z], 1), permutations=99) > 0.05


def test_dhsic_of_two_variables_is_hsic_with_n_squared_normalisation() -> None:
    """For d = 2, dHSIC equals tr(KHLH) / n^2, i.e. HSIC_b x ((n-1)/n)^2."""
    x, y = samples(n=60)
    expected = hsic(x, x**2 + y) * (59 / 60) ** 2
    assert torch.isclose(dhsic(torch.stack([x, x**2 + y], 1)), expected)


def test_constant_features_are_ignored() -> None:
    """Collapsed (constant) dimensions do not enter the average; none left gives NaN."""
    g = torch.Generator().manual_seed(0)
    live = torch.randn(300, 4, generator=g)
    padded = torch.cat([live, torch.zeros(300, 4)], 1)
    a = pairwise_independence(live, pairs=16, samples=300)
    b = pairwise_independence(padded, pairs=16, samples=300)
    assert abs(a["nhsic"] - b["nhsic"]) < 0.02
    assert torch.isnan(torch.tensor(pairwise_independence(torch.zeros(50, 3))["hsic"]))


def test_pairwise_independence_of_independent_vs_mixed_features() -> None:
    """Averaged over feature pairs: independent features score lower than mixed ones."""
    g = torch.Generator().manual_seed(0)
    sources = torch.randn(600, 8, generator=g)
    mixed = sources @ torch.randn(8, 8, generator=g) + 0.5 * sources**2
    a = pairwise_independence(sources, pairs=32, samples=300)
    b = pairwise_independence(mixed, pairs=32, samples=300, permutations=50)
    assert b["nhsic"] > 3 * a["nhsic"] and 0 < b["pvalue"] <= 1
    assert b["dhsic_pvalue"] <= 0.05
