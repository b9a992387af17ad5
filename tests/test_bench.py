"""`sslctl bench` prints figures and writes them as JSON (no assertion on their values),
and its re-encoding protocol is the cached probe plus re-encoding."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from sslctl.bench.throughput import reencoding_probe
from sslctl.data.augment import BatchAugment
from sslctl.data.datasets import Dataset, ImageSet
from sslctl.evals.features import encode
from sslctl.evals.linear import train_probe
from sslctl.recipe.schema import LinearEvalConfig
from tests.conftest import run_sslctl


def test_bench_writes_figures_with_machine_info(tmp_path: Path) -> None:
    """Two quick sections produce a table and a JSON file with machine info and figures."""
    out = tmp_path / "bench.json"
    run = run_sslctl(
        tmp_path,
        "bench",
        "--section",
        "whitening",
        "--section",
        "augment",
        "--quick",
        "--out",
        str(out),
        timeout=600,
    )
    assert run.returncode == 0, run.stderr
    data = json.loads(out.read_text())
    assert data["machine"]["cores"] >= 1
    names = {f["name"] for f in data["figures"]}
    assert "batched two-view augmentation" in names
    assert any(n.startswith("cholesky") for n in names)
    assert all(f["value"] > 0 for f in data["figures"])


def test_unknown_section_exits_2(tmp_path: Path) -> None:
    """A section name that does not exist is a usage error (exit 2) naming the choices."""
    run = run_sslctl(tmp_path, "bench", "--section", "nope", timeout=60)
    assert run.returncode == 2 and "augment" in run.stderr


def _tiny_problem() -> tuple[object, torch.nn.Module]:
    """Random 8x8 images with labels and a small random conv backbone (float32, CPU)."""
    gen = torch.Generator().manual_seed(0)

    def split(n: int) -> ImageSet:
        images = torch.randint(0, 256, (n, 1, 8, 8), dtype=torch.uint8, generator=gen)
        return ImageSet("tiny", images, torch.randint(0, 3, (n,), generator=gen), 3)

    torch.manual_seed(0)
    backbone = torch.nn.Sequential(
        torch.nn.Conv2d(1, 4, 3), torch.nn.ReLU(), torch.nn.Flatten()
    ).eval()
    return Dataset("tiny", split(300), split(60), (0.5,), (0.25,)), backbone


def test_reencoding_without_augmentation_trains_the_cached_probe() -> None:
    """The re-encoding protocol differs from the cached probe only by re-encoding (and,
    when asked, augmenting): without augmentation it ends at the same head."""
    data, backbone = _tiny_problem()
    cfg = LinearEvalConfig(epochs=3, batch_size=64)
    cpu = torch.device("cpu")
    feats = encode(backbone, data.train.images, mean=data.mean, std=data.std, device=cpu)
    cached = train_probe(feats, data.train.labels, 3, cfg, seed=0)
    reencoded = reencoding_probe(backbone, data, cfg, cpu, None, None, seed=0)
    torch.testing.assert_close(reencoded.head.weight, cached.head.weight)
    torch.testing.assert_close(reencoded.mean, cached.mean)

    augment = BatchAugment(
        mean=data.mean, std=data.std, out_size=8, generator=torch.Generator().manual_seed(0)
    )
    augmented = reencoding_probe(backbone, data, cfg, cpu, None, augment, seed=0)
    assert not torch.allclose(augmented.head.weight, cached.head.weight, atol=1e-3)
