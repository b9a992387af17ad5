"""Separable Gaussian blur with a per-sample sigma, as two grouped convolutions per batch.

The kernel and the reflect padding are torchvision's (``GaussianBlur``): a normalised
``exp(-x^2 / (2 sigma^2))`` over ``kernel_size`` taps centred on the pixel.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def gaussian_kernels(sigma: torch.Tensor, size: int) -> torch.Tensor:
    """Normalised 1-d Gaussian kernels [N, size] for per-sample ``sigma`` [N]."""
    x = torch.arange(size, dtype=torch.float32, device=sigma.device) - (size - 1) / 2
    k = torch.exp(-(x[None] ** 2) / (2 * sigma.float()[:, None] ** 2))
    return k / k.sum(1, keepdim=True)


def kernel_size_for(sigma: float) -> int:
    """An odd kernel wide enough (+-3 sigma) that truncation is negligible."""
    return 2 * math.ceil(3 * sigma) + 1


def blur(x: torch.Tensor, sigma: torch.Tensor, kernel_size: int | None = None) -> torch.Tensor:
    """Blur float images [N, C, H, W] with per-sample ``sigma`` [N].

    ``kernel_size``: odd number of taps; ``None`` sizes it from the largest sigma (this
    reads ``sigma`` on the host, so pass a fixed size in training loops on a GPU).
    """
    n, c, h, w = x.shape
    size = kernel_size or kernel_size_for(float(sigma.max()))
    if size % 2 == 0:
        raise ValueError(f"kernel_size must be odd, got {size}")
    k = gaussian_kernels(sigma.to(x.device), size).to(x.dtype).repeat_interleave(c, 0)
    flat = x.reshape(1, n * c, h, w)
    pad_w, pad_h = min(size // 2, w - 1), min(size // 2, h - 1)
    if pad_w < size // 2 or pad_h < size // 2:  # reflect needs pad < side: crop the kernel
        k = k[:, size // 2 - min(pad_w, pad_h) : size // 2 + min(pad_w, pad_h) + 1]
        k = k / k.sum(1, keepdim=True)
        pad_w = pad_h = min(pad_w, pad_h)
    flat = F.conv2d(
        F.pad(flat, (pad_w, pad_w, 0, 0), mode="reflect"), k[:, None, None, :], groups=n * c
    )
    flat = F.conv2d(
        F.pad(flat, (0, 0, pad_h, pad_h), mode="reflect"), k[:, None, :, None], groups=n * c
    )
    return flat.reshape(n, c, h, w)
