"""INTL against an eigendecomposition re-derivation of winci-ai/INTL (IterNorm + trace loss)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from sslctl.methods import build_loss
from sslctl.methods.intl import auto_trace_coeff, intl_loss
from tests.methods.helpers import cosine_rows, paired_views


def spectral_iternorm(x: np.ndarray, iters: int, axis: int) -> np.ndarray:
    """IterNorm through the eigenvalues: P_T is a polynomial in S = Sigma / tr(Sigma), so
    P_T = V diag(f_T(mu)) V^T with the scalar recursion f <- 1.5 f - 0.5 f^3 mu."""
    rows = x.T if axis == 0 else x
    xc = rows - rows.mean(axis=0)
    sigma = xc.T @ xc / (len(rows) - 1)
    trace = np.trace(sigma)
    mu, v = np.linalg.eigh(sigma / trace)
    f = np.ones_like(mu)
    for _ in range(iters):
        f = 1.5 * f - 0.5 * f**3 * mu
    out = xc @ (v * f) @ v.T / math.sqrt(trace)
    return out.T if axis == 0 else out


def reference_intl(a: np.ndarray, b: np.ndarray, iters: int, axis: int, coeff: float) -> dict:
    """2 - 2 cos of the transformed views + coeff * sum over views of sum_j (Var_j - 1)^2,
    the variances along ``axis`` (per sample over features for 0, per feature for 1)."""
    wa, wb = spectral_iternorm(a, iters, axis), spectral_iternorm(b, iters, axis)
    alignment = float(2 - 2 * cosine_rows(wa, wb).mean())
    var_axis = 1 if axis == 0 else 0
    trace = sum(float(((w.var(axis=var_axis, ddof=1) - 1) ** 2).sum()) for w in (wa, wb))
    return {"loss": alignment + coeff * trace, "alignment": alignment, "trace": trace}


@pytest.mark.parametrize(
    ("axis", "n", "d"),
    [(0, 32, 64), (1, 64, 16)],
    ids=["axis0-sample-gram", "axis1-feature-cov"],
)
def test_intl_matches_the_spectral_reference_with_auto_trace_coeff(
    axis: int, n: int, d: int
) -> None:
    """Default INTL (T=4, trace_coeff auto = 0.01 (log2(batch or dim) - 3)) equals the
    eigendecomposition form of IterNorm + trace loss + normalised MSE, term by term."""
    z1, z2 = paired_views(n=n, d=d, noise=0.5, seed=axis)
    coeff = 0.01 * (math.log2(n if axis == 0 else d) - 3)
    expected = reference_intl(z1.numpy(), z2.numpy(), 4, axis, coeff)
    out = build_loss("intl", axis=axis)(z1, z2)
    for key, value in expected.items():
        assert math.isclose(float(out[key]), value, rel_tol=1e-8), key


def test_intl_defaults_are_the_official_ones() -> None:
    """Defaults: iters 4, axis 0, trace_coeff auto (0.05 at batch 256, 0.08 at dim 2048)."""
    z1, z2 = paired_views(n=16, d=24, noise=0.5, seed=5)
    expected = reference_intl(z1.numpy(), z2.numpy(), 4, 0, 0.01 * (math.log2(16) - 3))
    assert math.isclose(float(intl_loss(z1, z2)["loss"]), expected["loss"], rel_tol=1e-8)
    assert math.isclose(auto_trace_coeff(256, 2048, 0), 0.05)
    assert math.isclose(auto_trace_coeff(256, 2048, 1), 0.08)
    assert auto_trace_coeff(4, 4, 0) == 0.0  # the formula would be negative below 8


def test_explicit_trace_coeff_and_iters() -> None:
    """A numeric trace_coeff and another T are used as given."""
    z1, z2 = paired_views(n=16, d=24, noise=0.5, seed=6)
    expected = reference_intl(z1.numpy(), z2.numpy(), 7, 0, 0.3)
    out = intl_loss(z1, z2, iters=7, trace_coeff=0.3)
    assert math.isclose(float(out["loss"]), expected["loss"], rel_tol=1e-8)


def test_intl_rejects_bad_axis_and_trace_coeff() -> None:
    """axis outside {0, 1} and a non-numeric trace_coeff are ValueErrors."""
    z1, z2 = paired_views(n=16, d=8)
    with pytest.raises(ValueError, match="axis"):
        intl_loss(z1, z2, axis=2)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="trace_coeff"):
        intl_loss(z1, z2, trace_coeff="big")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="iters"):
        intl_loss(z1, z2, iters=-1)
    assert torch.isfinite(intl_loss(z1, z2, iters=0)["loss"])
