"""Training batches in a given order, on the device.

Where the uint8 training set fits (always on CPU; on a GPU when it takes under a quarter of
the free memory, or when ``runtime.data_on_device`` says so) it is copied to the device
once and a batch is one index into it: no host work per step. Otherwise (a large folder
dataset on a GPU) the images stay in pinned host memory; each batch is gathered into one
of two pinned buffers and copied with ``non_blocking=True`` on a side stream, one batch
ahead, so the copy of batch i+1 overlaps the compute of batch i. Both paths give the same
batches for the same order.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Literal

import torch

Placement = Literal["auto", "always", "never"]
FREE_MEMORY_SHARE = 0.25


def fits_on_device(images: torch.Tensor, device: torch.device) -> bool:
    """Would the whole set take under a quarter of the device's free memory?"""
    if device.type != "cuda":
        return True
    free, _ = torch.cuda.mem_get_info(device)
    return images.numel() * images.element_size() < FREE_MEMORY_SHARE * free


class BatchFeeder:
    """Batches ``images[order[i*b:(i+1)*b]]`` on ``device``, from device or pinned memory."""

    def __init__(self, images: torch.Tensor, device: torch.device, placement: Placement = "auto"):
        self.device = device
        self.resident = device.type != "cuda" or (
            placement == "always" or (placement == "auto" and fits_on_device(images, device))
        )
        if self.resident:
            self.images = images.to(device)
        else:
            self.images = images.cpu().pin_memory()

    def __len__(self) -> int:
        return len(self.images)

    def batches(self, order: torch.Tensor, batch_size: int, steps: int) -> Iterator[torch.Tensor]:
        """``steps`` batches of ``batch_size`` images, in ``order`` (a CPU permutation)."""
        if self.resident:
            order = order.to(self.device)
            for i in range(steps):
                yield self.images[order[i * batch_size : (i + 1) * batch_size]]
            return
        yield from self._streamed(order.cpu(), batch_size, steps)

    def _streamed(self, order: torch.Tensor, batch_size: int, steps: int) -> Iterator[torch.Tensor]:
        stream = torch.cuda.Stream(self.device)
        shape = (batch_size, *self.images.shape[1:])
        buffers = [torch.empty(shape, dtype=self.images.dtype).pin_memory() for _ in range(2)]
        copied: list[torch.cuda.Event | None] = [None, None]

        def issue(i: int) -> tuple[torch.Tensor, torch.cuda.Event]:
            slot = i % 2
            done = copied[slot]
            if done is not None:
                done.synchronize()  # the previous copy out of this buffer has finished
            rows = order[i * batch_size : (i + 1) * batch_size]
            torch.index_select(self.images, 0, rows, out=buffers[slot])
            with torch.cuda.stream(stream):
                batch = buffers[slot].to(self.device, non_blocking=True)
                event = torch.cuda.Event()
                event.record(stream)
            copied[slot] = event
            return batch, event

        pending = issue(0) if steps else None
        for i in range(steps):
            assert pending is not None
            batch, event = pending
            compute = torch.cuda.current_stream(self.device)
            compute.wait_event(event)
            batch.record_stream(compute)  # allocated on the side stream, used on this one
            if i + 1 < steps:
                pending = issue(i + 1)
            yield batch
