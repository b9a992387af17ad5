"""``sslctl bench``: run the benchmark sections, print one table, write a JSON file with
the figures and the machine they were measured on."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sslctl.bench.common import Figure, machine

SECTIONS = ("augment", "pretrain", "linear", "whitening", "cli", "orchestration", "memory", "data")


def _pretrain(quick: bool) -> list[Figure]:
    import torch

    from sslctl.bench.compute import matmul_peak, train_step
    from sslctl.runtime import pick_device

    device = pick_device()
    peaks = {"fp32": matmul_peak(device), "bfloat16": matmul_peak(device, torch.bfloat16)}
    figures = [
        Figure("pretrain", f"{name} matmul peak (measured)", peak / 1e9, "GFLOP/s", device.type)
        for name, peak in peaks.items()
    ]
    figures += train_step("quickstart (resnet-mini, 28x28)", [], 1, 28, device, peaks)
    r18 = [
        "model.backbone=resnet18",
        "projector.width=2048",
        "projector.out_dim=2048",
        f"optim.batch_size={256 if device.type == 'cuda' else 32}",
    ]
    figures += train_step(
        "ResNet-18 CIFAR stem, 32x32",
        r18,
        3,
        32,
        device,
        peaks,
        repeat=2 if quick or device.type != "cuda" else 10,
    )
    return figures


def _runners(quick: bool) -> dict[str, Callable[[], list[Figure]]]:
    from sslctl.bench import compute, startup, stream, throughput

    return {
        "augment": throughput.augmentation,
        "pretrain": lambda: _pretrain(quick),
        "linear": lambda: (
            throughput.linear_eval(5, 20) if quick else throughput.linear_eval(20, 100)
        ),
        "whitening": lambda: compute.whitening(
            _device(), dims=(64, 256) if quick else (64, 256, 1024, 2048)
        ),
        "cli": startup.cli_start,
        "orchestration": startup.orchestration,
        "memory": startup.peak_memory,
        "data": lambda: stream.data_pipeline(quick),
    }


def _device() -> Any:
    from sslctl.runtime import pick_device

    return pick_device()


def run_bench(
    sections: list[str] | None = None, *, quick: bool = False, say: Callable[[str], None] = print
) -> tuple[list[Figure], dict[str, Any]]:
    """Run the chosen sections (all by default); returns the figures and machine info."""
    runners = _runners(quick)
    figures: list[Figure] = []
    for name in sections or SECTIONS:
        say(f"bench: {name} ...")
        start = time.perf_counter()
        figures += runners[name]()
        say(f"bench: {name} done in {time.perf_counter() - start:.0f} s")
    return figures, machine()


def write_json(figures: list[Figure], info: dict[str, Any], path: Path) -> None:
    payload = {
        "machine": info,
        "time": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "figures": [f.as_dict() for f in figures],
    }
    path.write_text(json.dumps(payload, indent=2))
