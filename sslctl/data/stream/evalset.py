"""A packed dataset as a :class:`sslctl.data.datasets.Dataset` for the evaluations.

Pretraining reads the shards through :class:`.feed.StreamFeeder`; the evaluations
(linear, kNN, OOD, independence, spectrum, baselines) take uint8 image tensors. Here
those are the evaluation inputs of every image (resize + centre crop, :mod:`.crops`),
decoded by streaming through DataLoader workers. A split whose images fit
``IMAGE_CACHE_MAX`` and the disk is decoded once into a memory-mapped ``.npy`` file,
keyed by the dataset's checksum, split and size, under ``<data root>/stream-cache/``,
built on first use (pretraining alone never builds it, so its memory does not grow with
the dataset), written to a temporary name and renamed, so an interrupted build is redone
(and its temporary file removed: :func:`_temporary`).
A larger split (ImageNet-1k's train split at 224 px is 193 GB of images) is streamed
straight into the encoder in batches (:meth:`SplitImages.batches`) and nothing of it is
kept but the features (:mod:`.features`) and the labels.
"""

from __future__ import annotations

import functools
import os
import shutil
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

from sslctl.data.stream import crops
from sslctl.data.stream.feed import Reader, import_before_fork, one_thread
from sslctl.data.stream.manifest import read_manifest, shards_path
from sslctl.errors import SslctlError
from sslctl.locks import process_alive

DEFAULT_SIZE = 224
# evaluation splits with more image bytes than this are streamed into the encoder, not cached
IMAGE_CACHE_MAX = 16 * 2**30


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
    """Map-style: chunk ``i`` -> (first index, its evaluation crops, their labels)."""

    def __init__(self, reader: Reader, size: int, n: int, chunk: int, decode: bool = True):
        self.reader, self.size, self.n, self.chunk = reader, size, n, chunk
        self.decode = decode

    def __len__(self) -> int:
        return -(-self.n // self.chunk)

    def __getitem__(self, i: int) -> tuple[int, np.ndarray, np.ndarray]:
        idx = np.arange(i * self.chunk, min(self.n, (i + 1) * self.chunk))
        samples = self.reader.many(idx)
        if self.decode:
            images = np.stack([crops.decode_center(s["image"], self.size) for s in samples])
        else:  # labels only
            images = np.zeros((len(idx), 0), np.uint8)
        return int(idx[0]), images, np.asarray([int(s["label"]) for s in samples])


def _chunks(
    split_dir: Path, n: int, size: int, workers: int, decode: bool = True
) -> Iterator[tuple[int, torch.Tensor, torch.Tensor]]:
    """The split's evaluation crops (or only labels) in index order, 64 images at a time,
    decoded in ``workers`` DataLoader workers (one torch thread each)."""
    import_before_fork()
    return iter(
        torch.utils.data.DataLoader(
            _CenterCrops(Reader(split_dir), size, n, 64, decode),
            batch_size=None,
            num_workers=workers,
            worker_init_fn=one_thread if workers else None,
        )
    )


def cache_root() -> Path:
    from sslctl.data.datasets import data_root

    return data_root(None) / "stream-cache"


def build_cache(split_dir: Path, n: int, size: int, stem: Path, workers: int) -> None:
    """Decode every image's evaluation crop into ``stem.images.npy`` / ``stem.labels.npy``."""
    stem.parent.mkdir(parents=True, exist_ok=True)
    require_space(stem.parent, n * 3 * size * size, f"{split_dir.name} split at {size} px")
    tmp = _temporary(_images_path(stem))
    images = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.uint8, shape=(n, 3, size, size))
    labels = np.zeros(n, dtype=np.int64)
    for start, block, block_labels in _chunks(split_dir, n, size, workers):
        images[start : start + len(block)] = block.numpy()
        labels[start : start + len(block)] = block_labels.numpy()
    images.flush()
    del images
    save_atomic(_labels_path(stem), labels)
    os.replace(tmp, _images_path(stem))


def _images_path(stem: Path) -> Path:
    return stem.with_name(stem.name + ".images.npy")


def _labels_path(stem: Path) -> Path:
    return stem.with_name(stem.name + ".labels.npy")


def save_atomic(path: Path, array: np.ndarray) -> None:
    """``np.save`` to a temporary name, then rename (a reader never sees half a file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temporary(path)
    np.save(tmp, array)
    os.replace(tmp, path)


def _temporary(path: Path) -> Path:
    """A temporary name for ``path`` unique to this process on this host (processes on
    other hosts may share the cache folder); files of that kind left by processes of this
    host that have died (killed while writing, possibly gigabytes at ImageNet scale) are
    removed first."""
    host = socket.gethostname().replace(".", "_")
    for old in path.parent.glob(f".{path.name}.{host}.*.tmp.npy"):  # np.save wants .npy
        pid = old.name.removesuffix(".tmp.npy").rsplit(".", 1)[-1]
        if pid.isdigit() and not process_alive(int(pid)):
            old.unlink(missing_ok=True)
    return path.with_name(f".{path.name}.{host}.{os.getpid()}.tmp.npy")


def fits_on_disk(folder: Path, needed: int) -> bool:
    """Whether ``folder``'s disk holds ``needed`` bytes with a 10% margin."""
    return needed * 1.1 <= shutil.disk_usage(folder).free


def require_space(folder: Path, needed: int, what: str) -> None:
    """An error before writing when ``folder``'s disk cannot hold ``needed`` bytes and a
    10% margin. Only what needs the images themselves builds the cache of a split that
    does not fit (the corruption suite of a packed set: ``<dataset>-c``); the features of
    such a split are streamed (:meth:`SplitImages.batches`)."""
    if not fits_on_disk(folder, needed):
        free = shutil.disk_usage(folder).free
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
        images = SplitImages(self.folder / split, n, self.image_size, stem, self.workers)
        labels = _Labels(images)
        return ImageSet(self.name, images, labels, self.num_classes)  # type: ignore[arg-type]

    @functools.cached_property
    def train(self):
        return self._imageset("train")

    @functools.cached_property
    def test(self):
        return self._imageset("eval")


class SplitImages(LazyImages):
    """The evaluation images of one packed split: a cached tensor where it fits
    (``IMAGE_CACHE_MAX`` and the disk), otherwise streamed in batches (:meth:`batches`)."""

    def __init__(self, split_dir: Path, n: int, size: int, stem: Path, workers: int):
        super().__init__(n, size, self._build, cache_id=stem.name)
        self.split_dir, self.stem, self.workers = split_dir, stem, workers
        self.path = _images_path(stem)

    def _build(self) -> torch.Tensor:
        if not self.path.is_file():
            build_cache(self.split_dir, self._n, self._size, self.stem, self.workers)
        return torch.from_numpy(np.load(self.path, mmap_mode="c"))

    def cached(self) -> bool:
        """Whether the images are (or will be, on first use) a cached tensor."""
        if self._tensor is not None or self.path.is_file():
            return True
        nbytes = self._n * 3 * self._size**2
        root = self.stem.parent
        while not root.exists():  # the disk it would be written to
            root = root.parent
        return nbytes <= IMAGE_CACHE_MAX and fits_on_disk(root, nbytes)

    def batches(self, batch_size: int) -> Iterator[torch.Tensor]:
        """The images in order, ``batch_size`` at a time: slices of the cached tensor, or,
        for a split too large to cache, decoded by streaming and not kept (the labels seen
        on the way are saved, so :class:`_Labels` need not read the split again)."""
        if self.cached():
            images = self.tensor()
            for start in range(0, self._n, batch_size):
                yield images[start : start + batch_size]
            return
        pending: list[torch.Tensor] = []
        held = 0
        labels = np.zeros(self._n, dtype=np.int64)
        for start, block, block_labels in _chunks(
            self.split_dir, self._n, self._size, self.workers
        ):
            labels[start : start + len(block)] = block_labels.numpy()
            pending.append(block)
            held += len(block)
            while held >= batch_size:
                joined = torch.cat(pending)
                yield joined[:batch_size]
                pending, held = [joined[batch_size:]], held - batch_size
        if held:
            yield torch.cat(pending)
        save_atomic(_labels_path(self.stem), labels)


class _Labels(LazyImages):
    """The labels of a split: saved by whichever pass read them first (the image cache, a
    streamed encoding), else read from the shards without decoding the images."""

    def __init__(self, images: SplitImages):
        super().__init__(len(images), 0, lambda: self._load(images))

    @staticmethod
    def _load(images: SplitImages) -> torch.Tensor:
        path = _labels_path(images.stem)
        if images.cached():
            images.tensor()  # builds the image cache, labels with it
        elif not path.is_file():
            labels = np.zeros(len(images), dtype=np.int64)
            for start, _, block_labels in _chunks(
                images.split_dir, len(images), 0, images.workers, decode=False
            ):
                labels[start : start + len(block_labels)] = block_labels.numpy()
            save_atomic(path, labels)
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
