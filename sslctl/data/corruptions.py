"""Corruption suites in the spirit of ImageNet-C (Hendrycks & Dietterich, 2019) and
MNIST-C (Mu & Gilmer, 2019): each corruption at severities 1-5, monotonically harder,
generated deterministically (fixed seed) and vectorised over the batch."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

CORRUPTIONS: tuple[str, ...] = (
    "gaussian_noise",
    "shot_noise",
    "impulse_noise",
    "gaussian_blur",
    "contrast",
    "rotation",
    "elastic",
    "pixelate",
)

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
    if severity not in range(1, 6):
        raise ValueError(f"severity must be 1..5, got {severity}")


def gaussian_kernel(sigma: torch.Tensor, size: int) -> torch.Tensor:
    """Normalised 1-d Gaussian kernels [N, size] for per-sample ``sigma`` [N]."""
    x = torch.arange(size, dtype=torch.float32, device=sigma.device) - (size - 1) / 2
    k = torch.exp(-(x[None] ** 2) / (2 * sigma[:, None] ** 2))
    return k / k.sum(1, keepdim=True)


def blur(x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """Separable Gaussian blur of float images [N, C, H, W] with per-sample sigma [N]."""
    n, c, h, w = x.shape
    size = 2 * math.ceil(3 * float(sigma.max())) + 1
    k = gaussian_kernel(sigma, size).repeat_interleave(c, 0)  # [N*C, size]
    flat = x.reshape(1, n * c, h, w)
    pad = size // 2
    flat = F.conv2d(
        F.pad(flat, (pad, pad, 0, 0), mode="reflect"), k[:, None, None, :], groups=n * c
    )
    flat = F.conv2d(
        F.pad(flat, (0, 0, pad, pad), mode="reflect"), k[:, None, :, None], groups=n * c
    )
    return flat.reshape(n, c, h, w)


def _warp(x: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
    """Resample ``x`` at identity + ``flow`` (normalised coordinates, [N, H, W, 2])."""
    n = x.shape[0]
    theta = torch.eye(2, 3, device=x.device).expand(n, 2, 3)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid + flow, padding_mode="zeros", align_corners=False)


def corrupt(images: torch.Tensor, kind: str, severity: int, *, seed: int) -> torch.Tensor:
    """Corrupt uint8 images [N, C, H, W]; returns uint8 of the same shape."""
    _check(kind, severity)
    level = LEVELS[kind][severity - 1]
    gen = torch.Generator().manual_seed(seed)
    x = images.float() / 255
    n, _, h, w = x.shape
    scale = h / 28
    if kind == "gaussian_noise":
        x = x + level * torch.randn(x.shape, generator=gen)
    elif kind == "shot_noise":
        x = torch.poisson(x * level, generator=gen) / level
    elif kind == "impulse_noise":
        u = torch.rand(x.shape, generator=gen)
        x = torch.where(u < level / 2, 0.0, torch.where(u > 1 - level / 2, 1.0, x))
    elif kind == "gaussian_blur":
        x = blur(x, torch.full((n,), level * scale))
    elif kind == "contrast":
        mean = x.mean(dim=(1, 2, 3), keepdim=True)
        x = (x - mean) * level + mean
    elif kind == "rotation":
        sign = torch.randint(0, 2, (n,), generator=gen).float() * 2 - 1
        angle = torch.deg2rad(sign * level)
        cos, sin = torch.cos(angle), torch.sin(angle)
        theta = torch.stack(
            [
                torch.stack([cos, -sin, torch.zeros(n)], 1),
                torch.stack([sin, cos, torch.zeros(n)], 1),
            ],
            1,
        )
        grid = F.affine_grid(theta, list(x.shape), align_corners=False)
        x = F.grid_sample(x, grid, padding_mode="zeros", align_corners=False)
    elif kind == "elastic":
        field = torch.randn(n, 2, h, w, generator=gen)
        field = blur(field, torch.full((n,), 3.0 * scale))
        field = field / field.flatten(1).std(1).clamp_min(1e-6)[:, None, None, None]
        flow = field.permute(0, 2, 3, 1) * (level * scale) * 2 / torch.tensor([w, h])
        x = _warp(x, flow)
    elif kind == "pixelate":
        small = max(2, round(h * level))
        x = F.interpolate(
            F.interpolate(x, size=(small, small), mode="area"), size=(h, w), mode="nearest"
        )
    return (x.clamp(0, 1) * 255).round().to(torch.uint8)
