"""Each loss against an independent re-derivation (NumPy, float64, explicit loops where the
library uses matrix algebra), with the papers' constants, plus generic properties."""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest
import torch

from sslctl.methods import available, build_loss, hyperparameters


def views(n: int = 64, d: int = 16, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    z1 = torch.randn(n, d, generator=g, dtype=torch.float64) * 0.7
    return z1, z1 + 0.3 * torch.randn(n, d, generator=g, dtype=torch.float64)


def np_cov(x: np.ndarray) -> np.ndarray:
    xc = x - x.mean(0)
    return xc.T @ xc / (len(x) - 1)


def test_vicreg_matches_reference_formula_with_25_25_1() -> None:
    """VICReg: 25*mse + 25*(hinge_a + hinge_b)/2 + 1*(offdiag_a^2 + offdiag_b^2)/d."""
    z1, z2 = views()
    a, b = z1.numpy(), z2.numpy()
    d = a.shape[1]
    inv = np.mean((a - b) ** 2)
    hinge = sum(np.mean(np.maximum(0, 1 - np.sqrt(x.var(0, ddof=1) + 1e-4))) for x in (a, b)) / 2
    cov = 0.0
    for x in (a, b):
        c = np_cov(x)
        cov += sum(c[i, j] ** 2 for i in range(d) for j in range(d) if i != j) / d
    out = build_loss("vicreg")(z1, z2)
    assert math.isclose(float(out["loss"]), 25 * inv + 25 * hinge + cov, rel_tol=1e-9)
    assert math.isclose(float(out["covariance"]), cov, rel_tol=1e-9)


def test_vcreg_is_vicreg_without_invariance() -> None:
    """VCReg = VICReg's variance and covariance terms; sim_coeff adds the invariance."""
    z1, z2 = views()
    vic = build_loss("vicreg")(z1, z2)
    vc = build_loss("vcreg")(z1, z2)
    assert torch.isclose(vc["loss"], vic["loss"] - 25 * vic["invariance"])
    assert torch.isclose(build_loss("vcreg", sim_coeff=25.0)(z1, z2)["loss"], vic["loss"])


def test_barlow_matches_reference_with_lambda_0_0051() -> None:
    """Barlow Twins: standardised (biased std) cross-correlation / N, on + 0.0051 * off."""
    z1, z2 = views()
    a, b = z1.numpy(), z2.numpy()
    sa = (a - a.mean(0)) / np.sqrt(a.var(0) + 1e-5)
    sb = (b - b.mean(0)) / np.sqrt(b.var(0) + 1e-5)
    c = sa.T @ sb / len(a)
    on = np.sum((np.diag(c) - 1) ** 2)
    off = np.sum(c**2) - np.sum(np.diag(c) ** 2)
    out = build_loss("barlow")(z1, z2)
    assert math.isclose(float(out["loss"]), on + 0.0051 * off, rel_tol=1e-7)


def test_simclr_sums_both_directions_at_temperature_0_1() -> None:
    """NT-Xent: for each anchor, -log softmax over the other 2N-1 samples, averaged per
    direction, the two directions summed; default temperature 0.1."""
    z1, z2 = views(n=8)
    h = np.concatenate([z1.numpy(), z2.numpy()])
    h = h / np.linalg.norm(h, axis=1, keepdims=True)
    n, t = 8, 0.1
    losses = []
    for i in range(2 * n):
        pos = (i + n) % (2 * n)
        sims = [h[i] @ h[k] / t for k in range(2 * n) if k != i]
        losses.append(-(h[i] @ h[pos] / t - np.log(np.sum(np.exp(sims)))))
    expected = np.mean(losses[:n]) + np.mean(losses[n:])
    assert math.isclose(float(build_loss("simclr")(z1, z2)["loss"]), expected, rel_tol=1e-7)


def test_intl_trace_coefficient_auto_is_0_01_log2_batch_minus_3() -> None:
    """INTL with trace_coeff=auto equals the explicit 0.01*(log2(256)-3) = 0.05."""
    z1, z2 = views(n=256, d=512)
    auto = build_loss("intl")(z1, z2)
    explicit = build_loss("intl", trace_coeff=0.05)(z1, z2)
    assert torch.isclose(auto["loss"], explicit["loss"])
    assert torch.isclose(auto["loss"], auto["alignment"] + 0.05 * auto["trace"])


def test_wmse_rejects_small_sub_batches_and_bad_multiples() -> None:
    """W-MSE needs w_size > dim (invertible covariance) and batch % w_size == 0."""
    z1, z2 = views(n=64, d=16)
    with pytest.raises(ValueError, match="w_size"):
        build_loss("wmse", w_size=16)(z1, z2)
    with pytest.raises(ValueError, match="multiple"):
        build_loss("wmse", w_size=48)(z1, z2)


def test_wmse_equals_mse_of_cholesky_whitened_views() -> None:
    """With one sub-batch, W-MSE is 2 - 2cos between each view whitened by its own
    Cholesky factor (re-derived with NumPy)."""
    z1, z2 = views(n=64, d=8)
    out = float(build_loss("wmse", w_size=64)(z1, z2)["loss"])

    def whiten(x: np.ndarray) -> np.ndarray:
        xc = x - x.mean(0)
        low = np.linalg.cholesky(np_cov(x))
        return np.linalg.solve(low, xc.T).T

    a, b = whiten(z1.numpy()), whiten(z2.numpy())
    cos = np.sum(a * b, 1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
    assert math.isclose(out, 2 - 2 * cos.mean(), rel_tol=1e-7)


@pytest.mark.parametrize("name", available())
def test_no_nan_on_identical_inputs(name: str) -> None:
    """A batch of identical embeddings (total collapse) never yields NaN: either a finite
    loss or a clear NumericalError for the whitening methods."""
    from sslctl.errors import NumericalError

    z = torch.ones(128, 16)
    kwargs = {"w_size": 64} if name == "wmse" else {}
    try:
        out = build_loss(name, **kwargs)(z, z.clone())
    except NumericalError as err:
        assert name in ("wmse", "intl", "st") and str(err)
        return
    assert torch.isfinite(out["loss"]), name


@pytest.mark.parametrize("name", available())
def test_loss_decreases_on_a_toy_problem(name: str) -> None:
    """A few Adam steps of a linear encoder on two noisy views lower every loss."""
    torch.manual_seed(0)
    x = torch.randn(256, 32)
    enc = torch.nn.Linear(32, 16)
    opt = torch.optim.Adam(enc.parameters(), lr=1e-2)
    kwargs = {"w_size": 128} if name == "wmse" else {}
    loss_fn = build_loss(name, **kwargs)
    noise = [0.1 * torch.randn(2, 256, 32) for _ in range(30)]
    first = last = 0.0
    for step, eps in enumerate(noise):
        torch.manual_seed(step)
        loss = loss_fn(enc(x + eps[0]), enc(x + eps[1]))["loss"]
        opt.zero_grad()
        loss.backward()
        opt.step()
        first = float(loss.detach()) if step == 0 else first
        last = float(loss.detach())
    assert last < first, (name, first, last)


def test_build_loss_errors_suggest_close_names() -> None:
    """Unknown methods and hyper-parameters are ValueErrors with a suggestion."""
    with pytest.raises(ValueError, match="did you mean 'vicreg'"):
        build_loss("vicrg")
    with pytest.raises(ValueError, match="did you mean 'sim_coeff'"):
        build_loss("vicreg", sim_coef=1.0)
    assert list(hyperparameters("vicreg"))[:3] == ["sim_coeff", "std_coeff", "cov_coeff"]


def test_importing_the_registry_does_not_import_torch() -> None:
    """`import sslctl.methods` stays light (the CLI validates recipes without torch)."""
    code = "import sys, sslctl.methods as m; m.available(); assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)
