"""Per-sample colour ops equal torchvision's functional ops applied image by image."""

from __future__ import annotations

import torch
from torchvision.transforms.v2 import functional as TF

from sslctl.data import colour

GEN = torch.Generator().manual_seed(0)
RGB = torch.rand(8, 3, 16, 16, generator=GEN)
GREY = torch.rand(8, 1, 16, 16, generator=GEN)
FACTORS = torch.linspace(0.0, 1.8, 8)
SHIFTS = torch.linspace(-0.5, 0.5, 8)


def per_image(fn, x: torch.Tensor, factors: torch.Tensor) -> torch.Tensor:
    return torch.stack([fn(img, float(f)) for img, f in zip(x, factors, strict=True)])


def test_brightness_contrast_saturation_match_torchvision() -> None:
    """brightness, contrast (mean luma) and saturation (blend with luma), RGB and grey."""
    for x in (RGB, GREY):
        for ours, ref in (
            (colour.brightness, TF.adjust_brightness),
            (colour.contrast, TF.adjust_contrast),
            (colour.saturation, TF.adjust_saturation),
        ):
            torch.testing.assert_close(
                ours(x, FACTORS), per_image(ref, x, FACTORS), atol=1e-5, rtol=0
            )


def test_hue_matches_torchvision() -> None:
    """Hue rotation in HSV with per-sample shifts in [-0.5, 0.5]; grey images unchanged."""
    torch.testing.assert_close(
        colour.hue(RGB, SHIFTS), per_image(TF.adjust_hue, RGB, SHIFTS), atol=1e-5, rtol=0
    )
    assert torch.equal(colour.hue(GREY, SHIFTS), GREY)


def test_grayscale_and_solarize_match_torchvision() -> None:
    """Luma weights and the solarize threshold (inverted where >= 0.5) are torchvision's."""
    torch.testing.assert_close(colour.grayscale(RGB), TF.rgb_to_grayscale(RGB), atol=1e-6, rtol=0)
    on = torch.tensor([True, False] * 4)
    out = colour.solarize(RGB, on)
    torch.testing.assert_close(out[on], TF.solarize(RGB[on], 0.5))
    assert torch.equal(out[~on], RGB[~on])


def test_jitter_applies_each_op_once_in_each_samples_order() -> None:
    """Sample i gets brightness, contrast, saturation and hue in its own order order[i]:
    the same as torchvision's functional ops applied one by one in that order."""
    tv = {
        "brightness": TF.adjust_brightness,
        "contrast": TF.adjust_contrast,
        "saturation": TF.adjust_saturation,
        "hue": TF.adjust_hue,
    }
    factors = {
        "brightness": torch.tensor([1.3, 0.7, 1.1, 0.9]),
        "contrast": torch.tensor([0.6, 1.4, 0.8, 1.2]),
        "saturation": torch.tensor([1.5, 0.5, 0.2, 1.0]),
        "hue": torch.tensor([0.1, -0.2, 0.3, -0.05]),
    }
    order = torch.tensor([[0, 1, 2, 3], [3, 2, 1, 0], [1, 3, 0, 2], [2, 0, 3, 1]])
    names = list(factors)
    out = colour.jitter(RGB[:4], factors, order)
    for i in range(4):
        ref = RGB[i]
        for k in order[i].tolist():
            ref = tv[names[k]](ref, float(factors[names[k]][i]))
        torch.testing.assert_close(out[i], ref, atol=1e-5, rtol=0)
    grey = colour.jitter(GREY[:4], factors, order)  # saturation and hue: no effect
    ref = colour.contrast(colour.brightness(GREY[:4], factors["brightness"]), factors["contrast"])
    for i in (0, 3):  # brightness before contrast in these samples' orders
        torch.testing.assert_close(grey[i], ref[i], atol=1e-6, rtol=0)
