"""Corruptions: deterministic, shape-preserving, harder with severity, device-agnostic."""

from __future__ import annotations

import itertools

import pytest
import torch

from sslctl.data.corruptions import CORRUPTIONS, corrupt, suite_seed
from sslctl.data.datasets import load_dataset


@pytest.fixture(scope="module")
def images() -> torch.Tensor:
    return load_dataset("mnist5k").test.images[:200]


@pytest.mark.parametrize("kind", CORRUPTIONS)
def test_deterministic_and_monotone_in_severity(images: torch.Tensor, kind: str) -> None:
    """Same seed -> same uint8 images of the same shape; the mean distance to the clean
    images grows strictly with severity 1..5."""
    a = corrupt(images, kind, 3, seed=1)
    assert torch.equal(a, corrupt(images, kind, 3, seed=1))
    assert a.shape == images.shape and a.dtype == torch.uint8
    dist = [
        float((corrupt(images, kind, s, seed=1).float() - images.float()).abs().mean())
        for s in range(1, 6)
    ]
    assert all(x < y for x, y in itertools.pairwise(dist)), (kind, dist)
    assert dist[0] > 0


def test_rgb_and_other_sizes(images: torch.Tensor) -> None:
    """Every corruption handles 3-channel 32x32 images."""
    rgb = images[:8, :, :, :].expand(-1, 3, -1, -1)
    rgb = torch.nn.functional.pad(rgb, (2, 2, 2, 2))
    for kind in CORRUPTIONS:
        assert corrupt(rgb, kind, 5, seed=0).shape == (8, 3, 32, 32)


def test_bad_names_and_severities(images: torch.Tensor) -> None:
    """Unknown corruption or severity: ValueError naming it and the valid values."""
    with pytest.raises(ValueError, match=r"'fog'.*gaussian_noise"):
        corrupt(images, "fog", 1, seed=0)
    with pytest.raises(ValueError, match=r"6.*\[1, 2, 3, 4, 5\]"):
        corrupt(images, "contrast", 6, seed=0)


def test_suite_seeds_are_fixed_and_distinct() -> None:
    """Seeds depend only on (corruption, severity): stable numbers, all different."""
    seeds = {suite_seed(k, s) for k in CORRUPTIONS for s in range(1, 6)}
    assert len(seeds) == 5 * len(CORRUPTIONS)
    assert suite_seed("gaussian_noise", 1) == 648471424  # crc32, not hash(): same in every process


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_same_suite_on_cuda(images: torch.Tensor) -> None:
    """Random numbers come from a seeded CPU generator: CUDA gives the same images
    (up to rounding of a few pixels)."""
    for kind in CORRUPTIONS:
        cpu = corrupt(images, kind, 3, seed=7)
        gpu = corrupt(images.cuda(), kind, 3, seed=7).cpu()
        assert (cpu.int() - gpu.int()).abs().max() <= 1 and (cpu != gpu).float().mean() < 0.01
