"""Frozen features of a streamed (packed) set, cached on disk, memory-mapped.

Keyed by the image set (dataset checksum, split, evaluation size: ``LazyImages.cache_id``)
and by the checkpoint: a sha256 over the encoder's weights and buffers (so "run and
checkpoint" without depending on where the run lives: the same weights hit the same
cache, an evaluation of a later checkpoint misses), plus the normalisation and autocast
dtype. Files live in ``<data root>/stream-cache/features/`` as ``.npy``, written to a
temporary name and renamed; the newest ``KEEP`` files per image set are kept (probes and
spectra during pretraining see a new checkpoint every time). In-memory datasets are not
cached (their features take seconds).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

KEEP = 4


def weights_digest(encoder: Any) -> str | None:
    """sha256 of an ``nn.Module``'s state (names, dtypes, values); a function's name for a
    parameter-free encoder such as the raw-pixel baseline; None when neither applies."""
    digest = hashlib.sha256()
    if isinstance(encoder, nn.Module):
        digest.update(type(encoder).__qualname__.encode())
        for name, value in encoder.state_dict().items():
            tensor = value.detach().cpu().contiguous().reshape(-1)
            digest.update(f"{name}:{tensor.dtype}:{tuple(tensor.shape)}".encode())
            digest.update(tensor.view(torch.uint8).numpy().tobytes() if tensor.numel() else b"")
        return digest.hexdigest()
    name = getattr(encoder, "__qualname__", None)
    if name is None:
        return None
    digest.update(f"{getattr(encoder, '__module__', '')}.{name}".encode())
    return digest.hexdigest()


def cache_path(encoder: Any, images: Any, extra: str) -> Path | None:
    """Where the features of ``images`` under ``encoder`` are cached, or None."""
    image_id = getattr(images, "cache_id", None)
    if image_id is None:
        return None
    weights = weights_digest(encoder)
    if weights is None:
        return None
    from sslctl.data.stream.evalset import cache_root

    key = hashlib.sha256(f"{weights}|{extra}".encode()).hexdigest()[:20]
    return cache_root() / "features" / f"{image_id}-{key}.npy"


def load(path: Path) -> torch.Tensor | None:
    """The cached features (memory-mapped, copy on write), or None."""
    if not path.is_file():
        return None
    return torch.from_numpy(np.load(path, mmap_mode="c"))


def save(path: Path, features: torch.Tensor) -> None:
    """Write atomically (temporary file, rename)."""
    from sslctl.data.stream.evalset import save_atomic

    save_atomic(path, features.numpy())
    image_id = path.name.rsplit("-", 1)[0]
    same_set = sorted(path.parent.glob(f"{image_id}-*.npy"), key=lambda p: p.stat().st_mtime)
    for old in same_set[:-KEEP]:
        old.unlink(missing_ok=True)
