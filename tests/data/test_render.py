"""MNIST-style rendering of scikit-learn's 8x8 digits."""

from __future__ import annotations

import pytest
import torch

from sslctl.data.datasets import load_dataset, load_ood
from sslctl.data.render import ink_boxes, render_mnist_style


def ink_stats(images: torch.Tensor) -> dict[str, float]:
    """Mean intensity, share of saturated pixels, mean ink-box side (the larger of height
    and width) and mean centre of mass (row, column) of uint8 [N, 1, H, W] images."""
    x = images.float()[:, 0] / 255
    grid = torch.arange(x.shape[-1], dtype=torch.float32)
    mass = x.sum((1, 2))
    ink = x > 0.2
    side = torch.maximum(ink.any(2).float().sum(1), ink.any(1).float().sum(1))
    return {
        "mean": float(x.mean()),
        "saturated": float((x > 0.9).float().mean()),
        "side": float(side.mean()),
        "row": float(((x.sum(2) * grid).sum(1) / mass).mean()),
        "col": float(((x.sum(1) * grid).sum(1) / mass).mean()),
    }


def test_rendered_digits_have_mnists_ink_statistics() -> None:
    """Rendered digits match mnist5k in mean intensity, stroke saturation, 20px ink box
    and centre of mass (the remaining shift is writers and resolution, not framing)."""
    mnist = load_dataset("mnist5k")
    digits = load_ood("digits", reference=mnist)["digits"]
    assert digits.images.shape == (1797, 1, 28, 28) and digits.images.dtype == torch.uint8
    m, d = ink_stats(mnist.train.images), ink_stats(digits.images)
    assert d["mean"] == pytest.approx(m["mean"], abs=0.01), (m, d)
    assert d["saturated"] == pytest.approx(m["saturated"], abs=0.02), (m, d)
    assert d["side"] == pytest.approx(m["side"], abs=1.0), (m, d)
    assert d["row"] == pytest.approx(m["row"], abs=0.3) and d["col"] == pytest.approx(
        m["col"], abs=0.3
    )


def test_ink_boxes() -> None:
    """The ink box is the tightest box around pixels above the threshold; an empty
    image's box is the whole image."""
    x = torch.zeros(2, 8, 8)
    x[0, 2:5, 3:7] = 1.0
    assert ink_boxes(x).tolist() == [[2, 5, 3, 7], [0, 8, 0, 8]]


def test_aspect_ratio_kept_and_field_size_scales() -> None:
    """A tall bar stays tall (box height 20, narrow); a 32px field gets a 23px box."""
    bar = torch.zeros(1, 8, 8)
    bar[0, :, 3:5] = 1.0
    out = render_mnist_style(bar)[0, 0] > 128
    rows, cols = int(out.any(1).sum()), int(out.any(0).sum())
    assert rows == 20 and cols <= 6
    big = render_mnist_style(bar, size=32)[0, 0] > 128
    assert big.shape == (32, 32) and int(big.any(1).sum()) == round(20 * 32 / 28)
