"""Rendering small digit images the way MNIST was made, so that MNIST -> digits is a
genuine writer/resolution shift rather than a framing or stroke-weight accident.

MNIST (LeCun et al.): NIST's binary digits were size-normalised to fit a 20x20 box
preserving their aspect ratio, anti-aliased (hence grey levels), then centred in a 28x28
field by their centre of mass. scikit-learn's 8x8 digits are 4x4 block counts of 32x32
binary bitmaps, so, for a whole batch at once:

1. crop each image to its ink box and pad it to a square (centred);
2. resample the square (bicubic) to ``SUPERSAMPLE`` times the box side and threshold it
   at ``STROKE_THRESHOLD``: an estimate of the binary bitmap. 0.5 would preserve the ink
   area; 0.6 thins the strokes to MNIST's weight (mean intensity 0.133 vs mnist5k's
   0.131, and the same share of saturated pixels);
3. area-average down to the box (the anti-aliasing), e.g. 20x20;
4. translate by whole pixels so that the centre of mass lands at the field's centre
   (pixel index size/2, where MNIST's lies).

Other field sizes scale the box (20/28 of the side).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

INK_THRESHOLD = 0.05  # scikit-learn digits: any non-zero count (1/16) is ink
SUPERSAMPLE = 4
STROKE_THRESHOLD = 0.6


def ink_boxes(images: torch.Tensor, threshold: float = INK_THRESHOLD) -> torch.Tensor:
    """Per image (top, bottom, left, right), inclusive-exclusive, of pixels above
    ``threshold``; the whole image when it has no ink. ``images``: float [N, H, W]."""
    n, h, w = images.shape
    rows, cols = images.amax(2) > threshold, images.amax(1) > threshold
    r_idx = torch.arange(h, device=images.device).expand(n, h)
    c_idx = torch.arange(w, device=images.device).expand(n, w)
    top = torch.where(rows, r_idx, h).amin(1)
    bottom = torch.where(rows, r_idx + 1, 0).amax(1)
    left = torch.where(cols, c_idx, w).amin(1)
    right = torch.where(cols, c_idx + 1, 0).amax(1)
    empty = ~rows.any(1)
    return torch.stack(
        [
            torch.where(empty, 0, top),
            torch.where(empty, h, bottom),
            torch.where(empty, 0, left),
            torch.where(empty, w, right),
        ],
        1,
    )


def _fit_in_box(images: torch.Tensor, box: int) -> torch.Tensor:
    """Each image's ink, padded to a square and resampled (bicubic) to ``box`` x ``box``."""
    n, h, w = images.shape
    b = ink_boxes(images).float()
    top, bottom, left, right = b.unbind(1)
    keep_r = (torch.arange(h, device=images.device) >= top[:, None]) & (
        torch.arange(h, device=images.device) < bottom[:, None]
    )
    keep_c = (torch.arange(w, device=images.device) >= left[:, None]) & (
        torch.arange(w, device=images.device) < right[:, None]
    )
    ink = images * (keep_r[:, :, None] & keep_c[:, None, :])  # zero outside the ink box
    side = torch.maximum(bottom - top, right - left)
    cy, cx = (top + bottom) / 2, (left + right) / 2  # centre of the square, in pixels
    # output pixel u in [0, box) samples source pixel centre + (u + 0.5 - box/2) * side/box;
    # in grid_sample's normalised coordinates (align_corners=False): (2 p + 1) / size - 1
    zero = torch.zeros_like(side)
    theta = torch.stack(
        [
            torch.stack([side / w, zero, 2 * cx / w - 1], 1),
            torch.stack([zero, side / h, 2 * cy / h - 1], 1),
        ],
        1,
    )
    grid = F.affine_grid(theta, [n, 1, box, box], align_corners=False)
    out = F.grid_sample(
        ink[:, None], grid, mode="bicubic", padding_mode="zeros", align_corners=False
    )
    return out[:, 0].clamp(0, 1)


def _centre_by_mass(boxed: torch.Tensor, size: int) -> torch.Tensor:
    """Place [N, box, box] in a ``size`` field, whole-pixel shift putting the centre of
    mass in the middle (kept inside the field)."""
    n, box, _ = boxed.shape
    grid = torch.arange(box, dtype=boxed.dtype, device=boxed.device)
    mass = boxed.sum((1, 2)).clamp_min(1e-6)
    cy = (boxed.sum(2) * grid).sum(1) / mass
    cx = (boxed.sum(1) * grid).sum(1) / mass
    oy = torch.round(size / 2 - cy).clamp(0, size - box).long()
    ox = torch.round(size / 2 - cx).clamp(0, size - box).long()
    # field pixel (y, x) reads box pixel (y - oy, x - ox) where that lies inside the box
    pos = torch.arange(size, device=boxed.device)
    ys, xs = pos[None] - oy[:, None], pos[None] - ox[:, None]  # [N, size]
    inside = ((ys >= 0) & (ys < box))[:, :, None] & ((xs >= 0) & (xs < box))[:, None, :]
    flat = ys.clamp(0, box - 1)[:, :, None] * box + xs.clamp(0, box - 1)[:, None, :]
    out = boxed.flatten(1).gather(1, flat.flatten(1)).view(n, size, size)
    return out * inside


def render_mnist_style(
    images: torch.Tensor, size: int = 28, box: int | None = None
) -> torch.Tensor:
    """``images``: float [N, H, W] in [0, 1] (ink bright) -> uint8 [N, 1, size, size],
    framed like MNIST: ink box fitted into ``box`` (default ``round(20 * size / 28)``),
    binarised at high resolution, anti-aliased down, centred by mass."""
    box = box or round(20 * size / 28)
    bitmap = (_fit_in_box(images.float(), box * SUPERSAMPLE) > STROKE_THRESHOLD).float()
    boxed = F.avg_pool2d(bitmap[:, None], SUPERSAMPLE)[:, 0]
    out = _centre_by_mass(boxed, size)
    return (out * 255).round().to(torch.uint8)[:, None]
