"""Pretraining batches from packed shards: DataLoader workers decode each view's random
resized crop from the original image (reduced-size JPEG decoding, :mod:`.crops`).

A batch is ``{"views": uint8 [b, 2, 3, S, S], "index": int64 [b], "label": int64 [b]}``
for this rank's ``b = batch_size / world`` samples of global step ``s``
(:mod:`.order`). Each sample's two crop boxes come from a generator seeded with
(seed, epoch, sample index), so a batch is a pure function of (seed, epoch, step, rank):
a resumed run rebuilds exactly the batches an uninterrupted run would have seen. The
photometric augmentations then run batched on the device (:mod:`sslctl.data.augment`),
seeded per step by :func:`step_seed`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

from sslctl.data.stream import crops, device_decode
from sslctl.data.stream.manifest import require_litdata
from sslctl.data.stream.order import DEFAULT_WINDOW, epoch_order, local_batch

CROP_SALT = 0xC209
STEP_SALT = 0x57E9


def chunk_sizes(split_dir: Path) -> list[int]:
    """Samples per litdata chunk, in index order."""
    index = json.loads((split_dir / "index.json").read_text())
    return [int(c["chunk_size"]) for c in index["chunks"]]


def _dirs(split_dirs: Path | list[Path]) -> list[Path]:
    return [split_dirs] if isinstance(split_dirs, Path) else list(split_dirs)


def step_seed(seed: int, epoch: int, step: int, rank: int) -> int:
    """The device augmentation seed of one step on one rank."""
    return int(np.random.SeedSequence([seed, epoch, step, rank, STEP_SALT]).generate_state(1)[0])


def _open(split_dir: Path) -> Any:
    """litdata's dataset over one split, reading one sample per access: by default its
    reader deserializes a window of neighbouring samples (meant for sequential reads),
    which random access pays again at every chunk switch (measured: 4.5 vs 0.1 ms per
    random read; docs/data.md). Releases without ``batch_decode`` read per sample."""
    import inspect

    from litdata import StreamingDataset

    per_sample = "batch_decode" in inspect.signature(StreamingDataset).parameters
    return StreamingDataset(str(split_dir), **({"batch_decode": 0} if per_sample else {}))


class Reader:
    """Random access to the samples of one or more splits, indexed one after the other
    (litdata ``StreamingDataset`` objects opened lazily, once per process, so DataLoader
    workers each open their own)."""

    def __init__(self, split_dirs: Path | list[Path]):
        self.split_dirs = _dirs(split_dirs)
        self.starts = np.cumsum([0] + [sum(chunk_sizes(d)) for d in self.split_dirs])
        self._datasets: list[Any] | None = None

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_datasets": None}

    def get(self, index: int) -> dict[str, Any]:
        """Sample ``index``: ``{"image": encoded bytes, "label": int}``."""
        if self._datasets is None:
            self._datasets = [_open(d) for d in self.split_dirs]
        split = int(np.searchsorted(self.starts, index, side="right")) - 1
        sample = self._datasets[split][int(index - self.starts[split])]
        return {"image": sample["image"].tobytes(), "label": int(sample["label"])}

    def many(self, indices: np.ndarray) -> list[dict[str, Any]]:
        """Samples in the order given, read in index order (fewer chunk switches)."""
        got = {int(i): self.get(i) for i in np.sort(indices)}
        return [got[int(i)] for i in indices]


class CropBatches(torch.utils.data.Dataset):
    """Map-style: key ``(epoch, indices)`` -> the decoded two-view batch, or with
    ``on_device`` the encoded images and their crop boxes (:mod:`.device_decode`)."""

    def __init__(
        self,
        reader: Reader,
        *,
        seed: int,
        size: int,
        scale,
        ratio,
        draft: bool = True,
        on_device: bool = False,
    ):
        self.reader, self.seed, self.size, self.draft = reader, seed, size, draft
        self.scale, self.ratio, self.on_device = tuple(scale), tuple(ratio), on_device

    def boxes(self, data: bytes, epoch: int, index: int) -> list[tuple[int, int, int, int]]:
        """The two crop boxes (top, left, h, w) of sample ``index`` in ``epoch``."""
        rng = np.random.default_rng([self.seed, epoch, index, CROP_SALT])
        height, width = crops.image_size(data)
        return [crops.rrc_box(rng, height, width, self.scale, self.ratio) for _ in range(2)]

    def views(self, data: bytes, epoch: int, index: int) -> np.ndarray:
        """[2, 3, S, S]: two random resized crops of one encoded image."""
        return crops.decode_crops(data, self.boxes(data, epoch, index), self.size, self.draft)

    def __getitem__(self, key: tuple[int, tuple[int, ...]]) -> dict[str, torch.Tensor]:
        epoch, indices = key
        idx = np.asarray(indices, dtype=np.int64)
        samples = self.reader.many(idx)
        pairs = list(zip((s["image"] for s in samples), idx.tolist(), strict=True))
        batch = {
            "index": torch.from_numpy(idx),
            "label": torch.tensor([int(s["label"]) for s in samples], dtype=torch.int64),
        }
        if self.on_device:
            batch["encoded"], batch["offsets"] = device_decode.flatten([d for d, _ in pairs])
            batch["boxes"] = torch.tensor([self.boxes(d, epoch, i) for d, i in pairs])
        else:
            batch["views"] = torch.from_numpy(np.stack([self.views(d, epoch, i) for d, i in pairs]))
        return batch

    def __len__(self) -> int:  # not used by the sampler below; DataLoader asks for it
        return 0


def import_before_fork() -> None:
    """Import what the decoding workers use (litdata, simplejpeg) in this process, before
    DataLoader forks them: a forked worker inherits the modules, while a worker importing
    a heavy module on its first image pays it at every epoch (the workers are forked anew
    each epoch; measured with torchvision, the decoder before: each epoch's first batch
    2.7 s late)."""
    require_litdata()
    import litdata  # noqa: F401
    import simplejpeg  # noqa: F401


def one_thread(_: int) -> None:
    """DataLoader ``worker_init_fn``: each decoding worker resizes on one torch thread
    (workers are as many as the cores; more threads would only contend)."""
    torch.set_num_threads(1)


class StreamFeeder:
    """This rank's pretraining batches of one or more splits, by (epoch, step)."""

    def __init__(
        self,
        split_dirs: Path | list[Path],
        *,
        seed: int,
        size: int,
        scale=(0.08, 1.0),
        ratio=(3 / 4, 4 / 3),
        workers: int = 2,
        rank: int = 0,
        world: int = 1,
        device: torch.device | None = None,
        window: int = DEFAULT_WINDOW,
        draft: bool = True,
        decode_on_device: bool = False,
    ):
        self.seed, self.workers = seed, workers
        self.rank, self.world, self.window = rank, world, window
        self.device = device or torch.device("cpu")
        self.sizes = [n for d in _dirs(split_dirs) for n in chunk_sizes(d)]
        import_before_fork()
        self.decoder = CropBatches(
            Reader(split_dirs),
            seed=seed,
            size=size,
            scale=scale,
            ratio=ratio,
            draft=draft,
            on_device=decode_on_device,
        )

    def __len__(self) -> int:
        return sum(self.sizes)

    def keys(self, epoch: int, batch_size: int, start: int, steps: int) -> list:
        """The DataLoader's keys for steps ``start .. steps - 1`` of ``epoch``."""
        order = epoch_order(self.seed, epoch, self.sizes, self.window)
        return [
            (epoch, tuple(local_batch(order, s, batch_size, self.rank, self.world).tolist()))
            for s in range(start, steps)
        ]

    def batches(
        self, epoch: int, batch_size: int, start: int, steps: int
    ) -> Iterator[dict[str, torch.Tensor]]:
        """Steps ``start .. steps - 1`` of ``epoch``, on the device."""
        keys = self.keys(epoch, batch_size, start, steps)
        cuda = self.device.type == "cuda"
        loader = torch.utils.data.DataLoader(
            self.decoder,
            batch_size=None,
            sampler=keys,
            num_workers=self.workers,
            pin_memory=cuda,
            worker_init_fn=one_thread if self.workers else None,
            prefetch_factor=4 if self.workers else None,
        )
        for batch in loader:
            if self.decoder.on_device:
                encoded = (batch.pop(k) for k in ("encoded", "offsets", "boxes"))
                size = self.decoder.size
                batch["views"] = device_decode.device_views(*encoded, size, self.device)
            yield {k: v.to(self.device, non_blocking=cuda) for k, v in batch.items()}
