"""Decoding with random resized crops, as torchvision, from reduced-size JPEG decoding.

- :func:`rrc_box`: torchvision's ``RandomResizedCrop.get_params`` (10 attempts of area
  ~ U(scale) x H W and log-ratio ~ U(log ratio), whole pixels, uniform position; else
  the central crop), drawn from a numpy ``Generator``.
- :func:`draft_factor`: the largest JPEG DCT scaling 1/k (k in 1, 2, 4, 8) after which the
  crop still has at least ``size`` pixels on both sides, so the final resize never
  upsamples what full decoding would have downsampled. libjpeg's scaled IDCT is a good
  low-pass filter (PIL's draft mode). tests/data/stream/test_crops.py measures the
  difference against full decoding.
- JPEGs are decoded once per image, at that scale, by libjpeg-turbo through simplejpeg
  (torchvision.io's decoders are deprecated since torchvision 0.29, and PIL's draft mode
  costs more per image than libjpeg-turbo's own scaled decoding); entropy decoding is
  done at any scale, so scaling mostly saves resizing. At full scale each crop is rounded
  to whole pixels (as torchvision's are) and resized by torch's anti-aliased bilinear
  ``interpolate`` on uint8, the filter of PIL's ``BILINEAR`` resize that torchvision's
  ``RandomResizedCrop`` applies to PIL images (equal to 0.01 grey levels on average), at
  about a third of its time on one core; at a reduced scale PIL resizes the box to the
  sub-pixel. Other formats (none in a packed set: every stored image is a JPEG) are
  decoded by PIL at full scale.
- :func:`image_size`: (height, width) read from the JPEG frame header without decoding.
- :func:`decode_center`: evaluation input, ImageNet style: shorter side to
  ``size / 0.875`` (256 for 224), central ``size x size``, in one resize of the box.
"""

from __future__ import annotations

import io
import math

import numpy as np
import torch
from PIL import Image

EVAL_CROP = 0.875  # 224 / 256


def rrc_box(
    rng: np.random.Generator,
    height: int,
    width: int,
    scale: tuple[float, float] = (0.08, 1.0),
    ratio: tuple[float, float] = (3 / 4, 4 / 3),
) -> tuple[int, int, int, int]:
    """(top, left, h, w) as ``torchvision.transforms.RandomResizedCrop.get_params``."""
    area = height * width
    log_ratio = (math.log(ratio[0]), math.log(ratio[1]))
    for _ in range(10):
        target = area * rng.uniform(scale[0], scale[1])
        aspect = math.exp(rng.uniform(*log_ratio))
        w = round(math.sqrt(target * aspect))
        h = round(math.sqrt(target / aspect))
        if 0 < w <= width and 0 < h <= height:
            return int(rng.integers(0, height - h + 1)), int(rng.integers(0, width - w + 1)), h, w
    in_ratio = width / height
    if in_ratio < min(ratio):
        w, h = width, round(width / min(ratio))
    elif in_ratio > max(ratio):
        h, w = height, round(height * max(ratio))
    else:
        w, h = width, height
    return (height - h) // 2, (width - w) // 2, h, w


def draft_factor(crop_h: float, crop_w: float, size: int) -> int:
    """Largest k in (1, 2, 4, 8) with both crop sides / k >= ``size``."""
    k = 1
    while k < 8 and min(crop_h, crop_w) / (2 * k) >= size:
        k *= 2
    return k


def is_jpeg(data: bytes) -> bool:
    """The JPEG start-of-image marker."""
    return data[:2] == b"\xff\xd8"


def decode_pil(data: bytes) -> torch.Tensor:
    """uint8 [H, W, 3]: any format PIL reads, at full scale, as RGB."""
    return torch.from_numpy(np.array(Image.open(io.BytesIO(data)).convert("RGB")))


def _decode(data: bytes, k: int, height: int, width: int) -> torch.Tensor:
    """uint8 [H', W', 3]: a JPEG decoded by libjpeg-turbo at DCT scale 1/k (simplejpeg
    picks the smallest of its M/8 scales giving at least the sides asked for: each side
    ceil(side / k)), any other format by PIL at full scale."""
    if is_jpeg(data):
        import simplejpeg

        low_h, low_w = (math.ceil(height / k), math.ceil(width / k)) if k > 1 else (0, 0)
        pixels = simplejpeg.decode_jpeg(data, colorspace="RGB", min_height=low_h, min_width=low_w)
        return torch.from_numpy(pixels)
    return decode_pil(data)


def _resize(pixels: torch.Tensor, box: tuple[float, ...], size: int) -> np.ndarray:
    """``box`` = (top, left, h, w) in ``pixels``' coordinates, rounded to whole pixels (as
    torchvision's crops are) and resized to ``size``: uint8 [3, size, size]. Channels stay
    last in memory, where torch's uint8 anti-aliased kernel is fastest."""
    top, left, h, w = box
    height, width = pixels.shape[:2]
    y0, x0 = min(height - 1, round(top)), min(width - 1, round(left))
    y1, x1 = max(y0 + 1, min(height, round(top + h))), max(x0 + 1, min(width, round(left + w)))
    out = torch.nn.functional.interpolate(
        pixels[y0:y1, x0:x1].permute(2, 0, 1)[None],
        size=(size, size),
        mode="bilinear",
        antialias=True,
        align_corners=False,
    )
    return np.ascontiguousarray(out[0].numpy())  # [3, S, S] in memory too (as a cache reads)


def _crops(data: bytes, boxes: list[tuple[float, ...]], size: int, k: int) -> list[np.ndarray]:
    """Each box (original pixels) resized to ``size``, from one decoding at scale 1/k."""
    height, width = image_size(data)
    pixels = _decode(data, k, height, width)
    if pixels.shape[:2] == (height, width):
        return [_resize(pixels, box, size) for box in boxes]
    # reduced scale: whole pixels there would move a crop by up to k/2 original pixels, so
    # PIL resizes the box to the sub-pixel (its input is small at this scale)
    image = Image.fromarray(pixels.numpy())
    sy, sx = pixels.shape[0] / height, pixels.shape[1] / width
    return [_pil_resize(image, (t * sy, x * sx, h * sy, w * sx), size) for t, x, h, w in boxes]


def _pil_resize(image: Image.Image, box: tuple[float, ...], size: int) -> np.ndarray:
    """``box`` = (top, left, h, w) in ``image``'s coordinates, to the sub-pixel, resized to
    ``size`` by PIL's bilinear filter: uint8 [3, size, size]."""
    top, left, h, w = box
    area = (left, top, min(image.size[0], left + w), min(image.size[1], top + h))
    out = image.resize((size, size), Image.Resampling.BILINEAR, box=area)
    return np.ascontiguousarray(np.asarray(out).transpose(2, 0, 1))


def decode_crops(
    data: bytes, boxes: list[tuple[int, int, int, int]], size: int, draft: bool = True
) -> np.ndarray:
    """The crops ``boxes`` = [(top, left, h, w), ...] of the encoded image, each resized to
    ``size`` x ``size``, from one decoding (at the scale the smallest crop allows):
    uint8 [len(boxes), 3, size, size]."""
    k = min(draft_factor(b[2], b[3], size) for b in boxes) if draft else 1
    return np.stack(_crops(data, boxes, size, k))


def decode_crop(
    data: bytes, box: tuple[int, int, int, int], size: int, draft: bool = True
) -> np.ndarray:
    """One crop: uint8 [3, size, size] (see :func:`decode_crops`)."""
    return decode_crops(data, [box], size, draft)[0]


# JPEG start-of-frame markers (ITU T.81, Table B.1): C0-CF except DHT (C4), JPG (C8), DAC (CC)
_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    """(height, width) from the first start-of-frame segment, or None where the marker
    walk does not find one (then PIL reads the header)."""
    i = 2
    while i + 9 <= len(data) and data[i] == 0xFF:
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
        elif marker in _SOF:
            height, width = data[i + 5 : i + 7], data[i + 7 : i + 9]
            return int.from_bytes(height, "big"), int.from_bytes(width, "big")
        elif marker == 0x01 or 0xD0 <= marker <= 0xD7:  # no length field
            i += 2
        else:
            i += 2 + int.from_bytes(data[i + 2 : i + 4], "big")
    return None


def image_size(data: bytes) -> tuple[int, int]:
    """(height, width) from the header only."""
    found = _jpeg_size(data) if is_jpeg(data) else None
    if found is not None:
        return found
    width, height = Image.open(io.BytesIO(data)).size
    return height, width


def center_box(height: int, width: int, size: int) -> tuple[float, float, float, float]:
    """(top, left, h, w) of the central ``size`` square after resizing the shorter side to
    ``size / EVAL_CROP``, in original pixels."""
    side = min(height, width) * EVAL_CROP
    return (height - side) / 2, (width - side) / 2, side, side


def decode_center(data: bytes, size: int, draft: bool = True) -> np.ndarray:
    """Evaluation input: uint8 [3, size, size], resize + centre crop (see module doc)."""
    height, width = image_size(data)
    box = center_box(height, width, size)
    return _crops(data, [box], size, draft_factor(box[2], box[3], size) if draft else 1)[0]
