"""Compute figures: matmul peak, pretrain-step throughput and model FLOP utilisation (MFU),
and the cost of the whitening steps (IterNorm vs Cholesky vs eigendecomposition)."""

from __future__ import annotations

from pathlib import Path

import torch

from sslctl.bench.common import Figure, timeit
from sslctl.runtime import autocast

RECIPES = Path(__file__).resolve().parents[2] / "recipes"


def matmul_peak(device: torch.device, dtype: torch.dtype = torch.float32, n: int = 2048) -> float:
    """Measured dense matmul throughput in FLOP/s (the denominator of MFU)."""
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)

    def run() -> None:
        a @ b
        if device.type == "cuda":
            torch.cuda.synchronize()

    return 2 * n**3 / timeit(run, repeat=5)


def train_step(
    label: str,
    overrides: list[str],
    channels: int,
    size: int,
    device: torch.device,
    peaks: dict[str, float],
    repeat: int = 5,
) -> list[Figure]:
    """Images/s of one full pretraining step (two views: forward, loss, backward, update)
    on random inputs, and achieved FLOP/s as a fraction of the measured matmul peaks
    (``peaks``: ``{"fp32": FLOP/s, "bfloat16": FLOP/s}``): MFU against the fp32 peak, and,
    when the step runs in another precision, against that precision's peak too (a CPU with
    bf16 matrix units runs bf16 steps above its fp32 matmul peak)."""
    from torch.utils.flop_counter import FlopCounterMode

    from sslctl.methods import build_loss
    from sslctl.optim import build_optimizer
    from sslctl.recipe import load_recipe
    from sslctl.runtime import pick_dtype
    from sslctl.train import build_model

    recipe = load_recipe(RECIPES / "vicreg.yaml", overrides)
    model = build_model(recipe, channels).to(device).to(memory_format=torch.channels_last)
    optimizer = build_optimizer(recipe.optim, model)
    loss_fn = build_loss(recipe.method.name, **recipe.method.params())
    dtype = pick_dtype(recipe.runtime.precision, device)
    batch = recipe.optim.batch_size
    views = [
        torch.randn(batch, channels, size, size, device=device).contiguous(
            memory_format=torch.channels_last
        )
        for _ in range(2)
    ]

    def step() -> None:
        with autocast(device, dtype):
            z1, z2 = model(views[0]), model(views[1])
        loss = loss_fn(z1.float(), z2.float())["loss"]
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if device.type == "cuda":
            torch.cuda.synchronize()

    with FlopCounterMode(display=False) as counter:
        step()
    flops = counter.get_total_flops()
    seconds = timeit(step, repeat=repeat)
    rate = 2 * batch / seconds
    precision = str(dtype).removeprefix("torch.") if dtype else "fp32"
    figures = [
        Figure(
            "pretrain",
            f"{label} step throughput",
            rate,
            "img/s",
            f"batch {batch} x 2 views, {precision}, {device.type}",
        )
    ]
    for name in dict.fromkeys(["fp32", precision]):
        if name in peaks:
            figures.append(
                Figure(
                    "pretrain",
                    f"{label} MFU vs {name} peak",
                    100 * flops / seconds / peaks[name],
                    "%",
                    f"{flops / 1e9:.1f} GFLOP/step vs measured {name} matmul peak "
                    f"{peaks[name] / 1e9:.0f} GFLOP/s",
                )
            )
    return figures


def whitening(
    device: torch.device,
    dims: tuple[int, ...] = (64, 256, 1024, 2048),
    batches: tuple[int, ...] = (256, 1024),
) -> list[Figure]:
    """Forward+backward time of IterNorm (INTL), Cholesky (W-MSE) and eigh (ST) whitening."""
    from sslctl.methods import whitening as w

    figures = []
    for batch in batches:
        for dim in dims:
            z = torch.randn(batch, dim, device=device, requires_grad=True)
            ops = {
                "iternorm T=4 axis=1 (d x d)": lambda z=z: w.iternorm(z, iters=4, axis=1),
                "iternorm T=4 axis=0 (b x b)": lambda z=z: w.iternorm(z, iters=4, axis=0),
                "cholesky (W-MSE)": lambda z=z: w.cholesky_whiten(z),
                "eigh (ST p=0.5)": lambda z=z: w.spectral_transform(z, power=0.5),
            }
            base = None
            for name, op in ops.items():
                if name.startswith(("cholesky", "eigh")) and batch <= dim:
                    continue

                def run(op=op) -> None:
                    op().sum().backward()

                seconds = timeit(run, repeat=3)
                base = base or seconds
                figures.append(
                    Figure(
                        "whitening",
                        f"{name} b={batch} d={dim}",
                        seconds * 1e3,
                        "ms",
                        f"{seconds / base:.2f}x iternorm axis=1",
                    )
                )
    return figures
