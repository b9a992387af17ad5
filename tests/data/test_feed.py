"""Training batches: the device-resident and the pinned, streamed paths give the batches
``images[order[i*b:(i+1)*b]]`` in order; the streamed path needs CUDA (skipped elsewhere)."""

from __future__ import annotations

import pytest
import torch

from sslctl.data.feed import BatchFeeder, fits_on_device


def _images(n: int = 300) -> torch.Tensor:
    return torch.randint(0, 256, (n, 1, 8, 8), dtype=torch.uint8, generator=torch.Generator())


def _expected(images: torch.Tensor, order: torch.Tensor, b: int, steps: int) -> list:
    return [images[order[i * b : (i + 1) * b]] for i in range(steps)]


def test_cpu_batches_follow_the_order_and_drop_the_tail() -> None:
    """On the CPU the set is resident whatever the placement; batch i is the i-th slice of
    the order, and only whole batches are produced."""
    images = _images()
    order = torch.randperm(300, generator=torch.Generator().manual_seed(1))
    for placement in ("auto", "always", "never"):
        feeder = BatchFeeder(images, torch.device("cpu"), placement)
        assert feeder.resident and len(feeder) == 300
        got = list(feeder.batches(order, 64, 4))
        assert len(got) == 4
        for a, b in zip(got, _expected(images, order, 64, 4), strict=True):
            assert torch.equal(a, b)
    assert fits_on_device(images, torch.device("cpu"))


cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")


@cuda
def test_pinned_streamed_batches_equal_resident_batches() -> None:
    """placement never: pinned host memory, copies one batch ahead on a side stream; the
    batches (used after the generator moves on, as training does) equal the resident ones."""
    images = _images(1000)
    order = torch.randperm(1000, generator=torch.Generator().manual_seed(2))
    device = torch.device("cuda")
    streamed = BatchFeeder(images, device, "never")
    resident = BatchFeeder(images, device, "always")
    assert not streamed.resident and streamed.images.is_pinned() and resident.resident
    sums = [b.float().sum().item() for b in streamed.batches(order, 128, 7)]
    want = [b.float().sum().item() for b in resident.batches(order, 128, 7)]
    assert sums == want
    kept = list(streamed.batches(order, 128, 7))  # all alive at once: no buffer reuse bugs
    for a, b in zip(kept, resident.batches(order, 128, 7), strict=True):
        assert torch.equal(a, b)
