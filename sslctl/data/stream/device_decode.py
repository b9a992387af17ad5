"""Decoding on the training device (``data.decode: device``).

The DataLoader workers read each sample's encoded bytes and draw its two crop boxes
exactly as for decoding in the workers (:class:`sslctl.data.stream.feed.CropBatches`), and
send the bytes of the whole batch as one flat uint8 tensor with offsets. The main process
decodes them with ``torchvision.io.decode_jpeg`` on the device (nvJPEG on CUDA, batched as
its documentation recommends) at full scale and resizes each box with torch's anti-aliased
bilinear ``interpolate`` on the device. Meant for GPU nodes with few CPU cores per GPU;
``benchmarks/gpu_stream.py`` measures it against decoding in the workers. The batch is
still a function of (seed, epoch, step, rank): the boxes are the workers' and decoding is
deterministic. Pixels differ from decoding in the workers by rounding (full scale here,
the reduced DCT scale there; nvJPEG's IDCT vs libjpeg-turbo's on CUDA). Images that are
not JPEGs (the lossless PNGs of sets packed from raw pixels: STL-10, CIFAR, MNIST) are
decoded by PIL on the CPU of the main process and copied to the device: correct, but
such small images gain nothing from ``decode: device``.
"""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import torch

from sslctl.data.stream import crops


def flatten(encoded: list[bytes]) -> tuple[torch.Tensor, torch.Tensor]:
    """One uint8 tensor of all the encoded images and their int64 offsets (``n + 1``)."""
    offsets = np.concatenate([[0], np.cumsum([len(data) for data in encoded])])
    flat = np.concatenate([np.frombuffer(data, dtype=np.uint8) for data in encoded])
    return torch.from_numpy(flat), torch.from_numpy(offsets.astype(np.int64))


def _decode_all(flat: torch.Tensor, offsets: torch.Tensor, device: torch.device) -> list:
    """uint8 [3, H, W] images on ``device``: the JPEGs in one batched ``decode_jpeg``
    call there, any other format by PIL on the CPU."""
    from torchvision.io import ImageReadMode, decode_jpeg

    encoded = [flat[a:b] for a, b in itertools.pairwise(offsets.tolist())]
    jpeg = [i for i, data in enumerate(encoded) if crops.is_jpeg(data[:2].numpy().tobytes())]
    images = {}
    if jpeg:
        with warnings.catch_warnings():  # torchvision 0.29 deprecates its decoders per call
            warnings.simplefilter("ignore", DeprecationWarning)
            decoded = decode_jpeg([encoded[i] for i in jpeg], mode=ImageReadMode.RGB, device=device)
        images = dict(zip(jpeg, decoded, strict=True))
    return [
        images[i]
        if i in images
        else crops.decode_pil(data.numpy().tobytes()).permute(2, 0, 1).to(device)
        for i, data in enumerate(encoded)
    ]


def device_views(
    flat: torch.Tensor,
    offsets: torch.Tensor,
    boxes: torch.Tensor,
    size: int,
    device: torch.device,
) -> torch.Tensor:
    """uint8 [n, views, 3, size, size] on ``device``: the boxes [n, views, 4] = (top,
    left, h, w) of each image (CPU tensors ``flat``/``offsets``, :func:`flatten`)."""
    images = _decode_all(flat, offsets, device)
    out = torch.empty((*boxes.shape[:2], 3, size, size), dtype=torch.uint8, device=device)
    for i, image in enumerate(images):
        for v, (top, left, h, w) in enumerate(boxes[i].tolist()):
            crop = image[None, :, top : top + h, left : left + w].float()
            resized = torch.nn.functional.interpolate(
                crop, size=(size, size), mode="bilinear", antialias=True, align_corners=False
            )
            out[i, v] = resized[0].round_().clamp_(0, 255).to(torch.uint8)
    return out
