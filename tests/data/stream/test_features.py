"""Evaluation features of a packed set: computed from the streamed evaluation crops,
cached on disk keyed by the image set and the checkpoint's weights, re-read on the next
evaluation, bounded in number."""

from __future__ import annotations

import collections
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from sslctl.data.stream import evalset
from sslctl.data.stream import features as disk
from sslctl.data.stream.evalset import StreamedDataset, cache_root
from sslctl.errors import SslctlError
from sslctl.evals.features import encode, raw_pixels


def _encoder(seed: int) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.AdaptiveAvgPool2d(1), nn.Flatten()
    )


def _files() -> list[Path]:
    return sorted((cache_root() / "features").glob("*.npy"))


def test_features_are_cached_per_set_and_checkpoint(packed: Path) -> None:
    dataset = StreamedDataset(f"shards:{packed}", 24, workers=0)
    test = dataset.test.images
    kwargs = {"mean": dataset.mean, "std": dataset.std, "device": torch.device("cpu")}
    first = encode(_encoder(0), test, **kwargs)
    assert first.shape == (6, 4) and len(_files()) == 1
    again = encode(_encoder(0), test, **kwargs)  # same weights: read from disk
    assert torch.equal(first, again) and len(_files()) == 1
    other = encode(_encoder(1), test, **kwargs)  # another checkpoint: another entry
    assert not torch.equal(first, other) and len(_files()) == 2
    encode(raw_pixels, test, **kwargs)
    assert len(_files()) == 3
    encode(_encoder(0), test.tensor().clone(), **kwargs)  # a plain tensor: not cached
    assert len(_files()) == 3
    for seed in range(2, 2 + disk.KEEP):  # probes during training: the newest KEEP stay
        encode(_encoder(seed), test, **kwargs)
    assert len(_files()) == disk.KEEP


def test_weights_digest_follows_every_parameter_and_buffer() -> None:
    a, b = _encoder(0), _encoder(0)
    assert disk.weights_digest(a) == disk.weights_digest(b)
    with torch.no_grad():
        b[0].bias[0] += 1e-6
    assert disk.weights_digest(a) != disk.weights_digest(b)


def test_an_image_cache_the_disk_cannot_hold_is_refused_before_writing(
    packed: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With less free space than the evaluation images need (+10%), building them is an
    error naming the GiB needed and free, and no cache file is left behind."""
    usage = collections.namedtuple("usage", "total used free")
    monkeypatch.setattr(evalset.shutil, "disk_usage", lambda _: usage(10**6, 10**6 - 1000, 1000))
    dataset = StreamedDataset(f"shards:{packed}", 24, workers=0)
    with pytest.raises(SslctlError, match=r"needs 0\.0 GiB .* has 0\.0 GiB free"):
        dataset.test.images.tensor()
    assert not list(cache_root().glob("*.npy")) and not list(cache_root().glob(".*"))


def test_a_split_too_large_to_cache_is_streamed_into_the_encoder(
    packed: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Above ``IMAGE_CACHE_MAX`` the evaluation crops go from the decoding workers straight
    into the encoder, in the same batches as from the cache, and are not kept: the
    features equal those of the cached images bit for bit, the labels equal theirs, and
    no image file is written (only features and labels)."""
    kwargs = {"device": torch.device("cpu"), "batch_size": 5}
    monkeypatch.setattr(evalset, "IMAGE_CACHE_MAX", 0)
    streamed = StreamedDataset(f"shards:{packed}", 24, workers=2).train
    dataset = StreamedDataset(f"shards:{packed}", 24, workers=0)
    kwargs.update(mean=dataset.mean, std=dataset.std)
    features = encode(_encoder(0), streamed.images, **kwargs)
    assert features.shape == (24, 4)
    assert not list(cache_root().glob("*.images.npy")) and len(_files()) == 1
    labels = streamed.labels.tensor()
    monkeypatch.setenv("SSLCTL_DATA", str(tmp_path / "labels-only"))
    labels_only = StreamedDataset(f"shards:{packed}", 24, workers=0).train.labels.tensor()
    assert not list(cache_root().glob("*.images.npy"))  # read without decoding
    monkeypatch.setenv("SSLCTL_DATA", str(tmp_path / "cached"))
    monkeypatch.setattr(evalset, "IMAGE_CACHE_MAX", 2**30)
    cached = StreamedDataset(f"shards:{packed}", 24, workers=0).train
    assert torch.equal(encode(_encoder(0), cached.images.tensor().clone(), **kwargs), features)
    assert torch.equal(cached.labels.tensor(), labels) and torch.equal(labels_only, labels)
    assert len(list(cache_root().glob("*.images.npy"))) == 1


def test_temporaries_left_by_dead_processes_of_this_host_are_removed(tmp_path: Path) -> None:
    """A process killed while writing a cache leaves its temporary file (gigabytes at
    ImageNet scale): the next write of that file removes it, but not a live process's
    nor another host's (whose processes this one cannot see)."""
    host = socket.gethostname().replace(".", "_")
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    left, live, other = (
        tmp_path / f".a.images.npy.{who}.tmp.npy"
        for who in (f"{host}.{dead.pid}", f"{host}.{os.getppid()}", f"other-host.{dead.pid}")
    )
    for path in (left, live, other):
        path.write_bytes(b"partial")
    evalset.save_atomic(tmp_path / "a.images.npy", np.arange(3))
    assert not left.exists() and live.exists() and other.exists()
    assert np.load(tmp_path / "a.images.npy").tolist() == [0, 1, 2]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [live.name, other.name, "a.images.npy"]
    )
