"""A packed dataset as a :class:`sslctl.data.datasets.Dataset` for the evaluations.

Pretraining reads the shards through :class:`.feed.StreamFeeder`; the evaluations
(linear, kNN, OOD, independence, spectrum, baselines) take uint8 image tensors. Here
those are the evaluation inputs of every image (resize + centre crop, :mod:`.crops`),
decoded once by streaming through DataLoader workers into a memory-mapped ``.npy`` file,
keyed by the dataset's checksum, split and size, under ``<data root>/stream-cache/``, and
built on first use: pretraining alone never builds them, so its memory does not grow with
the dataset. Written to a temporary name and renamed, so an interrupted build is redone.
"""

from __future__ import annotations

import functools
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from sslctl.data.stream import crops
from sslctl.data.stream.feed import Reader, one_thread
from sslctl.data.stream.manifest import read_manifest, shards_path
from sslctl.errors import SslctlError

DEFAULT_SIZE = 224


class LazyImages:
    """A uint8 [N, 3, S, S] tensor built on first use; ``len`` and ``shape`` without."""

    def __init__(
        self, n: int, size: int, build: Callable[[], torch.Tensor], cache_id: str | None = None
    ):
        self._n, self._size, self._build = n, size, build
        self._tensor: torch.Tensor | None = None
        self.cache_id = cache_id  # names the set for the feature cache (.features)

    def tensor(self) -> torch.Tensor:
        if self._tensor is None:
            self._tensor = self._build()
        return self._tensor

    @property
    def shape(self) -> torch.Size:
        return torch.Size([self._n, 3, self._size, self._size])

    def __len__(self) -> int:
        return self._n

    def __getitem__(self, key: Any) -> torch.Tensor:
        return self.tensor()[key]

    def __getattr__(self, name: str) -> Any:
        return getattr(self.tensor(), name)

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        def unwrap(x: Any) -> Any:
            if isinstance(x, LazyImages):
                return x.tensor()
            if isinstance(x, list | tuple):
                return type(x)(unwrap(v) for v in x)
            return x

        return func(*unwrap(args), **{k: unwrap(v) for k, v in (kwargs or {}).items()})


class _CenterCrops(torch.utils.data.Dataset):
    def __init__(self, reader: Reader, size: int, n: int, chunk: int):
        self.reader, self.size, self.n, self.chunk = reader, size, n, chunk

    def __len__(self) -> int:
        return -(-self.n // self.chunk)

    def __getitem__(self, i: int) -> tuple[int, np.ndarray, np.ndarray]:
        idx = np.arange(i * self.chunk, min(self.n, (i + 1) * self.chunk))
        samples = self.reader.many(idx)
        images = np.stack([crops.decode_center(s["image"], self.size) for s in samples])
        return int(idx[0]), images, np.asarray([int(s["label"]) for s in samples])


def cache_root() -> Path:
    from sslctl.data.datasets import data_root

    return data_root(None) / "stream-cache"


def build_cache(split_dir: Path, n: int, size: int, stem: Path, workers: int) -> None:
    """Decode every image's evaluation crop into ``stem.images.npy`` / ``stem.labels.npy``."""
    stem.parent.mkdir(parents=True, exist_ok=True)
    require_space(stem.parent, n * 3 * size * size, f"{split_dir.name} split at {size} px")
    tmp = stem.with_name(f".{stem.name}.{os.getpid()}.tmp.npy")
    images = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.uint8, shape=(n, 3, size, size))
    labels = np.zeros(n, dtype=np.int64)
    loader = torch.utils.data.DataLoader(
        _CenterCrops(Reader(split_dir), size, n, 64),
        batch_size=None,
        num_workers=workers,
        worker_init_fn=one_thread if workers else None,
    )
    for start, block, block_labels in loader:
        images[start : start + len(block)] = block.numpy()
        labels[start : start + len(block)] = block_labels.numpy()
    images.flush()
    del images
    np.save(stem.with_name(stem.name + ".labels.npy"), labels)
    os.replace(tmp, stem.with_name(stem.name + ".images.npy"))


def require_space(folder: Path, needed: int, what: str) -> None:
    """An error before writing when ``folder``'s disk cannot hold ``needed`` bytes and a
    10% margin (the cache of ImageNet-1k train at 224 px is 193 GB: evaluating that split
    needs a data root on a disk that large, or a smaller ``data.image_size``)."""
    free = shutil.disk_usage(folder).free
    if needed * 1.1 > free:
        raise SslctlError(
            f"the evaluation image cache of the {what} needs {needed / 2**30:.1f} GiB in "
            f"{folder}, but its disk has {free / 2**30:.1f} GiB free; point $SSLCTL_DATA "
            "at a larger disk or lower data.image_size"
        )


class StreamedDataset:
    """A packed dataset: what pretraining streams and what the evaluations read."""

    streamed = True
    channels = 3

    def __init__(self, name: str, image_size: int | None = None, workers: int | None = None):
        self.manifest = read_manifest(name)
        self.name, self.folder = name, shards_path(name)
        self.image_size = image_size or DEFAULT_SIZE
        self.workers = workers if workers is not None else min(4, os.cpu_count() or 1)
        self.classes: list[str] = self.manifest["classes"]
        self.num_classes = len(self.classes)
        self.mean, self.std = tuple(self.manifest["mean"]), tuple(self.manifest["std"])

    def pretrain_dirs(self) -> list[Path]:
        """The splits pretraining streams (STL-10: train and unlabeled)."""
        names = self.manifest.get("pretrain_splits") or [self.manifest["train_split"]]
        return [self.folder / name for name in names]

    def _imageset(self, which: str):
        from sslctl.data.datasets import ImageSet

        split = self.manifest[f"{which}_split"]
        n = int(self.manifest["splits"][split]["samples"])
        stem = cache_root() / f"{self.manifest['checksum'][:16]}-{split}-{self.image_size}"
        labels_path = stem.with_name(stem.name + ".labels.npy")

        def build() -> torch.Tensor:
            images_path = stem.with_name(stem.name + ".images.npy")
            if not images_path.is_file():
                build_cache(self.folder / split, n, self.image_size, stem, self.workers)
            return torch.from_numpy(np.load(images_path, mmap_mode="c"))

        images = LazyImages(n, self.image_size, build, cache_id=stem.name)
        labels = _Labels(labels_path, images)
        return ImageSet(self.name, images, labels, self.num_classes)  # type: ignore[arg-type]

    @functools.cached_property
    def train(self):
        return self._imageset("train")

    @functools.cached_property
    def test(self):
        return self._imageset("eval")


class _Labels(LazyImages):
    """The labels, available once the images of the same split are built."""

    def __init__(self, path: Path, images: LazyImages):
        super().__init__(len(images), 0, lambda: self._load(path, images))

    @staticmethod
    def _load(path: Path, images: LazyImages) -> torch.Tensor:
        images.tensor()
        return torch.from_numpy(np.load(path))

    @property
    def shape(self) -> torch.Size:
        return torch.Size([self._n])


def match_classes(ood: StreamedDataset, reference_classes: list[str]) -> torch.Tensor:
    """Map ``ood``'s labels to the reference's class indices by name; an error naming the
    classes the reference lacks."""
    missing = [c for c in ood.classes if c not in reference_classes]
    if missing:
        raise SslctlError(
            f"eval.ood.datasets: {ood.name!r}: classes {missing[:10]} are not among the "
            f"training classes of the reference dataset ({len(reference_classes)} classes)"
        )
    return torch.tensor([reference_classes.index(c) for c in ood.classes], dtype=torch.int64)
