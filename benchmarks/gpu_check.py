"""GPU readiness check (issue 8): on a CUDA machine, every method's pretraining step on
ResNet-18 (CIFAR stem, 32x32, batch 256) under bf16 autocast + channels_last, with the
whitening steps in fp32; batched CIFAR augmentation on the GPU; fp32 vs bf16 and
torch.compile throughput; MFU against the measured bf16 matmul peak; the streamed input
pipeline feeding ResNet-50 at 224 px and GPU vs CPU JPEG decoding (``gpu_stream.py``,
issue 15).

Needs only torch (+torchvision): ``python benchmarks/gpu_check.py [--out results.json]``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sslctl.data.augment import BatchAugment
from sslctl.methods import available, build_loss
from sslctl.models.backbones import build_backbone
from sslctl.models.projector import build_projector

CIFAR_MEAN, CIFAR_STD = (0.491, 0.482, 0.447), (0.247, 0.243, 0.262)


def cifar_augment(blur: float) -> BatchAugment:
    """The CIFAR recipes' policy (recipes/cifar10/base.yaml), on the GPU."""
    return BatchAugment(
        mean=CIFAR_MEAN,
        std=CIFAR_STD,
        out_size=32,
        crop_scale=(0.2, 1.0),
        flip=0.5,
        jitter=0.8,
        saturation=0.2,
        hue=0.1,
        grayscale=0.2,
        blur=blur,
        solarize=0.1,
        generator=torch.Generator("cuda").manual_seed(0),
    )


def timed(fn, steps: int = 20, warmup: int = 5) -> float:
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(steps):
        fn()
    torch.cuda.synchronize()
    return (time.perf_counter() - start) / steps


def matmul_peak(dtype: torch.dtype, n: int = 8192) -> float:
    a, b = (
        torch.randn(n, n, device="cuda", dtype=dtype),
        torch.randn(n, n, device="cuda", dtype=dtype),
    )
    return 2 * n**3 / timed(lambda: a @ b, steps=10, warmup=3)


def step_fn(method: str, dtype: torch.dtype | None, compile_model: bool = False, batch: int = 256):
    backbone, feat = build_backbone("resnet18", in_channels=3, cifar_stem=True)
    out_dim = 64 if method == "wmse" else 2048
    projector, _ = build_projector(
        feat,
        depth=3 if method != "wmse" else 2,
        width=1024 if method == "wmse" else 2048,
        out_dim=out_dim,
    )
    model = torch.nn.Sequential(backbone, projector).cuda().to(memory_format=torch.channels_last)
    net = torch.compile(model) if compile_model else model
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    loss_fn = build_loss(method)
    images = torch.randint(0, 256, (batch, 3, 32, 32), dtype=torch.uint8, device="cuda")
    aug = cifar_augment(blur=0.0)
    last: dict[str, float] = {}

    def step() -> None:
        v1, v2 = (aug(images).contiguous(memory_format=torch.channels_last) for _ in range(2))
        with torch.autocast("cuda", dtype=dtype or torch.float32, enabled=dtype is not None):
            z1, z2 = net(v1), net(v2)
        out = loss_fn(z1.float(), z2.float())
        opt.zero_grad(set_to_none=True)
        out["loss"].backward()
        opt.step()
        last["loss"] = out["loss"].detach()

    def flops() -> int:
        from torch.utils.flop_counter import FlopCounterMode

        with FlopCounterMode(display=False) as counter:
            step()
        return counter.get_total_flops()

    return step, last, flops


def feeder_check(n: int = 20_000, batch: int = 256, steps: int = 60) -> dict:
    """Training batches from a 96x96 RGB uint8 set (STL-10-sized images): resident on the
    GPU vs pinned host memory with non-blocking copies one batch ahead, each batch used by
    a float conversion (the augmentation's first op); images/s for both."""
    from sslctl.data.feed import BatchFeeder

    images = torch.randint(0, 256, (n, 3, 96, 96), dtype=torch.uint8)
    order = torch.randperm(n)
    out = {}
    for placement in ("always", "never"):
        feeder = BatchFeeder(images, torch.device("cuda"), placement)

        def run(feeder=feeder) -> None:
            for b in feeder.batches(order, batch, steps):
                b.float().mul_(1 / 255)

        run()
        torch.cuda.synchronize()
        start = time.perf_counter()
        run()
        torch.cuda.synchronize()
        out[f"{'resident' if feeder.resident else 'pinned_streamed'}_img_per_s"] = (
            steps * batch / (time.perf_counter() - start)
        )
    print("feeder", out, flush=True)
    return out


def methods_check(peak_bf16: float) -> dict:
    """Every method's bf16 step (img/s, MFU, finite loss); VICReg also in fp32 and compiled."""
    rows = {}
    for method in available():
        step, last, flops = step_fn(method, torch.bfloat16)
        seconds = timed(step)
        n_flops = flops()
        rows[method] = {
            "bf16_img_per_s": 2 * 256 / seconds,
            "mfu_bf16_pct": 100 * n_flops / seconds / peak_bf16,
            "loss_finite": bool(torch.isfinite(last["loss"])),
        }
        print(method, rows[method], flush=True)
    step, _, _ = step_fn("vicreg", None)
    rows["vicreg"]["fp32_img_per_s"] = 2 * 256 / timed(step)
    try:
        step, _, _ = step_fn("vicreg", torch.bfloat16, compile_model=True)
        rows["vicreg"]["bf16_compiled_img_per_s"] = 2 * 256 / timed(step, steps=20, warmup=10)
    except Exception as err:  # report, don't hide
        rows["vicreg"]["compile_error"] = f"{type(err).__name__}: {err}"[:300]
    return rows


def augment_check() -> float:
    aug = cifar_augment(blur=0.5)
    x = torch.randint(0, 256, (1024, 3, 32, 32), dtype=torch.uint8, device="cuda")
    return 1024 / timed(lambda: aug(x))


def whitening_check() -> dict:
    """The dtype the whitening steps return under bf16 autocast (they compute in fp32)."""
    from sslctl.methods.whitening import cholesky_whiten, iternorm

    with torch.autocast("cuda", dtype=torch.bfloat16):
        z = torch.randn(256, 64, device="cuda").bfloat16()
        return {
            "iternorm": str(iternorm(z, iters=4, axis=1).dtype),
            "cholesky": str(cholesky_whiten(z).dtype),
        }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default="gpu_check.json")
    args = parser.parse_args()
    assert torch.cuda.is_available(), "needs a CUDA device"
    torch.backends.cudnn.benchmark = True
    from gpu_stream import stream_check  # benchmarks/ is on sys.path when run as a script

    result: dict = {"gpu": torch.cuda.get_device_name(), "torch": torch.__version__}
    peak_bf16, peak_fp32 = matmul_peak(torch.bfloat16), matmul_peak(torch.float32)
    result["matmul_peak_tflops"] = {"bf16": peak_bf16 / 1e12, "fp32": peak_fp32 / 1e12}
    # the paths never run on a GPU before come first; each section's figures are saved as
    # it ends (a run cut short keeps them), and a section that fails is reported, not fatal
    sections = {
        "stream": stream_check,
        "feeder": feeder_check,
        "augment_img_per_s": augment_check,
        "methods": lambda: methods_check(peak_bf16),
        "whitening_dtype_under_autocast": whitening_check,
    }
    failed = []
    for name, check in sections.items():
        try:
            result[name] = check()
        except Exception as err:
            result[name] = {"error": f"{type(err).__name__}: {err}"[:500]}
            print(name, result[name], flush=True)
            failed.append(name)
        Path(args.out).write_text(json.dumps(result, indent=1))
    print(json.dumps(result, indent=1))
    if failed:
        sys.exit(f"failed: {', '.join(failed)}")


if __name__ == "__main__":
    main()
