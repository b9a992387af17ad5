"""``data.decode: device``: the workers send encoded bytes and crop boxes, the main process
decodes and resizes on the device (checked here on the CPU; on CUDA by ``make gpu-check``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from sslctl.data.stream.device_decode import device_views, flatten
from sslctl.data.stream.feed import StreamFeeder
from sslctl.data.stream.pack import RAW_OPTIONS, pack_splits, png_samples
from sslctl.errors import SslctlError
from sslctl.recipe import load_recipe, recipe_hash
from tests.conftest import RECIPES


def _feeders(packed: Path, device: str = "cpu") -> tuple[StreamFeeder, StreamFeeder]:
    options = {"seed": 3, "size": 32, "device": torch.device(device)}
    in_workers = StreamFeeder(packed / "train", workers=2, draft=False, **options)
    on_device = StreamFeeder(packed / "train", workers=2, decode_on_device=True, **options)
    return in_workers, on_device


def test_device_decoding_gives_the_workers_batches_to_rounding(packed: Path) -> None:
    """Same samples, labels and crop boxes as decoding in the workers at full scale: the
    views differ only by the rounding of a float resize (at most 1 grey level)."""
    in_workers, on_device = _feeders(packed)
    pairs = list(zip(in_workers.batches(1, 6, 0, 4), on_device.batches(1, 6, 0, 4), strict=True))
    assert len(pairs) == 4
    for a, b in pairs:
        assert torch.equal(a["index"], b["index"]) and torch.equal(a["label"], b["label"])
        assert b["views"].dtype == torch.uint8 and b["views"].shape == (6, 2, 3, 32, 32)
        diff = (a["views"].int() - b["views"].int()).abs()
        assert diff.max() <= 1 and diff.float().mean() < 0.3


def test_png_packs_are_decoded_too(tmp_path: Path) -> None:
    """Sets packed from raw pixels store PNG (not for nvJPEG): decoded by PIL instead, the
    views equal the workers' to rounding (was: decode_jpeg's "Not a JPEG file")."""
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (24, 3, 40, 40), dtype=np.uint8)
    labels = np.arange(24) % 2
    splits = [(name, 24, lambda: png_samples(images, labels)) for name in ("train", "test")]
    pack_splits(tmp_path, tmp_path / "p", ["a", "b"], splits, RAW_OPTIONS, _none, _none)
    in_workers, on_device = _feeders(tmp_path / "p")
    for a, b in zip(in_workers.batches(0, 6, 0, 4), on_device.batches(0, 6, 0, 4), strict=True):
        assert torch.equal(a["index"], b["index"])
        assert (a["views"].int() - b["views"].int()).abs().max() <= 1


def _none(*_: object) -> None:
    return None


def test_device_batches_from_a_step_equal_the_tail_of_the_epoch(packed: Path) -> None:
    """Resuming at step 2 yields exactly batches 2.. of the uninterrupted epoch."""
    _, on_device = _feeders(packed)
    full = list(on_device.batches(0, 6, 0, 4))
    for a, b in zip(full[2:], on_device.batches(0, 6, 2, 4), strict=True):
        assert torch.equal(a["index"], b["index"]) and torch.equal(a["views"], b["views"])


def test_flatten_keeps_each_image_whole() -> None:
    flat, offsets = flatten([b"\xff\xd8ab", b"", b"cde"])
    assert offsets.tolist() == [0, 4, 4, 7] and bytes(flat.numpy()) == b"\xff\xd8abcde"


def test_device_decoding_needs_a_streamed_set_and_keeps_old_hashes() -> None:
    path = RECIPES / "vicreg.yaml"
    with pytest.raises(SslctlError, match=r"decode: 'device' applies to a streamed"):
        load_recipe(path, ["data.decode=device"])
    # the default is left out of the hash: runs trained before the field keep theirs
    default = load_recipe(path)
    assert recipe_hash(default) == recipe_hash(load_recipe(path, ["data.decode=workers"]))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_decoding_is_close_to_the_cpu(packed: Path) -> None:
    """nvJPEG + CUDA resize against libjpeg-turbo + CPU resize, same boxes."""
    batch = _feeders(packed)[1].decoder[(0, tuple(range(6)))]  # what a worker sends
    encoded = (batch["encoded"], batch["offsets"], batch["boxes"])
    views = device_views(*encoded, 32, torch.device("cuda"))
    reference = device_views(*encoded, 32, torch.device("cpu"))
    diff = (views.cpu().int() - reference.int()).abs().float()
    assert views.is_cuda and diff.mean() < 1.5, diff.mean()
