"""Batched augmentation: one call per batch, per-sample random parameters, on the images'
device, no Python loop over images.

A view is drawn from the same distribution as this per-image torchvision pipeline:

    RandomAffine(rotation, shear=shear)           # about the centre, black fill
    RandomResizedCrop(out_size, crop_scale, crop_ratio)
    RandomHorizontalFlip(flip)
    RandomApply([ColorJitter(brightness, contrast, saturation, hue)], p=jitter)
    RandomGrayscale(grayscale)                     # RGB only
    RandomApply([GaussianBlur(k, blur_sigma)], p=blur)   # k: blur_kernel_size()
    RandomSolarize(0.5, p=solarize)
    + Gaussian noise (prob ``noise``, per-sample std ~ U[0, noise_std])
    Normalize(mean, std)

- Geometry: affine, crop and flip are composed into ONE per-sample matrix and applied
  with a single ``affine_grid`` + ``grid_sample`` (bilinear), so the image is resampled
  once instead of twice. Crop boxes are sampled exactly as torchvision does
  (whole pixels, 10 attempts, then the central crop). Unlike torchvision there is no
  anti-aliasing when a crop is shrunk (never the case when ``out_size`` is the image
  side, since crops are at most the whole image).
- Colour jitter: torchvision's formulas (:mod:`sslctl.data.colour`), factors uniform in
  ``[max(0, 1 - s), 1 + s]`` (hue: ``[-h, h]``) and, as in ``ColorJitter``, a random
  order of the enabled ops, drawn per sample.
- Randomness comes from ``generator`` (any device; numbers are drawn on the generator's
  device and moved): the same seed gives identical views.
"""

from __future__ import annotations

import functools
import math

import torch
import torch.nn.functional as F

from sslctl.data import colour
from sslctl.data.filters import blur as gaussian_blur


def blur_kernel_size(side: int, sigma: float = 2.0) -> int:
    """Gaussian blur taps: SimCLR/BYOL's 10% of the image side (224 -> 23), but at least
    ``2 ceil(3 sigma) + 1`` so the largest sigma is not cut to a box filter (3 taps at
    28 px would make sigma 2 a 3x3 mean), at most the image side; odd, at least 3."""
    k = max(int(0.1 * side), 2 * math.ceil(3 * sigma) + 1)
    k += 1 - k % 2  # odd, rounding up (SimCLR's 22.4 -> 23)
    if k > side:
        k = side - 1 + side % 2  # the largest odd size that fits
    return max(3, k)


@functools.lru_cache(maxsize=16)
def _channel_constants(
    values: tuple[float, ...], dtype: torch.dtype, device: torch.device
) -> torch.Tensor:
    """[1, C, 1, 1] on ``device``, made once (no host-to-device copy per batch)."""
    return torch.tensor(values, dtype=dtype, device=device).view(1, -1, 1, 1)


def normalise(x: torch.Tensor, mean: tuple[float, ...], std: tuple[float, ...]) -> torch.Tensor:
    """(x - mean) / std per channel."""
    m = _channel_constants(tuple(mean), x.dtype, x.device)
    s = _channel_constants(tuple(std), x.dtype, x.device)
    return (x - m) / s


def to_input(
    images: torch.Tensor,
    mean: tuple[float, ...],
    std: tuple[float, ...],
    out_size: int | None = None,
) -> torch.Tensor:
    """Evaluation-time input: uint8 -> float in [0, 1], resized (anti-aliased bilinear) if
    ``out_size`` differs from the image side, normalised."""
    x = images.float() / 255
    if out_size is not None and x.shape[-2:] != (out_size, out_size):
        x = F.interpolate(
            x, size=(out_size, out_size), mode="bilinear", antialias=True, align_corners=False
        )
    return normalise(x, mean, std)


class BatchAugment:
    """Callable ``uint8 [B, C, H, W] -> float [B, C, out_size, out_size]`` (normalised)."""

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
        blur_kernel: int | None = None,
    ) -> None:
        self.mean, self.std, self.out_size = tuple(mean), tuple(std), out_size
        self.crop_scale, self.crop_ratio = tuple(crop_scale), tuple(crop_ratio)
        self.rotation, self.shear, self.flip = rotation, shear, flip
        self.jitter = jitter
        self.strengths = {
            "brightness": brightness,
            "contrast": contrast,
            "saturation": saturation,
            "hue": hue,
        }
        self.grayscale, self.blur, self.blur_sigma = grayscale, blur, tuple(blur_sigma)
        self.blur_kernel = blur_kernel or blur_kernel_size(out_size, max(self.blur_sigma))
        self.solarize, self.noise, self.noise_std = solarize, noise, noise_std
        self.generator = generator

    # -- random numbers -------------------------------------------------------------------
    def _rand(self, shape: tuple[int, ...], device: torch.device) -> torch.Tensor:
        source = self.generator.device if self.generator is not None else device
        return torch.rand(shape, generator=self.generator, device=source).to(device)

    def _uniform(self, n: int, low: float, high: float, device: torch.device) -> torch.Tensor:
        return self._rand((n,), device) * (high - low) + low

    def _coin(self, n: int, p: float, device: torch.device) -> torch.Tensor:
        return self._rand((n,), device) < p

    # -- geometry -------------------------------------------------------------------------
    def crop_boxes(
        self, n: int, height: int, width: int, device: torch.device
    ) -> tuple[torch.Tensor, ...]:
        """Per-sample crops as (half-width, half-height, centre x, centre y) in normalised
        coordinates, sampled exactly as torchvision's ``RandomResizedCrop.get_params``:
        area ~ U(scale) x H W and log-ratio ~ U(log ratio), rounded to whole pixels; the
        first of 10 attempts that fits, placed at a uniform whole-pixel position; else the
        central crop (the whole image when the ratio range holds the image's)."""
        attempts = 10
        area = self._uniform(n * attempts, *self.crop_scale, device).view(n, attempts)
        low, high = math.log(self.crop_ratio[0]), math.log(self.crop_ratio[1])
        ratio = torch.exp(self._uniform(n * attempts, low, high, device)).view(n, attempts)
        w = torch.round(torch.sqrt(area * height * width * ratio))
        h = torch.round(torch.sqrt(area * height * width / ratio))
        fits = (w > 0) & (w <= width) & (h > 0) & (h <= height)
        first = fits.int().argmax(1, keepdim=True)  # index of the first fit (0 if none)
        found = fits.any(1)
        fw, fh = self._fallback(height, width)
        w = torch.where(found, w.gather(1, first)[:, 0], fw)
        h = torch.where(found, h.gather(1, first)[:, 0], fh)
        top = torch.where(
            found, torch.floor(self._rand((n,), device) * (height - h + 1)), (height - h) // 2
        )
        left = torch.where(
            found, torch.floor(self._rand((n,), device) * (width - w + 1)), (width - w) // 2
        )
        return w / width, h / height, (2 * left + w) / width - 1, (2 * top + h) / height - 1

    def _fallback(self, height: int, width: int) -> tuple[float, float]:
        """torchvision's central crop when no attempt fits (width, height in pixels)."""
        in_ratio = width / height
        if in_ratio < min(self.crop_ratio):
            return float(width), float(round(width / min(self.crop_ratio)))
        if in_ratio > max(self.crop_ratio):
            return float(round(height * max(self.crop_ratio))), float(height)
        return float(width), float(height)

    def geometry(self, n: int, height: int, width: int, device: torch.device) -> torch.Tensor:
        """Per-sample matrices [n, 2, 3] from output to input normalised coordinates.

        An output point o of the crop (half-sizes D = diag(w, h), centre c, flip F) reads
        the affine-transformed image at c + D F o, which reads the input at A (c + D F o),
        where A is the inverse of RandomAffine's forward map R(angle) Sh(shear), i.e.
        Sh(-shear) R(-angle): distributed as Sh R because angle and shear are symmetric
        around 0. A acts on pixel offsets, so it is rescaled for non-square images."""
        w, h, cx, cy = self.crop_boxes(n, height, width, device)
        flip = torch.where(self._coin(n, self.flip, device), -1.0, 1.0)
        angle = torch.deg2rad(self._uniform(n, -self.rotation, self.rotation, device))
        tan = torch.tan(torch.deg2rad(self._uniform(n, -self.shear, self.shear, device)))
        cos, sin = torch.cos(angle), torch.sin(angle)
        a11, a12, a21, a22 = cos + tan * sin, tan * cos - sin, sin, cos  # [[1, tan], [0, 1]] R
        a12, a21 = a12 * (height / width), a21 * (width / height)
        row1 = [a11 * w * flip, a12 * h, a11 * cx + a12 * cy]
        row2 = [a21 * w * flip, a22 * h, a21 * cx + a22 * cy]
        return torch.stack([torch.stack(row1, 1), torch.stack(row2, 1)], 1)

    # -- photometry -----------------------------------------------------------------------
    def colour_jitter(self, x: torch.Tensor) -> torch.Tensor:
        """ColorJitter with probability ``jitter``: per-sample factors and op order."""
        n, dev = len(x), x.device
        rgb = x.shape[1] == 3
        active = [
            k
            for k, s in self.strengths.items()
            if s > 0 and (rgb or k in ("brightness", "contrast"))
        ]
        if not active:
            return x
        on = self._coin(n, self.jitter, dev)
        factors = {}
        for name in active:
            s = self.strengths[name]
            low, high = (-s, s) if name == "hue" else (max(0.0, 1 - s), 1 + s)
            value = self._uniform(n, low, high, dev)
            factors[name] = torch.where(on, value, torch.full_like(value, colour.IDENTITY[name]))
        order = self._rand((n, len(active)), dev).argsort(1)
        return colour.jitter(x, factors, order)

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        n, c, height, width = images.shape
        dev = images.device
        x = images.float() / 255
        size = [n, c, self.out_size, self.out_size]
        theta = self.geometry(n, height, width, dev)
        grid = F.affine_grid(theta, size, align_corners=False)
        # border padding: a crop touching the image edge reads the edge pixels (as a crop
        # then resize does); points outside the input (rotation, shear) are black, with a
        # hard edge like RandomAffine's default nearest fill
        x = F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)
        x = x * (grid.abs() <= 1).all(-1, keepdim=True).permute(0, 3, 1, 2)
        if self.jitter > 0:
            x = self.colour_jitter(x)
        if self.grayscale > 0 and c == 3:
            gray = self._coin(n, self.grayscale, dev).view(n, 1, 1, 1)
            x = torch.where(gray, colour.grayscale(x).expand_as(x), x)
        if self.blur > 0:
            sigma = self._uniform(n, *self.blur_sigma, dev)
            sigma = torch.where(self._coin(n, self.blur, dev), sigma, torch.full_like(sigma, 1e-3))
            x = gaussian_blur(x, sigma, self.blur_kernel)
        if self.solarize > 0:
            x = colour.solarize(x, self._coin(n, self.solarize, dev))
        if self.noise > 0:
            std = self._uniform(n, 0, self.noise_std, dev) * self._coin(n, self.noise, dev)
            source = self.generator.device if self.generator is not None else dev
            eps = torch.randn(x.shape, generator=self.generator, device=source).to(dev)
            x = (x + std.view(n, 1, 1, 1) * eps).clamp(0, 1)
        return normalise(x, self.mean, self.std)
