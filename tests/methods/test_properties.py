"""Properties every loss shares: it trains, it survives a collapsed batch, it computes in
float32 under bf16 autocast, it is pure, and it rejects bad shapes clearly."""

from __future__ import annotations

import pytest
import torch

from sslctl.errors import NumericalError
from sslctl.methods import available, build_loss

WHITENING = {"wmse": "W-MSE Cholesky", "intl": "IterNorm", "st": "spectral transform"}
SMALL = {"wmse": {"w_size": 64}}  # toy batches of 128 with 16-d embeddings


def make_loss(name: str):
    return build_loss(name, **SMALL.get(name, {}))


def evaluate(loss_fn, enc: torch.nn.Module, a: torch.Tensor, b: torch.Tensor) -> float:
    torch.manual_seed(123)  # the same W-MSE split at every evaluation
    with torch.no_grad():
        return float(loss_fn(enc(a), enc(b))["loss"])


@pytest.mark.parametrize("name", available())
def test_loss_decreases_when_training_a_linear_encoder(name: str) -> None:
    """30 Adam steps of a linear encoder (32 -> 16) on noisy views of a fixed dataset lower
    the loss measured on a fixed held-out pair of views."""
    torch.manual_seed(0)
    x = torch.randn(128, 32) * torch.linspace(0.2, 2.0, 32)
    held_out = (x + 0.1 * torch.randn_like(x), x + 0.1 * torch.randn_like(x))
    enc = torch.nn.Linear(32, 16)
    opt = torch.optim.Adam(enc.parameters(), lr=1e-2)
    loss_fn = make_loss(name)
    before = evaluate(loss_fn, enc, *held_out)
    for _ in range(30):
        loss = loss_fn(enc(x + 0.1 * torch.randn_like(x)), enc(x + 0.1 * torch.randn_like(x)))
        opt.zero_grad()
        loss["loss"].backward()
        opt.step()
    after = evaluate(loss_fn, enc, *held_out)
    assert after < before, (name, before, after)


@pytest.mark.parametrize("name", available())
def test_a_batch_of_identical_embeddings_gives_no_nan(name: str) -> None:
    """Total collapse (every row the same): a finite loss with finite gradients, or, where
    the method whitens a matrix that is then singular (W-MSE, ST, INTL along axis 1), a
    NumericalError naming the step. (INTL's default axis 0 whitens the sample Gram matrix,
    which stays defined: each sample still varies over its features.)"""
    torch.manual_seed(1)
    z = torch.randn(1, 16).repeat(128, 1).requires_grad_(True)
    if name in ("wmse", "st"):
        with pytest.raises(NumericalError, match=WHITENING[name]):
            make_loss(name)(z, z.detach().clone())
        return
    out = make_loss(name)(z, z.detach().clone())
    assert all(torch.isfinite(v) for v in out.values()), out
    out["loss"].backward()
    assert torch.isfinite(z.grad).all()


def test_intl_along_the_feature_axis_reports_collapse() -> None:
    """INTL with axis=1 on a collapsed batch: the feature covariance is zero, NumericalError."""
    z = torch.randn(1, 16).repeat(128, 1)
    with pytest.raises(NumericalError, match=r"IterNorm \(axis=1\).*collapsed"):
        build_loss("intl", axis=1)(z, z.clone())


@pytest.mark.parametrize("name", sorted(WHITENING))
def test_non_finite_embeddings_raise_numerical_error(name: str) -> None:
    """NaN in the embeddings of a whitening method: NumericalError naming the step."""
    z1, z2 = torch.randn(128, 16), torch.randn(128, 16)
    z1[5, 3] = float("nan")
    with pytest.raises(NumericalError, match=WHITENING[name]):
        make_loss(name)(z1, z2)


@pytest.mark.parametrize("name", available())
def test_bf16_autocast_computes_in_float32(name: str) -> None:
    """bf16 embeddings under bf16 autocast give float32 terms equal to the float32
    computation on the same (upcast) values: nothing ran in bf16."""
    torch.manual_seed(2)
    z1 = torch.randn(128, 16).bfloat16()
    z2 = (z1.float() + 0.3 * torch.randn(128, 16)).bfloat16()
    loss_fn = make_loss(name)
    torch.manual_seed(3)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        mixed = loss_fn(z1, z2)
    torch.manual_seed(3)
    full = loss_fn(z1.float(), z2.float())
    for key, value in full.items():
        assert mixed[key].dtype == torch.float32, key
        assert torch.allclose(mixed[key], value, rtol=1e-4, atol=1e-6), (key, mixed[key], value)


@pytest.mark.parametrize("name", available())
def test_losses_are_pure(name: str) -> None:
    """Inputs are not modified and, with the same RNG state, the output is the same."""
    z1, z2 = torch.randn(128, 16), torch.randn(128, 16)
    c1, c2 = z1.clone(), z2.clone()
    loss_fn = make_loss(name)
    torch.manual_seed(4)
    first = loss_fn(z1, z2)
    torch.manual_seed(4)
    second = loss_fn(z1, z2)
    assert torch.equal(z1, c1) and torch.equal(z2, c2)
    assert set(first) >= {"loss"} and all(v.ndim == 0 for v in first.values())
    assert all(torch.equal(first[k], second[k]) for k in first)


@pytest.mark.parametrize("name", available())
def test_bad_shapes_are_value_errors_naming_the_shapes(name: str) -> None:
    """Mismatched views, 1-D input or a single sample: ValueError naming the shapes."""
    loss_fn = make_loss(name)
    with pytest.raises(ValueError, match=r"\(128, 16\) and \(128, 8\)"):
        loss_fn(torch.randn(128, 16), torch.randn(128, 8))
    with pytest.raises(ValueError, match=r"\(128,\) and \(128,\)"):
        loss_fn(torch.randn(128), torch.randn(128))
    with pytest.raises(ValueError, match=r"\(1, 16\)"):
        loss_fn(torch.randn(1, 16), torch.randn(1, 16))
