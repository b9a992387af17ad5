"""Per-sample colour operations on float batches [N, C, H, W] in [0, 1].

Each function takes one factor per sample and reproduces torchvision's functional op
(``adjust_brightness``, ``adjust_contrast``, ``adjust_saturation``, ``adjust_hue``,
``rgb_to_grayscale``, ``solarize``) applied image by image: same formulas, same
grayscale weights, same clamping. One-channel images are left alone by saturation and
hue, as in torchvision.
"""

from __future__ import annotations

import functools

import torch

GRAY_WEIGHTS = (0.2989, 0.587, 0.114)  # torchvision's rgb_to_grayscale


def _per_sample(factor: torch.Tensor) -> torch.Tensor:
    return factor.view(-1, 1, 1, 1)


def grayscale(x: torch.Tensor) -> torch.Tensor:
    """Luma [N, 1, H, W] (the image itself when it has one channel)."""
    if x.shape[1] == 1:
        return x
    r, g, b = x.unbind(1)
    return (r * GRAY_WEIGHTS[0] + g * GRAY_WEIGHTS[1] + b * GRAY_WEIGHTS[2]).unsqueeze(1)


def _blend(x: torch.Tensor, other: torch.Tensor, factor: torch.Tensor) -> torch.Tensor:
    f = _per_sample(factor)
    return (f * x + (1 - f) * other).clamp(0, 1)


def brightness(x: torch.Tensor, factor: torch.Tensor) -> torch.Tensor:
    """Scale intensities by ``factor`` (1 = unchanged)."""
    return (x * _per_sample(factor)).clamp(0, 1)


def contrast(x: torch.Tensor, factor: torch.Tensor) -> torch.Tensor:
    """Blend with the image's mean luma (1 = unchanged, 0 = flat grey)."""
    return _blend(x, grayscale(x).mean(dim=(1, 2, 3), keepdim=True), factor)


def saturation(x: torch.Tensor, factor: torch.Tensor) -> torch.Tensor:
    """Blend with the image's luma (1 = unchanged, 0 = grey); one channel: unchanged."""
    if x.shape[1] == 1:
        return x
    return _blend(x, grayscale(x), factor)


def _rgb_to_hsv(x: torch.Tensor) -> torch.Tensor:
    r, g, b = x.unbind(1)
    maxc, minc = x.amax(1), x.amin(1)
    span = maxc - minc
    flat = span == 0
    s = span / torch.where(flat, torch.ones_like(maxc), maxc)
    safe = torch.where(flat, torch.ones_like(span), span)
    rc, gc, bc = (maxc - r) / safe, (maxc - g) / safe, (maxc - b) / safe
    h = torch.where(maxc == r, bc - gc, torch.where(maxc == g, 2.0 + rc - bc, 4.0 + gc - rc))
    h = torch.where(flat, torch.zeros_like(h), h)
    return torch.stack(((h / 6.0 + 1.0) % 1.0, s, maxc), 1)


@functools.lru_cache(maxsize=8)
def _sector_table(device: torch.device) -> torch.Tensor:
    """For hue sector i, where (r, g, b) come from in (v, p, q, t)."""
    table = [[0, 3, 1], [2, 0, 1], [1, 0, 3], [1, 2, 0], [3, 1, 0], [0, 1, 2]]
    return torch.tensor(table, device=device)


def _hsv_to_rgb(x: torch.Tensor) -> torch.Tensor:
    h, s, v = x.unbind(1)
    i = torch.floor(h * 6.0)
    f = h * 6.0 - i
    i = i.long() % 6
    p = (v * (1.0 - s)).clamp(0, 1)
    q = (v * (1.0 - s * f)).clamp(0, 1)
    t = (v * (1.0 - s * (1.0 - f))).clamp(0, 1)
    table = _sector_table(x.device)
    vpqt = torch.stack((v, p, q, t), 1)
    return vpqt.gather(1, table[i].permute(0, 3, 1, 2))


def hue(x: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
    """Rotate the HSV hue by ``shift`` turns, in [-0.5, 0.5] (0 = unchanged)."""
    if x.shape[1] == 1:
        return x
    hsv = _rgb_to_hsv(x)
    h = (hsv[:, 0] + shift.view(-1, 1, 1)) % 1.0
    return _hsv_to_rgb(torch.stack((h, hsv[:, 1], hsv[:, 2]), 1))


def solarize(x: torch.Tensor, on: torch.Tensor, threshold: float = 0.5) -> torch.Tensor:
    """Invert pixels at or above ``threshold`` in the samples where ``on`` [N] is true."""
    return torch.where(on.view(-1, 1, 1, 1) & (x >= threshold), 1 - x, x)


JITTER_OPS = ("brightness", "contrast", "saturation", "hue")  # ColorJitter's parameters
IDENTITY = {"brightness": 1.0, "contrast": 1.0, "saturation": 1.0, "hue": 0.0}


def _blend_step(
    x: torch.Tensor, a: torch.Tensor, b: torch.Tensor | None, c: torch.Tensor | None
) -> torch.Tensor:
    """``clamp(a x + b mean(luma) + c luma)`` per sample: brightness is (f, 0, 0),
    contrast (f, 1 - f, 0), saturation (f, 0, 1 - f) and the identity (1, 0, 0), so one
    step applies a different one of them to each sample with torchvision's formulas."""
    y = _per_sample(a) * x
    if b is not None or c is not None:
        luma = grayscale(x)
        if b is not None:
            y = y + _per_sample(b) * luma.mean(dim=(1, 2, 3), keepdim=True)
        if c is not None:
            y = y + _per_sample(c) * luma
    return y.clamp(0, 1)


def jitter(x: torch.Tensor, factors: dict[str, torch.Tensor], order: torch.Tensor) -> torch.Tensor:
    """torchvision's ``ColorJitter`` with per-sample factors and a per-sample op order.

    ``factors``: op name (from ``JITTER_OPS``) -> factor [N], the ops to apply (identity
    factors where a sample is not jittered); ``order`` [N, len(factors)]: a permutation
    of ``range(len(factors))`` per sample, indexing ``list(factors)``. At step ``t``
    sample ``i`` gets op ``order[i, t]``: the blend ops in one fused step, hue (an HSV
    round trip) where chosen. No host synchronisation.
    """
    names = list(factors)
    unknown = set(names) - set(JITTER_OPS)
    if unknown:
        raise ValueError(f"unknown jitter ops {sorted(unknown)}; expected {list(JITTER_OPS)}")
    rgb = x.shape[1] == 3  # saturation and hue leave one-channel images alone
    ones = torch.ones(len(x), device=x.device)
    zeros = torch.zeros_like(ones)
    for step in range(len(names)):
        chosen = {name: order[:, step] == k for k, name in enumerate(names)}
        if not rgb:
            chosen.pop("saturation", None)
            chosen.pop("hue", None)
        a, b, c = ones, None, None
        for name in ("brightness", "contrast", "saturation"):
            if name in chosen:
                a = torch.where(chosen[name], factors[name], a)
        if "contrast" in chosen:
            b = torch.where(chosen["contrast"], 1 - factors["contrast"], zeros)
        if "saturation" in chosen:
            c = torch.where(chosen["saturation"], 1 - factors["saturation"], zeros)
        x = _blend_step(x, a, b, c)
        if "hue" in chosen:
            x = torch.where(_per_sample(chosen["hue"]), hue(x, factors["hue"]), x)
    return x
