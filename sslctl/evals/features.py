"""Frozen features, computed once per image set and cached in memory."""

from __future__ import annotations

from collections.abc import Callable

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
    if isinstance(encoder, nn.Module):
        encoder.eval()
    size = images.shape[-1]
    chunks = []
    batches = -(-len(images) // batch_size)
    for i, start in enumerate(range(0, len(images), batch_size)):
        x = to_input(images[start : start + batch_size].to(device), mean, std, size)
        with autocast(device, dtype):
            chunks.append(encoder(x).float().cpu())
        if progress is not None:
            progress(label, i + 1, batches)
    return torch.cat(chunks)


def raw_pixels(x: torch.Tensor) -> torch.Tensor:
    """The raw-pixel baseline "encoder": normalised pixels, flattened."""
    return torch.flatten(x, 1)
