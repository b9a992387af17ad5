"""Corruptions: deterministic, shape-preserving, harder with severity."""

from __future__ import annotations

import itertools

import pytest
import torch

from sslctl.data.corruptions import CORRUPTIONS, corrupt
from sslctl.data.datasets import load_dataset


@pytest.fixture(scope="module")
def images() -> torch.Tensor:
    return load_dataset("mnist5k").test.images[:200]


@pytest.mark.parametrize("kind", CORRUPTIONS)
def test_deterministic_and_monotone_in_severity(images: torch.Tensor, kind: str) -> None:
    """Same seed -> same images; the distance to the clean images grows with severity."""
    a = corrupt(images, kind, 3, seed=1)
    assert torch.equal(a, corrupt(images, kind, 3, seed=1))
    assert a.shape == images.shape and a.dtype == torch.uint8
    dist = [
        float((corrupt(images, kind, s, seed=1).float() - images.float()).abs().mean())
        for s in range(1, 6)
    ]
    assert all(x < y for x, y in itertools.pairwise(dist)), (kind, dist)


def test_bad_names_and_severities(images: torch.Tensor) -> None:
    """Unknown corruption or severity outside 1..5: ValueError listing valid values."""
    with pytest.raises(ValueError, match="gaussian_noise"):
        corrupt(images, "fog", 1, seed=0)
    with pytest.raises(ValueError, match="1..5"):
        corrupt(images, "contrast", 6, seed=0)
