"""Corruption suites in the spirit of ImageNet-C (Hendrycks & Dietterich, 2019) and
MNIST-C (Mu & Gilmer, 2019): each corruption at severities 1-5, monotonically harder,
generated deterministically (fixed seed) and vectorised over the batch."""

from __future__ import annotations

import zlib

import torch
import torch.nn.functional as F

from sslctl.data.catalog import CORRUPTIONS, SEVERITIES
from sslctl.data.filters import blur

__all__ = ["CORRUPTIONS", "LEVELS", "corrupt", "suite_seed"]

# One parameter per severity 1..5 for each corruption.
LEVELS: dict[str, tuple[float, ...]] = {
    "gaussian_noise": (0.08, 0.16, 0.24, 0.32, 0.40),  # std on the [0, 1] scale
    "shot_noise": (60.0, 25.0, 12.0, 6.0, 3.0),  # photons per unit intensity
    "impulse_noise": (0.03, 0.06, 0.10, 0.15, 0.22),  # fraction of salt-and-pepper pixels
    "gaussian_blur": (0.6, 1.0, 1.4, 1.8, 2.4),  # sigma in pixels at 28x28
    "contrast": (0.6, 0.45, 0.3, 0.2, 0.12),  # remaining contrast factor
    "rotation": (15.0, 30.0, 45.0, 60.0, 75.0),  # degrees (sign random)
    "elastic": (1.0, 1.5, 2.0, 2.5, 3.0),  # displacement in pixels at 28x28
    "pixelate": (0.72, 0.58, 0.45, 0.36, 0.28),  # resolution factor
}


def _check(kind: str, severity: int) -> None:
    if kind not in CORRUPTIONS:
        raise ValueError(f"unknown corruption {kind!r}; expected one of {list(CORRUPTIONS)}")
    if severity not in SEVERITIES:
        raise ValueError(f"unknown severity {severity!r}; expected one of {list(SEVERITIES)}")


def suite_seed(kind: str, severity: int) -> int:
    """The fixed seed of one corruption at one severity (stable across versions of the
    ``CORRUPTIONS`` list, independent of any recipe seed)."""
    return zlib.crc32(f"{kind}/{severity}".encode())


def _warp(x: torch.Tensor, theta: torch.Tensor, flow: torch.Tensor | None = None) -> torch.Tensor:
    """Resample ``x`` at ``theta`` [N, 2, 3] (+ ``flow``, normalised, [N, H, W, 2])."""
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    if flow is not None:
        grid = grid + flow
    return F.grid_sample(x, grid, padding_mode="zeros", align_corners=False)


def _rotation(angle_deg: torch.Tensor) -> torch.Tensor:
    angle = torch.deg2rad(angle_deg)
    cos, sin, zero = torch.cos(angle), torch.sin(angle), torch.zeros_like(angle)
    return torch.stack([torch.stack([cos, -sin, zero], 1), torch.stack([sin, cos, zero], 1)], 1)


def corrupt(images: torch.Tensor, kind: str, severity: int, *, seed: int) -> torch.Tensor:
    """Corrupt uint8 images [N, C, H, W] on their device; returns uint8, same shape.

    Random numbers come from a CPU generator seeded with ``seed`` and are moved to the
    images' device, so a suite is the same on every device. Spatial parameters are given
    for 28x28 images and scale with the image side.
    """
    _check(kind, severity)
    level = LEVELS[kind][severity - 1]
    gen = torch.Generator().manual_seed(seed)
    dev = images.device
    x = images.float() / 255
    n, _, h, w = x.shape
    scale = h / 28

    def randn(*shape: int) -> torch.Tensor:
        return torch.randn(shape, generator=gen).to(dev)

    if kind == "gaussian_noise":
        x = x + level * randn(*x.shape)
    elif kind == "shot_noise":
        x = torch.poisson((x * level).cpu(), generator=gen).to(dev) / level
    elif kind == "impulse_noise":
        u = torch.rand(x.shape, generator=gen).to(dev)
        x = torch.where(u < level / 2, 0.0, torch.where(u > 1 - level / 2, 1.0, x))
    elif kind == "gaussian_blur":
        x = blur(x, torch.full((n,), level * scale, device=dev))
    elif kind == "contrast":
        mean = x.mean(dim=(1, 2, 3), keepdim=True)
        x = (x - mean) * level + mean
    elif kind == "rotation":
        sign = torch.randint(0, 2, (n,), generator=gen).to(dev).float() * 2 - 1
        x = _warp(x, _rotation(sign * level))
    elif kind == "elastic":
        field = blur(randn(n, 2, h, w), torch.full((n,), 3.0 * scale, device=dev))
        field = field / field.flatten(1).std(1).clamp_min(1e-6)[:, None, None, None]
        to_norm = torch.tensor([2 / w, 2 / h], device=dev)
        flow = field.permute(0, 2, 3, 1) * (level * scale) * to_norm
        x = _warp(x, _rotation(torch.zeros(n, device=dev)), flow)
    elif kind == "pixelate":
        small = max(2, round(h * level))
        x = F.interpolate(
            F.interpolate(x, size=(small, small), mode="area"), size=(h, w), mode="nearest"
        )
    return (x.clamp(0, 1) * 255).round().to(torch.uint8)
