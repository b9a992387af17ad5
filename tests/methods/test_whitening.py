"""Whitening numerics: IterNorm's spectrum, Cholesky and ST whitening, ST's exact gradient,
full precision under autocast, and clear NumericalErrors."""

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
    """A shifted Gaussian sample whose covariance spans two orders of magnitude."""
    g = torch.Generator().manual_seed(seed)
    scales = torch.logspace(-1, 1, d, dtype=torch.float64)
    mix = torch.linalg.qr(torch.randn(d, d, generator=g, dtype=torch.float64))[0]
    return (torch.randn(n, d, generator=g, dtype=torch.float64) * scales) @ mix + 3.0


def cov(x: torch.Tensor) -> torch.Tensor:
    xc = x - x.mean(0)
    return xc.T @ xc / (len(x) - 1)


def eigenvalues(x: torch.Tensor) -> torch.Tensor:
    return torch.linalg.eigvalsh(cov(x))


@pytest.mark.parametrize("iters", [1, 4, 7])
def test_iternorm_feature_axis_follows_the_scalar_newton_recursion(iters: int) -> None:
    """axis=1: with lambda the covariance eigenvalues and t their sum, cov(out) has the
    eigenvalues (lambda/t) f_T(lambda/t)^2 (not 1: T Newton steps do not whiten)."""
    x = anisotropic()
    lam = eigenvalues(x)
    mu = lam / lam.sum()
    expected = mu * newton_eigen_map(mu, iters) ** 2
    got = eigenvalues(iternorm(x, iters=iters, axis=1))
    assert torch.allclose(got, expected, rtol=1e-9, atol=1e-12)
    assert got.min() < 0.5 * got.max(), "T Newton steps leave the spectrum uneven here"


def test_iternorm_sample_axis_normalises_the_gram_matrix() -> None:
    """axis=0 (official default): the samples are the variables; the N x N Gram matrix of
    the sample-centred rows (over D - 1) follows the same recursion."""
    z = anisotropic(n=64, d=12, seed=1).T.contiguous()  # batch 12, dim 64
    gram = eigenvalues(z.T)  # rows of z.T are the 64 features, columns the 12 samples
    mu = gram / gram.sum()
    got = eigenvalues(iternorm(z, iters=4, axis=0).T)
    assert torch.allclose(got, mu * newton_eigen_map(mu, 4) ** 2, rtol=1e-9, atol=1e-12)


def test_iternorm_runs_in_float32_for_half_precision_input() -> None:
    """bf16 embeddings under bf16 autocast: IterNorm returns float32 with the float32
    spectrum (no bf16 matmul)."""
    x = anisotropic(n=256).float().bfloat16()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = iternorm(x, iters=4, axis=1)
    reference = iternorm(x.float(), iters=4, axis=1)
    assert out.dtype == torch.float32
    assert torch.allclose(out, reference, rtol=1e-5, atol=1e-6)


def test_cholesky_whitening_gives_identity_covariance() -> None:
    """W-MSE's whitening: the output covariance is the identity, also per sub-batch of a
    batched [k, n, d] input, also for bf16 input under autocast (returned as float32)."""
    x = anisotropic()
    assert torch.allclose(cov(cholesky_whiten(x)), torch.eye(8, dtype=torch.float64), atol=1e-10)
    batched = cholesky_whiten(x.view(4, 128, 8))
    for k in range(4):
        assert torch.allclose(cov(batched[k]), torch.eye(8, dtype=torch.float64), atol=1e-10)
        assert torch.allclose(batched[k], cholesky_whiten(x[128 * k : 128 * (k + 1)]))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = cholesky_whiten(x.float().bfloat16())
    assert out.dtype == torch.float32
    assert torch.allclose(cov(out.double()), torch.eye(8, dtype=torch.float64), atol=1e-3)


@pytest.mark.parametrize("power", [0.5, 0.0, 0.25, 1.0])
def test_spectral_transform_maps_eigenvalues_to_lambda_power_one_minus_two_p(power: float) -> None:
    """ST: cov(out) has eigenvalues lambda^(1 - 2p): p = 0.5 whitens (identity
    covariance), p = 0 leaves the spectrum unchanged."""
    x = anisotropic()
    out = spectral_transform(x, power=power)
    expected = (eigenvalues(x) ** (1 - 2 * power)).sort().values
    assert torch.allclose(eigenvalues(out), expected, rtol=1e-8)
    if power == 0.5:
        assert torch.allclose(cov(out), torch.eye(8, dtype=torch.float64), atol=1e-10)
    if power == 0.0:
        assert torch.allclose(out, x - x.mean(0))


def test_spectral_transform_gradient_is_exact() -> None:
    """The Daleckii-Krein backward matches finite differences (gradcheck), for a generic
    covariance and for an isotropic one (all eigenvalues equal, where autograd through
    torch.linalg.eigh is undefined), along both axes."""
    x = anisotropic(n=12, d=4, seed=2).requires_grad_(True)
    for power in (0.5, 0.3):
        assert torch.autograd.gradcheck(lambda t, p=power: spectral_transform(t, power=p), (x,))
    raw = torch.randn(12, 4, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    iso = torch.linalg.qr(raw - raw.mean(0))[0] * 11**0.5  # centred columns, covariance I
    assert torch.allclose(cov(iso), torch.eye(4, dtype=torch.float64), atol=1e-12)
    iso.requires_grad_(True)
    assert torch.autograd.gradcheck(lambda t: spectral_transform(t, power=0.5), (iso,))
    wide = anisotropic(n=20, d=5, seed=3).T.contiguous().requires_grad_(True)  # batch 5, dim 20
    assert torch.autograd.gradcheck(lambda t: spectral_transform(t, power=0.5, axis=0), (wide,))


def test_singular_and_non_finite_inputs_raise_numerical_error_naming_the_step() -> None:
    """Rank-deficient or collapsed input, NaN or Inf: NumericalError naming the step."""
    x = anisotropic(n=64).float()
    with pytest.raises(NumericalError, match="Cholesky whitening failed: matrix not positive"):
        cholesky_whiten(torch.cat([x, x[:, :1]], dim=1))
    with pytest.raises(NumericalError, match="Cholesky whitening failed: matrix not positive"):
        cholesky_whiten(x[:6])  # 6 samples cannot span 8 dimensions
    same_rows = torch.randn(1, 8).repeat(32, 1)  # the batch mean is off by rounding only
    with pytest.raises(NumericalError, match="IterNorm .*collapsed"):
        iternorm(same_rows, iters=4, axis=1)
    with pytest.raises(NumericalError, match="Cholesky whitening failed: .*collapsed"):
        cholesky_whiten(same_rows)
    with pytest.raises(NumericalError, match="spectral transform .*collapsed"):
        spectral_transform(same_rows)
    with pytest.raises(NumericalError, match="spectral transform .*singular"):
        spectral_transform(torch.cat([x, x[:, :1]], dim=1))
    for bad in (float("nan"), float("inf")):
        y = x.clone()
        y[3, 2] = bad
        with pytest.raises(NumericalError, match="IterNorm .*NaN or Inf"):
            iternorm(y, iters=4, axis=0)
        with pytest.raises(NumericalError, match="IterNorm .*NaN or Inf"):
            iternorm(y, iters=4, axis=1)
        with pytest.raises(NumericalError, match="Cholesky whitening failed: the input contains"):
            cholesky_whiten(y)
        with pytest.raises(NumericalError, match="spectral transform .*NaN or Inf"):
            spectral_transform(y)


def test_bad_shapes_and_axes_are_value_errors() -> None:
    """1-D input, an axis outside {0, 1}, a single observation: ValueError."""
    with pytest.raises(ValueError, match="shape"):
        iternorm(torch.randn(8))
    with pytest.raises(ValueError, match="axis"):
        spectral_transform(torch.randn(8, 2), axis=3)
    with pytest.raises(ValueError, match="batch >= 2"):
        iternorm(torch.randn(1, 4), axis=1)
    with pytest.raises(ValueError, match="at least 2 samples"):
        cholesky_whiten(torch.randn(1, 4))
