"""RandomResizedCrop boxes as torchvision draws them; reduced-size decoding close to full
decoding."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from PIL import Image
from torchvision.transforms import RandomResizedCrop

from sslctl.data.stream import crops
from sslctl.data.stream.synthetic import synthetic_image


def _boxes_stats(boxes: list[tuple[int, int, int, int]], h: int, w: int) -> np.ndarray:
    b = np.asarray(boxes, dtype=np.float64)
    return np.array([(b[:, 2] * b[:, 3]).mean() / (h * w), np.log(b[:, 3] / b[:, 2]).mean()])


@pytest.mark.parametrize(("h", "w"), [(300, 400), (100, 500)])
def test_boxes_follow_torchvision_distribution(h: int, w: int) -> None:
    rng = np.random.default_rng(0)
    ours = [crops.rrc_box(rng, h, w) for _ in range(4000)]
    torch.manual_seed(0)
    image = torch.zeros(3, h, w)
    theirs = [RandomResizedCrop.get_params(image, [0.08, 1.0], [3 / 4, 4 / 3]) for _ in range(4000)]
    assert all(min(t, x) >= 0 and t + bh <= h and x + bw <= w for t, x, bh, bw in ours)
    np.testing.assert_allclose(_boxes_stats(ours, h, w), _boxes_stats(theirs, h, w), atol=0.02)


def test_central_fallback_matches_torchvision() -> None:
    # a 1 x 100 strip: no attempt fits the ratio range, both fall back to the same box
    box = crops.rrc_box(np.random.default_rng(0), 10, 1000, (0.9, 1.0), (1.0, 1.0))
    torch.manual_seed(0)
    assert box == RandomResizedCrop.get_params(torch.zeros(3, 10, 1000), [0.9, 1.0], [1.0, 1.0])


def _jpeg(h: int, w: int) -> bytes:
    out = io.BytesIO()
    image = synthetic_image(3, 10, h, w, np.random.default_rng(1))
    Image.fromarray(image).save(out, format="JPEG", quality=92)
    return out.getvalue()


@pytest.mark.parametrize("size", [32, 64, 96])
def test_draft_decoding_is_close_to_full_decoding(size: int) -> None:
    data = _jpeg(600, 560)
    rng = np.random.default_rng(size)
    diffs = []
    for _ in range(10):
        box = crops.rrc_box(rng, 600, 560, (0.3, 1.0))
        fast = crops.decode_crop(data, box, size).astype(np.float64)
        full = crops.decode_crop(data, box, size, draft=False).astype(np.float64)
        assert fast.shape == (3, size, size)
        diffs.append(np.abs(fast - full).mean())
    assert crops.draft_factor(600, 560, size) > 1  # reduced decoding was actually used
    assert np.mean(diffs) < 4.0, diffs  # mean absolute difference, 0-255 scale


def test_center_crop_is_the_middle_of_the_shorter_side() -> None:
    assert crops.center_box(256, 512, 224) == (16.0, 144.0, 224.0, 224.0)
    assert crops.decode_center(_jpeg(300, 200), 64).shape == (3, 64, 64)


def _encoded(image: Image.Image, **save: object) -> bytes:
    out = io.BytesIO()
    image.save(out, **save)
    return out.getvalue()


def test_header_size_equals_pil_for_every_jpeg_layout() -> None:
    """The frame-header walk reads (height, width) as PIL does: baseline, progressive,
    with an EXIF segment, greyscale; anything that is not a JPEG goes to PIL."""
    image = Image.fromarray(synthetic_image(2, 10, 123, 457, np.random.default_rng(0)))
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: the stored size is still what both report
    forms = [
        _encoded(image, format="JPEG"),
        _encoded(image, format="JPEG", progressive=True),
        _encoded(image, format="JPEG", exif=exif.tobytes()),
        _encoded(image.convert("L"), format="JPEG"),
        _encoded(image, format="PNG"),
    ]
    for data in forms:
        width, height = Image.open(io.BytesIO(data)).size
        assert crops.image_size(data) == (height, width) == (123, 457)


def test_full_scale_crops_equal_torchvisions_pil_pipeline() -> None:
    """Without reduced decoding, a crop equals torchvision's RandomResizedCrop on a PIL
    image (PIL decode, crop, anti-aliased bilinear resize) to rounding: libjpeg-turbo via
    torchvision.io and torch's uint8 resize stand in for PIL, not a different filter."""
    from torchvision.transforms.functional import resized_crop

    data = _jpeg(413, 377)
    rng = np.random.default_rng(3)
    for size in (64, 224):
        for _ in range(5):
            top, left, h, w = box = crops.rrc_box(rng, 413, 377)
            ours = crops.decode_crop(data, box, size, draft=False).astype(np.float64)
            pil = Image.open(io.BytesIO(data)).convert("RGB")
            ref = np.asarray(resized_crop(pil, top, left, h, w, [size, size])).transpose(2, 0, 1)
            assert np.abs(ours - ref).mean() < 0.5
            assert np.abs(ours - ref).max() <= 8
