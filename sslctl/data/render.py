"""Rendering scikit-learn's 8x8 digits the way MNIST was made, so that MNIST -> digits is a
genuine writer/resolution shift rather than a framing accident.

MNIST (LeCun et al.): each digit was size-normalised to fit a 20x20 box preserving its
aspect ratio (anti-aliased), then centred in a 28x28 field by its centre of mass.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def ink_box(image: torch.Tensor, threshold: float) -> tuple[int, int, int, int]:
    """Rows and columns (top, bottom, left, right; inclusive-exclusive) holding ink."""
    rows = torch.nonzero(image.amax(1) > threshold).flatten()
    cols = torch.nonzero(image.amax(0) > threshold).flatten()
    if len(rows) == 0:
        return 0, image.shape[0], 0, image.shape[1]
    return int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1


def render_mnist_style(images: torch.Tensor, size: int = 28, box: int = 20) -> torch.Tensor:
    """``images``: float [N, H, W] in [0, 1] -> uint8 [N, 1, size, size]: crop to the ink
    box, pad to square, resize (bicubic, antialiased) into ``box`` x ``box``, and place in
    a ``size`` field so that the centre of mass lands in the middle."""
    out = torch.zeros(len(images), 1, size, size)
    for i, image in enumerate(images):
        top, bottom, left, right = ink_box(image, 0.05)
        crop = image[top:bottom, left:right]
        h, w = crop.shape
        side = max(h, w)
        square = torch.zeros(side, side)
        square[(side - h) // 2 : (side - h) // 2 + h, (side - w) // 2 : (side - w) // 2 + w] = crop
        scaled = F.interpolate(
            square[None, None], size=(box, box), mode="bicubic", antialias=True, align_corners=False
        )[0, 0].clamp(0, 1)
        mass = scaled.sum().clamp_min(1e-6)
        grid = torch.arange(box, dtype=torch.float32)
        cy = float((scaled.sum(1) * grid).sum() / mass)
        cx = float((scaled.sum(0) * grid).sum() / mass)
        oy = min(max(round(size / 2 - 0.5 - cy), 0), size - box)
        ox = min(max(round(size / 2 - 0.5 - cx), 0), size - box)
        out[i, 0, oy : oy + box, ox : ox + box] = scaled
    return (out * 255).round().to(torch.uint8)
