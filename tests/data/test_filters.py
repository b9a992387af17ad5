"""Per-sample Gaussian blur: torchvision's kernel and padding, one sigma per image."""

from __future__ import annotations

import pytest
import torch
from torchvision.transforms.v2 import functional as TF

from sslctl.data.filters import blur, kernel_size_for


def test_equals_torchvision_gaussian_blur_image_by_image() -> None:
    """Each image blurred with its own sigma equals torchvision's gaussian_blur of that
    image alone (same kernel, same reflect padding)."""
    x = torch.rand(6, 3, 20, 20, generator=torch.Generator().manual_seed(0))
    sigma = torch.tensor([0.1, 0.5, 0.9, 1.3, 1.7, 2.0])
    for size in (3, 5, 9):
        ours = blur(x, sigma, size)
        for img, s, out in zip(x, sigma.tolist(), ours, strict=True):
            ref = TF.gaussian_blur(img, [size, size], [s, s])
            torch.testing.assert_close(out, ref, atol=1e-5, rtol=0)


def test_tiny_sigma_is_identity_and_default_kernel_is_wide_enough() -> None:
    """sigma -> 0 leaves images unchanged; the automatic size covers +-3 sigma."""
    x = torch.rand(2, 1, 12, 12)
    torch.testing.assert_close(blur(x, torch.full((2,), 1e-3), 5), x)
    assert kernel_size_for(1.0) == 7 and kernel_size_for(2.4) == 17


def test_even_kernel_is_rejected() -> None:
    """An even kernel size has no centre tap: ValueError."""
    with pytest.raises(ValueError, match="odd"):
        blur(torch.rand(1, 1, 8, 8), torch.ones(1), 4)
