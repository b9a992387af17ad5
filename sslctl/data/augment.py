"""Batched two-view augmentation: one call per batch, per-sample random parameters, on the
tensor's device; no Python loop over images.

Random resized crop, rotation, shear and horizontal flip are composed into ONE per-sample
affine matrix and applied with a single ``affine_grid`` + ``grid_sample``. Crop area and
aspect ratio are sampled as torchvision's ``RandomResizedCrop`` does (10 attempts, then the
whole image). Colour jitter uses torchvision's factor semantics (brightness, contrast,
saturation multiply by U[1-s, 1+s]; hue shifts by U[-h, h]) in a fixed order
(brightness, contrast, saturation, hue) rather than torchvision's random order. Blur is a
true (untruncated) Gaussian with per-sample sigma, as one grouped convolution.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from sslctl.data.corruptions import blur as gaussian_blur

GRAY = (0.299, 0.587, 0.114)


def to_input(
    images: torch.Tensor,
    mean: tuple[float, ...],
    std: tuple[float, ...],
    out_size: int | None = None,
) -> torch.Tensor:
    """Evaluation-time input: uint8 -> float in [0, 1], resized if needed, normalised."""
    x = images.float() / 255
    if out_size is not None and x.shape[-1] != out_size:
        x = F.interpolate(
            x, size=(out_size, out_size), mode="bilinear", antialias=True, align_corners=False
        )
    return _normalise(x, mean, std)


def _normalise(x: torch.Tensor, mean: tuple[float, ...], std: tuple[float, ...]) -> torch.Tensor:
    m = torch.tensor(mean, device=x.device).view(1, -1, 1, 1)
    s = torch.tensor(std, device=x.device).view(1, -1, 1, 1)
    return (x - m) / s


def _gray(x: torch.Tensor) -> torch.Tensor:
    if x.shape[1] == 1:
        return x
    w = torch.tensor(GRAY, device=x.device).view(1, 3, 1, 1)
    return (x * w).sum(1, keepdim=True)


class BatchAugment:
    """Callable ``uint8 [B, C, H, W] -> float [B, C, out, out]`` (normalised)."""

    def __init__(
        self,
        *,
        mean: tuple[float, ...],
        std: tuple[float, ...],
        out_size: int,
        crop_scale: tuple[float, float] = (0.08, 1.0),
        crop_ratio: tuple[float, float] = (3 / 4, 4 / 3),
        rotation: float = 0.0,
        shear: float = 0.0,
        flip: float = 0.0,
        jitter: float = 0.0,
        brightness: float = 0.4,
        contrast: float = 0.4,
        saturation: float = 0.0,
        hue: float = 0.0,
        grayscale: float = 0.0,
        blur: float = 0.0,
        blur_sigma: tuple[float, float] = (0.1, 2.0),
        solarize: float = 0.0,
        noise: float = 0.0,
        noise_std: float = 0.1,
        generator: torch.Generator | None = None,
    ) -> None:
        self.mean, self.std, self.out_size = tuple(mean), tuple(std), out_size
        self.crop_scale, self.crop_ratio = tuple(crop_scale), tuple(crop_ratio)
        self.rotation, self.shear, self.flip = rotation, shear, flip
        self.jitter, self.brightness, self.contrast = jitter, brightness, contrast
        self.saturation, self.hue, self.grayscale = saturation, hue, grayscale
        self.blur, self.blur_sigma = blur, tuple(blur_sigma)
        self.solarize, self.noise, self.noise_std = solarize, noise, noise_std
        self.generator = generator

    def _u(self, n: int, low: float, high: float, device: torch.device) -> torch.Tensor:
        return torch.rand(n, device=device, generator=self.generator) * (high - low) + low

    def _p(self, n: int, p: float, device: torch.device) -> torch.Tensor:
        return torch.rand(n, device=device, generator=self.generator) < p

    def crop_sizes(self, n: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        """Crop width and height as fractions of the image side (torchvision's sampling:
        area ~ U(scale), log-ratio ~ U(log ratio), 10 attempts, else the whole image)."""
        attempts = 10
        area = self._u(n * attempts, *self.crop_scale, device).view(n, attempts)
        logr = self._u(
            n * attempts, math.log(self.crop_ratio[0]), math.log(self.crop_ratio[1]), device
        ).view(n, attempts)
        w, h = torch.sqrt(area * torch.exp(logr)), torch.sqrt(area / torch.exp(logr))
        ok = (w <= 1) & (h <= 1)
        first = ok.float().argmax(1, keepdim=True)  # first valid attempt (0 if none)
        found = ok.any(1)
        w = torch.where(found, w.gather(1, first)[:, 0], torch.ones_like(w[:, 0]))
        h = torch.where(found, h.gather(1, first)[:, 0], torch.ones_like(h[:, 0]))
        return w, h

    def geometry(self, n: int, device: torch.device) -> torch.Tensor:
        """Per-sample affine matrices [n, 2, 3] mapping output to input coordinates."""
        w, h = self.crop_sizes(n, device)
        cx = self._u(n, -1, 1, device) * (1 - w)
        cy = self._u(n, -1, 1, device) * (1 - h)
        angle = torch.deg2rad(self._u(n, -self.rotation, self.rotation, device))
        shear = torch.deg2rad(self._u(n, -self.shear, self.shear, device))
        flip = torch.where(self._p(n, self.flip, device), -1.0, 1.0)
        cos, sin, tan = torch.cos(angle), torch.sin(angle), torch.tan(shear)
        # M = R(angle) @ [[1, tan], [0, 1]] @ diag(w * flip, h)
        a11, a12 = cos * w * flip, (cos * tan - sin) * h
        a21, a22 = sin * w * flip, (sin * tan + cos) * h
        return torch.stack([torch.stack([a11, a12, cx], 1), torch.stack([a21, a22, cy], 1)], 1)

    def colour(self, x: torch.Tensor) -> torch.Tensor:
        n, dev = len(x), x.device
        on = self._p(n, self.jitter, dev).view(n, 1, 1, 1)
        b = self._u(n, max(0.0, 1 - self.brightness), 1 + self.brightness, dev).view(n, 1, 1, 1)
        c = self._u(n, max(0.0, 1 - self.contrast), 1 + self.contrast, dev).view(n, 1, 1, 1)
        y = (x * b).clamp(0, 1)
        mean = _gray(y).mean(dim=(1, 2, 3), keepdim=True)
        y = ((y - mean) * c + mean).clamp(0, 1)
        if x.shape[1] == 3 and self.saturation > 0:
            s = self._u(n, max(0.0, 1 - self.saturation), 1 + self.saturation, dev).view(n, 1, 1, 1)
            gray = _gray(y)
            y = ((y - gray) * s + gray).clamp(0, 1)
        if x.shape[1] == 3 and self.hue > 0:
            y = _hue_shift(y, self._u(n, -self.hue, self.hue, dev))
        x = torch.where(on, y, x)
        if x.shape[1] == 3 and self.grayscale > 0:
            x = torch.where(
                self._p(n, self.grayscale, dev).view(n, 1, 1, 1), _gray(x).expand_as(x), x
            )
        return x

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        n, c, _, _ = images.shape
        dev = images.device
        x = images.float() / 255
        grid = F.affine_grid(
            self.geometry(n, dev), [n, c, self.out_size, self.out_size], align_corners=False
        )
        x = F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
        if self.jitter > 0 or self.grayscale > 0:
            x = self.colour(x)
        if self.blur > 0:
            sigma = self._u(n, *self.blur_sigma, dev)
            sigma = torch.where(self._p(n, self.blur, dev), sigma, torch.full_like(sigma, 1e-3))
            x = gaussian_blur(x, sigma)
        if self.solarize > 0:
            x = torch.where(self._p(n, self.solarize, dev).view(n, 1, 1, 1) & (x >= 0.5), 1 - x, x)
        if self.noise > 0:
            std = self._u(n, 0, self.noise_std, dev) * self._p(n, self.noise, dev)
            x = x + std.view(n, 1, 1, 1) * torch.randn(
                x.shape, device=dev, generator=self.generator
            )
        return _normalise(x.clamp(0, 1), self.mean, self.std)


def _hue_shift(x: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
    """Rotate hue by ``shift`` (fraction of a turn) in YIQ space, per sample."""
    to_yiq = torch.tensor(
        [[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]], device=x.device
    )
    yiq = torch.einsum("ij,njhw->nihw", to_yiq, x)
    angle = 2 * math.pi * shift.view(-1, 1, 1)
    i, q = yiq[:, 1], yiq[:, 2]
    yiq = torch.stack(
        [
            yiq[:, 0],
            i * torch.cos(angle) - q * torch.sin(angle),
            i * torch.sin(angle) + q * torch.cos(angle),
        ],
        1,
    )
    return torch.einsum("ij,njhw->nihw", torch.linalg.inv(to_yiq), yiq).clamp(0, 1)
