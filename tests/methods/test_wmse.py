"""W-MSE against a Gram-Schmidt re-derivation of htdt/self-supervised's Cholesky whitening."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from sslctl.errors import NumericalError
from sslctl.methods import build_loss
from sslctl.methods.wmse import wmse_loss
from tests.methods.helpers import cosine_rows, paired_views


def gram_schmidt_whiten(x: np.ndarray) -> np.ndarray:
    """Cholesky whitening by another road: x_c = Q R (QR with a positive diagonal) gives
    x_c^T x_c = R^T R, so the Cholesky factor of the covariance is R^T / sqrt(n - 1) and
    x_c L^-T = sqrt(n - 1) Q."""
    xc = x - x.mean(axis=0)
    q, r = np.linalg.qr(xc)
    return q * np.sign(np.diag(r)) * math.sqrt(len(x) - 1)


def reference_wmse(a: np.ndarray, b: np.ndarray, order: np.ndarray, norm: bool = True) -> float:
    """Whiten each view separately within each sub-batch of ``order``; 2 - 2 cos (or MSE)."""
    wa = np.concatenate([gram_schmidt_whiten(a[idx]) for idx in order])
    wb = np.concatenate([gram_schmidt_whiten(b[idx]) for idx in order])
    if norm:
        return float(2 - 2 * cosine_rows(wa, wb).mean())
    return float(((wa - wb) ** 2).mean())


def test_one_sub_batch_matches_the_reference() -> None:
    """w_size = batch: one Cholesky whitening per view, then 2 - 2 cos (the split only
    reorders rows)."""
    z1, z2 = paired_views(n=32, d=5, noise=0.6)
    got = float(wmse_loss(z1, z2, w_size=32)["loss"])
    everything = np.arange(32)[None, :]
    assert math.isclose(got, reference_wmse(z1.numpy(), z2.numpy(), everything), rel_tol=1e-9)


@pytest.mark.parametrize("w_iter", [1, 3])
def test_sub_batches_and_w_iter_follow_the_official_split(w_iter: int) -> None:
    """The batch is split by torch.randperm(batch).view(-1, w_size) from the global RNG (as
    the official code), each split whitened per view, and the w_iter splits averaged."""
    z1, z2 = paired_views(n=48, d=4, noise=0.6, seed=1)
    torch.manual_seed(7)
    got = float(wmse_loss(z1, z2, w_size=16, w_iter=w_iter)["loss"])
    torch.manual_seed(7)
    orders = [torch.randperm(48).view(-1, 16).numpy() for _ in range(w_iter)]
    expected = np.mean([reference_wmse(z1.numpy(), z2.numpy(), o) for o in orders])
    assert math.isclose(got, expected, rel_tol=1e-9)


def test_default_w_size_is_128_and_unnormalised_variant_is_mse() -> None:
    """Defaults w_size=128, w_iter=1; norm=False is the official --no_norm (plain MSE)."""
    z1, z2 = paired_views(n=128, d=8, noise=0.6, seed=2)
    everything = np.arange(128)[None, :]
    default = float(build_loss("wmse")(z1, z2)["loss"])
    assert math.isclose(default, reference_wmse(z1.numpy(), z2.numpy(), everything), rel_tol=1e-9)
    plain = float(wmse_loss(z1, z2, w_size=128, norm=False)["loss"])
    assert math.isclose(
        plain, reference_wmse(z1.numpy(), z2.numpy(), everything, norm=False), rel_tol=1e-9
    )


def test_gradients_flow_through_the_whitening() -> None:
    """The gradient through the Cholesky factor matches finite differences (gradcheck)."""
    z1, z2 = paired_views(n=10, d=3, noise=0.6, seed=3)
    z1.requires_grad_(True)
    z2.requires_grad_(True)
    assert torch.autograd.gradcheck(lambda a, b: wmse_loss(a, b, w_size=10)["loss"], (z1, z2))


def test_w_size_must_exceed_the_dim_and_divide_the_batch() -> None:
    """ValueErrors name w_size, the dim and the batch; w_eps > 0 lifts the dim condition."""
    z1, z2 = paired_views(n=64, d=16)
    with pytest.raises(
        ValueError, match=r"w_size \(16\) must be larger than the embedding dim \(16\)"
    ):
        wmse_loss(z1, z2, w_size=16)
    with pytest.raises(ValueError, match=r"batch \(64\) must be a multiple of w_size \(48\)"):
        wmse_loss(z1, z2, w_size=48)
    with pytest.raises(ValueError, match=r"batch \(64\) must be a multiple of w_size \(128\)"):
        wmse_loss(z1, z2)
    assert torch.isfinite(wmse_loss(z1, z2, w_size=16, w_eps=0.1)["loss"])


def test_rank_deficient_sub_batch_raises_numerical_error_naming_the_step() -> None:
    """A duplicated dimension makes the sub-batch covariance singular: NumericalError."""
    z1, z2 = paired_views(n=32, d=4)
    z1 = torch.cat([z1, z1[:, :1]], dim=1)
    z2 = torch.cat([z2, z2[:, :1]], dim=1)
    with pytest.raises(
        NumericalError,
        match=r"W-MSE Cholesky of the sub-batch covariance failed: matrix not positive "
        r"definite .*\(w_size=16, dim=5\)",
    ):
        wmse_loss(z1, z2, w_size=16)
