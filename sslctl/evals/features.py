"""Frozen features, computed once per image set and cached in memory (on disk too for
streamed sets: :mod:`sslctl.data.stream.features`)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import torch
from torch import nn

from sslctl.data.augment import to_input
from sslctl.runtime import autocast

Encoder = Callable[[torch.Tensor], torch.Tensor]
# progress of a long evaluation step: (what, done, total), e.g. ("features test", 3, 10)
Progress = Callable[[str, int, int], None]


@torch.no_grad()
def encode(
    encoder: nn.Module | Encoder,
    images: torch.Tensor,
    *,
    mean: tuple[float, ...],
    std: tuple[float, ...],
    device: torch.device,
    dtype: torch.dtype | None = None,
    batch_size: int = 1024,
    progress: Progress | None = None,
    label: str = "features",
) -> torch.Tensor:
    """Features of uint8 ``images`` [N, C, H, W] (no augmentation), float32 on the CPU;
    ``progress(label, batches done, batches)`` after each batch."""
    from sslctl.data.stream import features as disk

    cache = disk.cache_path(encoder, images, f"{mean}|{std}|{dtype}")  # streamed sets only
    if cache is not None and (cached := disk.load(cache)) is not None:
        return cached
    if isinstance(encoder, nn.Module):
        encoder.eval()
    size = images.shape[-1]
    chunks = []
    batches = -(-len(images) // batch_size)
    for i, batch in enumerate(_batches(images, batch_size)):
        x = to_input(batch.to(device), mean, std, size)
        with autocast(device, dtype):
            chunks.append(encoder(x).float().cpu())
        if progress is not None:
            progress(label, i + 1, batches)
    features = torch.cat(chunks)
    if cache is not None:
        disk.save(cache, features)
    return features


def _batches(images: torch.Tensor, batch_size: int) -> Iterator[torch.Tensor]:
    """Consecutive batches; a packed split too large to cache streams its own
    (:meth:`sslctl.data.stream.evalset.SplitImages.batches`)."""
    if hasattr(images, "batches"):
        yield from images.batches(batch_size)
        return
    for start in range(0, len(images), batch_size):
        yield images[start : start + batch_size]


def raw_pixels(x: torch.Tensor) -> torch.Tensor:
    """The raw-pixel baseline "encoder": normalised pixels, flattened."""
    return torch.flatten(x, 1)
