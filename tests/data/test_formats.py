"""On-disk format readers: IDX, CIFAR pickles, STL-10 binaries, ImageFolder."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from sslctl.data import formats
from tests.data import fakes


@pytest.mark.parametrize("gz", [False, True])
def test_idx_plain_and_gzipped(tmp_path: Path, gz: bool) -> None:
    """IDX files read back bit for bit, gzipped or not; images get a channel axis."""
    fakes.write_fashion(tmp_path, gz=gz)
    end = ".gz" if gz else ""
    x, y = formats.read_idx_pair(
        tmp_path / f"train-images-idx3-ubyte{end}", tmp_path / f"train-labels-idx1-ubyte{end}"
    )
    rng = np.random.default_rng(fakes.RNG_SEED)
    assert torch.equal(
        x[:, 0], torch.from_numpy(rng.integers(0, 256, (20, 28, 28)).astype(np.uint8))
    )
    assert x.shape == (20, 1, 28, 28) and x.dtype == torch.uint8 and y.dtype == torch.int64


def test_idx_errors(tmp_path: Path) -> None:
    """Not IDX, or a header that disagrees with the data: FormatError."""
    (tmp_path / "junk").write_bytes(b"hello world")
    with pytest.raises(formats.FormatError, match="not an IDX"):
        formats.read_idx(tmp_path / "junk")
    fakes.write_idx(tmp_path / "short", np.zeros((2, 3, 3)))
    (tmp_path / "short").write_bytes((tmp_path / "short").read_bytes()[:-1])
    with pytest.raises(formats.FormatError, match="header"):
        formats.read_idx(tmp_path / "short")


def test_cifar_batches_with_str_or_bytes_keys(tmp_path: Path) -> None:
    """CIFAR-10 batches (keys as str or as bytes, as Python 2 pickled them) concatenate
    in file order into uint8 [N, 3, 32, 32] with the rows' RGB planes in place."""
    folder = fakes.write_cifar10(tmp_path)
    files = [f"data_batch_{i}" for i in range(1, 6)]
    x, y = formats.read_cifar(folder, files, "labels")
    assert x.shape == (10, 3, 32, 32) and y.shape == (10,)
    first = fakes.cifar_batch(2, "labels", 10)
    assert torch.equal(x[0].flatten(), torch.from_numpy(first["data"][0]))
    assert y[:2].tolist() == first["labels"]


def test_stl10_is_transposed_from_column_major(tmp_path: Path) -> None:
    """STL-10 images come out row-major (pixel rows along H) with labels 0..9."""
    folder = fakes.write_stl10(tmp_path)
    x, y = formats.read_stl10(folder, "train")
    assert torch.equal(x, torch.from_numpy(np.ascontiguousarray(fakes.stl10_images(3))))
    assert y.tolist() == [0, 1, 2]


def test_imagefolder_resizes_shorter_side_and_centre_crops(tmp_path: Path) -> None:
    """60x20 RGB PNGs -> [N, 3, 16, 16]: aspect kept (48x16), the centre crop leaves out
    the coloured side bands (a squashing resize would keep them); non-image files are
    skipped; labels follow the class folders."""
    root = fakes.write_imagefolder(tmp_path)
    x, y = formats.read_imagefolder(root / "train", ["a", "b"], 16)
    assert x.shape == (4, 3, 16, 16) and x.dtype == torch.uint8
    assert y.tolist() == [0, 0, 1, 1]
    middle = torch.tensor([50, 51, 150, 151], dtype=torch.uint8)
    assert torch.equal(x[:, 0], middle.view(4, 1, 1).expand(4, 16, 16))
    assert not x[:, 1:].any()
