"""Readers for the datasets' on-disk formats, each returning uint8 images [N, C, H, W]
and int64 labels [N] as tensors. They know file formats only; where files live and what
to say when they are missing is :mod:`sslctl.data.datasets`' business.
"""

from __future__ import annotations

import gzip
import os
import pickle
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch

Pair = tuple[torch.Tensor, torch.Tensor]
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")


class FormatError(ValueError):
    """A file exists but is not in the expected format."""


def read_idx(path: Path) -> np.ndarray:
    """An IDX file (MNIST / Fashion-MNIST), gzipped or not, of unsigned bytes."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as handle:
        data = handle.read()
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != 0x08:
        raise FormatError(f"{path} is not an IDX file of unsigned bytes")
    ndim = data[3]
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    offset = 4 + 4 * ndim
    if len(data) - offset != int(np.prod(shape)):
        raise FormatError(f"{path}: header says {shape} but holds {len(data) - offset} bytes")
    return np.frombuffer(data, dtype=np.uint8, offset=offset).reshape(shape)


def read_idx_pair(images: Path, labels: Path) -> Pair:
    """An IDX image file [N, H, W] and its label file [N] -> [N, 1, H, W], [N]."""
    x, y = read_idx(images), read_idx(labels)
    if x.ndim != 3 or y.ndim != 1 or len(x) != len(y):
        raise FormatError(f"{images} {x.shape} and {labels} {y.shape} do not match")
    return torch.from_numpy(x.copy())[:, None], torch.from_numpy(y.astype(np.int64))


def read_cifar(folder: Path, files: list[str], label_key: str) -> Pair:
    """CIFAR-10/100 python batches: pickled dicts with ``data`` [N, 3072] (row-major
    RGB planes) and a label list (``labels`` or ``fine_labels``); keys as str or bytes
    (the originals were pickled by Python 2)."""
    images, labels = [], []
    for name in files:
        with open(folder / name, "rb") as handle:
            batch = pickle.load(handle, encoding="latin1")
        batch = {k.decode() if isinstance(k, bytes) else k: v for k, v in batch.items()}
        if "data" not in batch or label_key not in batch:
            raise FormatError(f"{folder / name} has no 'data' / {label_key!r} entries")
        images.append(np.asarray(batch["data"], dtype=np.uint8).reshape(-1, 3, 32, 32))
        labels.extend(batch[label_key])
    return torch.from_numpy(np.concatenate(images)), torch.tensor(labels, dtype=torch.int64)


def read_stl10(folder: Path, split: str) -> Pair:
    """STL-10's binary files: ``<split>_X.bin`` uint8 [N, 3, 96, 96] stored column-major
    per plane (so transposed on reading), ``<split>_y.bin`` labels 1..10 (-> 0..9)."""
    x = np.fromfile(folder / f"{split}_X.bin", dtype=np.uint8)
    if x.size % (3 * 96 * 96):
        raise FormatError(f"{folder / f'{split}_X.bin'} is not a whole number of 96x96 images")
    images = x.reshape(-1, 3, 96, 96).transpose(0, 1, 3, 2)
    labels = np.fromfile(folder / f"{split}_y.bin", dtype=np.uint8).astype(np.int64) - 1
    if len(labels) != len(images):
        raise FormatError(f"{folder}: {len(images)} {split} images but {len(labels)} labels")
    return torch.from_numpy(np.ascontiguousarray(images)), torch.from_numpy(labels)


def _load_image(path: Path, size: int) -> np.ndarray:
    """RGB, shorter side resized to ``size`` (bicubic, PIL's anti-aliasing), centre crop."""
    from PIL import Image

    with Image.open(path) as img:
        img = img.convert("RGB")
        w, h = img.size
        scale = size / min(w, h)
        nw, nh = max(size, round(w * scale)), max(size, round(h * scale))
        img = img.resize((nw, nh), Image.BICUBIC)
        left, top = (nw - size) // 2, (nh - size) // 2
        return np.asarray(img.crop((left, top, left + size, top + size)))


def list_imagefolder(folder: Path, classes: list[str]) -> tuple[list[Path], list[int]]:
    """Image files under ``folder/<class>/`` and its sub-folders, as the packer finds them
    (:func:`sslctl.data.stream.scan.files_under`), and their class indices."""
    from sslctl.data.stream.scan import files_under

    files, labels = [], []
    for label, cls in enumerate(classes):
        for file in files_under(folder / cls):
            if file.suffix.lower() in IMAGE_SUFFIXES:
                files.append(file)
                labels.append(label)
    return files, labels


def read_imagefolder(folder: Path, classes: list[str], size: int) -> Pair:
    """One ImageFolder split as uint8 [N, 3, size, size], decoded by a thread pool."""
    files, labels = list_imagefolder(folder, classes)
    if not files:
        return torch.zeros(0, 3, size, size, dtype=torch.uint8), torch.zeros(0, dtype=torch.int64)
    with ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1)) as pool:
        arrays = list(pool.map(lambda f: _load_image(f, size), files))
    images = torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).contiguous()
    return images, torch.tensor(labels, dtype=torch.int64)
