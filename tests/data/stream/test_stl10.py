"""``sslctl data pack stl10``: train, test and the 100,000-image unlabeled split (here a
few fake images in the real binary layout); pretraining streams train + unlabeled."""

from __future__ import annotations

import io
import subprocess
from pathlib import Path

import numpy as np
from PIL import Image

from sslctl.data.stream.evalset import StreamedDataset
from sslctl.data.stream.feed import Reader, StreamFeeder
from tests.conftest import sslctl_cmd
from tests.data.fakes import stl10_images, write_stl10


def _fake_stl10(root: Path, n_unlabeled: int = 4) -> Path:
    folder = write_stl10(root, n_train=3, n_test=2)
    stored = np.ascontiguousarray(stl10_images(n_unlabeled).transpose(0, 1, 3, 2))
    (folder / "unlabeled_X.bin").write_bytes(stored.tobytes())
    return folder


def test_pack_stl10_keeps_pixels_and_streams_train_plus_unlabeled(tmp_path: Path) -> None:
    _fake_stl10(tmp_path / "data")
    out = tmp_path / "stl10-shards"
    result = subprocess.run(
        sslctl_cmd("data", "pack", "stl10", "--root", str(tmp_path / "data"), "--out", str(out)),
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert "unlabelled" in result.stdout
    dataset = StreamedDataset(f"shards:{out}", 32)
    splits = dataset.manifest["splits"]
    assert [splits[s]["samples"] for s in ("train", "test", "unlabeled")] == [3, 2, 4]
    assert splits["unlabeled"]["unlabelled"] == 4
    assert [p.name for p in dataset.pretrain_dirs()] == ["train", "unlabeled"]
    # stored losslessly and in the right orientation: pixel (c, y, x) encodes y
    first = Reader(out / "train").get(0)
    pixels = np.asarray(Image.open(io.BytesIO(first["image"])))
    np.testing.assert_array_equal(pixels.transpose(2, 0, 1), stl10_images(1)[0])
    feeder = StreamFeeder(dataset.pretrain_dirs(), seed=0, size=32, workers=0)
    assert len(feeder) == 7
    ids = [i for b in feeder.batches(0, 7, 0, 1) for i in b["index"].tolist()]
    assert sorted(ids) == list(range(7))
    labels = [Reader(dataset.pretrain_dirs()).get(i)["label"] for i in range(7)]
    assert labels[3:] == [-1] * 4
