"""Whitening numerics: IterNorm's spectrum, Cholesky and ST whitening, clear failures."""

from __future__ import annotations

import pytest
import torch

from sslctl.errors import NumericalError
from sslctl.methods.whitening import (
    cholesky_whiten,
    iternorm,
    newton_eigen_map,
    spectral_transform,
)


def anisotropic(n: int = 512, d: int = 8, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    scales = torch.logspace(-1, 1, d, dtype=torch.float64)
    return torch.randn(n, d, generator=g, dtype=torch.float64) * scales + 3.0


def cov(x: torch.Tensor) -> torch.Tensor:
    xc = x - x.mean(0)
    return xc.T @ xc / (len(x) - 1)


def test_iternorm_eigenvalues_follow_the_scalar_newton_recursion() -> None:
    """axis=1, T=4: with lambda the trace-normalised covariance eigenvalues, cov(out) has
    eigenvalues lambda * f_T(lambda)^2 (not 1: four Newton iterations do not whiten)."""
    x = anisotropic()
    out = iternorm(x.float(), iters=4, axis=1).double()
    lam = torch.linalg.eigvalsh(cov(x.float().double()))
    lam = lam / lam.sum()
    expected = lam * newton_eigen_map(lam, 4) ** 2
    got = torch.linalg.eigvalsh(cov(out))
    assert torch.allclose(got.sort().values, expected.sort().values, rtol=2e-3, atol=1e-5)
    assert not torch.allclose(got, torch.ones_like(got), atol=0.05), "T=4 is not white"


def test_iternorm_axis0_normalises_the_sample_gram_matrix() -> None:
    """axis=0 treats samples as the variables: the N x N Gram spectrum follows the same
    recursion (N < D here, as in the official setting)."""
    z = anisotropic(n=256, d=8).T.contiguous()  # batch 8, dim 256
    out = iternorm(z.float(), iters=4, axis=0).double()
    lam = torch.linalg.eigvalsh(cov(z.T.double()))
    lam = lam / lam.sum()
    got = torch.linalg.eigvalsh(cov(out.T))
    expected = lam * newton_eigen_map(lam, 4) ** 2
    assert torch.allclose(got.sort().values, expected.sort().values, rtol=2e-3, atol=1e-5)


def test_cholesky_whitening_gives_identity_covariance() -> None:
    """W-MSE's whitening: the output covariance is the identity."""
    out = cholesky_whiten(anisotropic().float()).double()
    assert torch.allclose(cov(out), torch.eye(8, dtype=torch.float64), atol=1e-3)


def test_spectral_transform_powers() -> None:
    """ST: power 0.5 whitens; power 0 leaves the (centred) spectrum unchanged."""
    x = anisotropic().float()
    white = spectral_transform(x, power=0.5).double()
    assert torch.allclose(cov(white), torch.eye(8, dtype=torch.float64), atol=1e-4)
    same = spectral_transform(x, power=0.0).double()
    assert torch.allclose(
        torch.linalg.eigvalsh(cov(same)), torch.linalg.eigvalsh(cov(x.double())), rtol=1e-4
    )


def test_whitening_runs_in_fp32_under_autocast() -> None:
    """Under bf16 autocast the whitening still returns float32 and identity covariance."""
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = cholesky_whiten(anisotropic().float())
    assert out.dtype == torch.float32
    assert torch.allclose(cov(out.double()), torch.eye(8, dtype=torch.float64), atol=1e-3)


def test_singular_and_non_finite_inputs_name_the_step() -> None:
    """A rank-deficient sub-batch or NaN input raises NumericalError naming the step."""
    with pytest.raises(NumericalError, match="Cholesky"):
        cholesky_whiten(torch.ones(32, 8))
    bad = anisotropic().float()
    bad[0, 0] = float("nan")
    with pytest.raises(NumericalError, match="IterNorm"):
        iternorm(bad, iters=4, axis=1)
    with pytest.raises(NumericalError, match="spectral"):
        spectral_transform(bad)
