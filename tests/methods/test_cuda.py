"""On a CUDA device (skipped elsewhere): every loss under bf16 autocast computes in float32
and agrees with the float64 CPU value; the whitening steps behave as on the CPU."""

from __future__ import annotations

import pytest
import torch

from sslctl.errors import NumericalError
from sslctl.methods import available, build_loss
from sslctl.methods.whitening import cholesky_whiten, iternorm, spectral_transform

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")

SMALL = {"wmse": {"w_size": 128}}


@pytest.mark.parametrize("name", available())
def test_bf16_autocast_on_cuda_matches_float64_on_cpu(name: str) -> None:
    """bf16 embeddings on the GPU under bf16 autocast: float32 terms, equal to the float64
    CPU computation on the same values (same W-MSE split), gradients finite."""
    torch.manual_seed(0)
    z1 = torch.randn(256, 64, device="cuda").bfloat16()
    z2 = (z1.float() + 0.3 * torch.randn_like(z1.float())).bfloat16()
    leaf = z1.detach().clone().requires_grad_(True)
    loss_fn = build_loss(name, **SMALL.get(name, {}))
    cuda_state = torch.cuda.get_rng_state()  # W-MSE: replay the same split on the CPU
    with torch.autocast("cuda", dtype=torch.bfloat16):
        out = loss_fn(leaf, z2)
    out["loss"].backward()
    assert torch.isfinite(leaf.grad).all()
    if name == "wmse":
        torch.cuda.set_rng_state(cuda_state)
        order = torch.randperm(256, device="cuda").cpu()
        ref = _wmse_with_order(z1.double().cpu(), z2.double().cpu(), order)
    else:
        ref = loss_fn(z1.double().cpu(), z2.double().cpu())
    for key, value in ref.items():
        assert out[key].dtype == torch.float32, key
        assert torch.allclose(out[key].double().cpu(), value, rtol=2e-4, atol=1e-5), key


def _wmse_with_order(z1: torch.Tensor, z2: torch.Tensor, order: torch.Tensor) -> dict:
    from sslctl.methods._common import normalized_mse
    from sslctl.methods.wmse import whiten_sub_batches

    w1, w2 = whiten_sub_batches(z1, z2, order.view(-1, 128), 0.0)
    loss = normalized_mse(w1, w2)
    return {"loss": loss, "alignment": loss}


def test_whitening_on_cuda_matches_cpu_and_fails_clearly() -> None:
    """IterNorm, Cholesky and ST on the GPU equal the CPU results; singular input raises
    NumericalError (not a CUDA/cuSOLVER error)."""
    torch.manual_seed(1)
    x = torch.randn(512, 32, dtype=torch.float64) * torch.logspace(-1, 1, 32, dtype=torch.float64)
    for fn in (
        lambda t: iternorm(t, iters=4, axis=0),
        lambda t: iternorm(t, iters=4, axis=1),
        cholesky_whiten,
        lambda t: spectral_transform(t, power=0.5),
    ):
        assert torch.allclose(fn(x.cuda()).cpu(), fn(x), rtol=1e-8, atol=1e-10)
    same = torch.randn(1, 32, device="cuda").repeat(256, 1)
    with pytest.raises(NumericalError, match="collapsed"):
        cholesky_whiten(same)
    with pytest.raises(NumericalError, match="singular"):
        spectral_transform(torch.cat([x, x[:, :1]], dim=1).cuda())
