"""Datasets: the fixed mnist5k split, MNIST-style rendering of digits, on-disk formats."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from sslctl.data import is_known_dataset, is_known_ood
from sslctl.data.datasets import load_dataset, load_ood
from sslctl.errors import SslctlError


def test_mnist5k_split_is_fixed_balanced_and_disjoint() -> None:
    """4,000 train / 1,000 test, exactly 100 test images per class, uint8 28x28."""
    data = load_dataset("mnist5k")
    assert data.train.images.shape == (4000, 1, 28, 28) and data.train.images.dtype == torch.uint8
    assert len(data.test.labels) == 1000
    assert torch.bincount(data.test.labels).tolist() == [100] * 10
    load_dataset.cache_clear()
    again = load_dataset("mnist5k")
    assert torch.equal(again.test.images, data.test.images)
    train_rows = {bytes(x.flatten().numpy()) for x in data.train.images}
    assert not any(bytes(x.flatten().numpy()) in train_rows for x in data.test.images[:200])


def ink_stats(images: torch.Tensor) -> tuple[float, float, float]:
    """Mean intensity, mean ink-box side and mean distance of the centre of mass from
    the image centre."""
    x = images.float()[:, 0] / 255
    grid = torch.arange(x.shape[-1], dtype=torch.float32)
    mass = x.sum((1, 2))
    cy = (x.sum(2) * grid).sum(1) / mass
    cx = (x.sum(1) * grid).sum(1) / mass
    centre = (x.shape[-1] - 1) / 2
    ink = x > 0.2
    rows = ink.any(2).float().sum(1)
    cols = ink.any(1).float().sum(1)
    return (
        float(x.mean()),
        float(torch.maximum(rows, cols).mean()),
        float(torch.hypot(cy - centre, cx - centre).mean()),
    )


def test_digits_are_rendered_like_mnist() -> None:
    """Rendered 8x8 digits have MNIST's framing: ~20px ink box, centred by mass, similar
    mean intensity (the remaining shift is writers and resolution, not framing)."""
    mnist = load_dataset("mnist5k")
    digits = load_ood("digits", reference=mnist)["digits"]
    assert digits.images.shape == (1797, 1, 28, 28)
    m, d = ink_stats(mnist.test.images), ink_stats(digits.images)
    assert abs(m[0] - d[0]) < 0.06, (m, d)
    assert abs(m[1] - d[1]) < 3.0, (m, d)
    assert d[2] < 1.5, (m, d)


def test_corruption_suite_keys_and_labels() -> None:
    """mnist5k-c holds every corruption x severity of the test split with its labels."""
    mnist = load_dataset("mnist5k")
    sets = load_ood(
        "mnist5k-c", reference=mnist, severities=(1, 5), corruptions=("gaussian_noise", "rotation")
    )
    assert set(sets) == {
        f"mnist5k-c/{c}/{s}" for c in ("gaussian_noise", "rotation") for s in (1, 5)
    }
    for s in sets.values():
        assert s.images.shape == mnist.test.images.shape
        assert torch.equal(s.labels, mnist.test.labels)


def test_names() -> None:
    """Known names without torch: datasets, imagefolder:<path>, digits and <dataset>-c."""
    assert is_known_dataset("mnist5k") and is_known_dataset("imagefolder:/x")
    assert not is_known_dataset("imagenet9") and not is_known_dataset("imagefolder:")
    assert is_known_ood("digits") and is_known_ood("mnist5k-c") and not is_known_ood("foo-c")


def write_idx(path: Path, array: np.ndarray) -> None:
    header = bytes([0, 0, 8, array.ndim]) + b"".join(int(s).to_bytes(4, "big") for s in array.shape)
    path.write_bytes(header + array.astype(np.uint8).tobytes())


def test_fashion_mnist_reads_idx_files_in_torchvision_layout(tmp_path: Path) -> None:
    """IDX files under <root>/FashionMNIST/raw load as uint8 [N, 1, 28, 28]."""
    raw = tmp_path / "FashionMNIST" / "raw"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(0)
    write_idx(raw / "train-images-idx3-ubyte", rng.integers(0, 255, (20, 28, 28)))
    write_idx(raw / "train-labels-idx1-ubyte", rng.integers(0, 10, 20))
    write_idx(raw / "t10k-images-idx3-ubyte", rng.integers(0, 255, (5, 28, 28)))
    write_idx(raw / "t10k-labels-idx1-ubyte", rng.integers(0, 10, 5))
    from sslctl.data import datasets

    old = datasets.FASHION_DIRS
    datasets.FASHION_DIRS = ()
    try:
        data = load_dataset("fashion-mnist", root=str(tmp_path))
    finally:
        datasets.FASHION_DIRS = old
        load_dataset.cache_clear()
    assert data.train.images.shape == (20, 1, 28, 28) and data.test.labels.shape == (5,)


def test_missing_fashion_mnist_says_how_to_install(tmp_path: Path) -> None:
    """Absent files: an SslctlError naming the places searched and the apt package."""
    from sslctl.data import datasets

    old = datasets.FASHION_DIRS
    datasets.FASHION_DIRS = (str(tmp_path / "none"),)
    try:
        with pytest.raises(SslctlError, match="dataset-fashion-mnist"):
            load_dataset("fashion-mnist", root=str(tmp_path))
    finally:
        datasets.FASHION_DIRS = old
        load_dataset.cache_clear()


def write_fake_cifar10(root: Path, n_train: int = 10, n_test: int = 4) -> None:
    """CIFAR-10's real on-disk format: pickled batches in cifar-10-batches-py/."""
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    per = n_train // 5
    for i in range(1, 6):
        batch = {
            "data": rng.integers(0, 255, (per, 3072), dtype=np.uint8),
            "labels": rng.integers(0, 10, per).tolist(),
        }
        (folder / f"data_batch_{i}").write_bytes(pickle.dumps(batch))
    test = {
        "data": rng.integers(0, 255, (n_test, 3072), dtype=np.uint8),
        "labels": rng.integers(0, 10, n_test).tolist(),
    }
    (folder / "test_batch").write_bytes(pickle.dumps(test))
    meta = {"label_names": [f"c{i}" for i in range(10)]}
    (folder / "batches.meta").write_bytes(pickle.dumps(meta))


def test_cifar10_loads_from_the_real_on_disk_format(tmp_path: Path) -> None:
    """Our CIFAR-10 reader loads the pickled batches into uint8 NCHW in the right order."""
    write_fake_cifar10(tmp_path)
    data = load_dataset("cifar10", root=str(tmp_path))
    load_dataset.cache_clear()
    assert data.train.images.shape == (10, 3, 32, 32) and data.train.images.dtype == torch.uint8
    assert data.test.images.shape == (4, 3, 32, 32) and len(data.mean) == 3


def test_missing_cifar_without_download_is_a_clear_error(tmp_path: Path) -> None:
    """No files and download false: SslctlError saying how to get them."""
    with pytest.raises(SslctlError, match="data.download"):
        load_dataset("cifar10", root=str(tmp_path))
    load_dataset.cache_clear()


def test_imagefolder(tmp_path: Path) -> None:
    """imagefolder:<path> reads train/ and val/ class folders, resized, as uint8 RGB."""
    from PIL import Image

    for split in ("train", "val"):
        for cls in ("a", "b"):
            (tmp_path / split / cls).mkdir(parents=True)
            for i in range(2):
                Image.new("RGB", (40, 30), (i * 100, 50, 20)).save(
                    tmp_path / split / cls / f"{i}.png"
                )
    data = load_dataset(f"imagefolder:{tmp_path}")
    load_dataset.cache_clear()
    assert data.train.images.shape == (4, 3, 64, 64) and data.train.num_classes == 2
