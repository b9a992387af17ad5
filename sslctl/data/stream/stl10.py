"""``sslctl data pack stl10``: STL-10's binary files into shards, with the 100,000
unlabelled images (the split STL-10 self-supervision is defined on).

Splits: ``train`` (5,000 labelled), ``test`` (8,000), ``unlabeled`` (100,000, label -1);
pretraining streams train + unlabeled, the evaluations use train and test. The 96x96
images are stored as lossless PNG (they are raw pixels; JPEG would alter them).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from sslctl.data.classes import NAMES
from sslctl.errors import SslctlError

CLASSES = tuple(NAMES["stl10"])
SIDE = 96
SPLITS = ("train", "test", "unlabeled")


def _images(folder: Path, split: str) -> np.ndarray:
    """uint8 [N, 3, 96, 96] memory-mapped (stored column-major per plane: transposed)."""
    path = folder / f"{split}_X.bin"
    size = path.stat().st_size
    if size % (3 * SIDE * SIDE):
        raise SslctlError(f"source: {path} is not a whole number of 96x96 RGB images")
    x = np.memmap(path, dtype=np.uint8, mode="r", shape=(size // (3 * SIDE * SIDE), 3, SIDE, SIDE))
    return x.transpose(0, 1, 3, 2)


def _labels(folder: Path, split: str, n: int) -> np.ndarray:
    if split == "unlabeled":
        return np.full(n, -1, dtype=np.int64)
    labels = np.fromfile(folder / f"{split}_y.bin", dtype=np.uint8).astype(np.int64) - 1
    if len(labels) != n or (n and not 0 <= labels.min() <= labels.max() < len(CLASSES)):
        raise SslctlError(f"source: {folder / f'{split}_y.bin'}: expected {n} labels in 1..10")
    return labels


def pack_stl10(
    root: Path,
    out: Path,
    *,
    on_split: Callable[[str, int], None] = lambda s, n: None,
    on_item: Callable[[], None] = lambda: None,
    on_wait: Callable[[dict[str, Any]], None] | None = None,
) -> tuple[dict[str, Any], bool]:
    """Pack ``root/stl10_binary`` (or ``root`` itself) into ``out``."""
    from sslctl.data.stream import manifest as mf
    from sslctl.data.stream.pack import RAW_OPTIONS, pack_splits, png_samples

    if (done := mf.finished(out)) is not None:
        return done, True
    folder = root / "stl10_binary" if (root / "stl10_binary").is_dir() else root
    missing = [f"{s}_X.bin" for s in SPLITS if not (folder / f"{s}_X.bin").is_file()]
    if missing:
        raise SslctlError(f"source: {folder} lacks {missing}; expected STL-10's stl10_binary/")
    splits = []
    for split in SPLITS:
        images = _images(folder, split)
        labels = _labels(folder, split, len(images))
        splits.append((split, len(images), lambda x=images, y=labels: png_samples(x, y)))
    manifest = pack_splits(
        folder.resolve(),
        out,
        list(CLASSES),
        splits,
        RAW_OPTIONS,
        on_split,
        on_item,
        pretrain_splits=["train", "unlabeled"],
        on_wait=on_wait,
    )
    return manifest, False
