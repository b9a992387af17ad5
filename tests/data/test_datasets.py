"""Datasets: the fixed mnist5k split, where files are looked for and what is said when
they are missing, resizing, and the out-of-domain sets fitted to a reference."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from sslctl.data import datasets
from sslctl.data.datasets import load_dataset, load_ood
from sslctl.errors import SslctlError
from tests.data import fakes


@pytest.fixture(scope="module")
def mnist() -> datasets.Dataset:
    return load_dataset("mnist5k")


@pytest.fixture
def no_system_fashion(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Hide Debian's Fashion-MNIST and $SSLCTL_DATA so only the test's root is searched."""
    monkeypatch.setattr(datasets, "FASHION_DIRS", (str(tmp_path / "nowhere"),))
    monkeypatch.delenv("SSLCTL_DATA", raising=False)


def test_mnist5k_split_is_fixed_balanced_and_disjoint(mnist: datasets.Dataset) -> None:
    """4,000 train / 1,000 test uint8 28x28 images, exactly 100 test images per class,
    no image in both splits, the same split on every load, MNIST-like statistics."""
    assert mnist.train.images.shape == (4000, 1, 28, 28)
    assert mnist.train.images.dtype == torch.uint8 and mnist.train.labels.dtype == torch.int64
    assert torch.bincount(mnist.test.labels).tolist() == [100] * 10
    again = datasets._mnist5k(None)  # not the cached object: a fresh split
    assert torch.equal(again.test.images, mnist.test.images)
    train_rows = {x.numpy().tobytes() for x in mnist.train.images}
    assert not any(x.numpy().tobytes() in train_rows for x in mnist.test.images)
    assert mnist.mean[0] == pytest.approx(0.1307, abs=0.005)
    assert mnist.std[0] == pytest.approx(0.3081, abs=0.005)


def test_balanced_split_depends_only_on_its_seed() -> None:
    """Same seed -> same indices; another seed -> another split; always per-class."""
    labels = torch.arange(100) % 4
    a, b = datasets.balanced_split(labels, 5, 1), datasets.balanced_split(labels, 5, 1)
    assert torch.equal(a[1], b[1]) and not torch.equal(
        a[1], datasets.balanced_split(labels, 5, 2)[1]
    )
    assert torch.bincount(labels[a[1]]).tolist() == [5] * 4 and len(a[0]) == 80


@pytest.mark.parametrize("layout", ["FashionMNIST/raw", "fashion-mnist", "."])
def test_fashion_mnist_layouts(tmp_path: Path, no_system_fashion: None, layout: str) -> None:
    """IDX files under <root>/FashionMNIST/raw (torchvision), <root>/fashion-mnist or
    <root> itself, gzipped (as Debian ships them) or not."""
    fakes.write_fashion(tmp_path / layout, gz=layout == ".")
    data = load_dataset("fashion-mnist", root=str(tmp_path))
    assert data.train.images.shape == (20, 1, 28, 28) and data.test.labels.shape == (5,)
    assert data.train.num_classes == 10


def test_missing_fashion_mnist_says_where_and_how(tmp_path: Path, no_system_fashion: None) -> None:
    """Absent files: an SslctlError naming the folders searched and the apt package."""
    with pytest.raises(SslctlError, match=r"dataset-fashion-mnist") as err:
        load_dataset("fashion-mnist", root=str(tmp_path))
    assert str(tmp_path / "FashionMNIST" / "raw") in str(err.value)
    assert "nowhere" in str(err.value)


@pytest.mark.skipif(
    not Path(datasets.FASHION_DIRS[0]).is_dir(), reason="dataset-fashion-mnist not installed"
)
def test_debian_fashion_mnist() -> None:
    """The Debian package's files load as the full 60,000 / 10,000 balanced sets."""
    data = load_dataset("fashion-mnist", root="/nonexistent")
    assert data.train.images.shape == (60000, 1, 28, 28) and len(data.test.labels) == 10000
    assert torch.bincount(data.test.labels).tolist() == [1000] * 10


def test_cifar10_and_cifar100_from_the_real_on_disk_format(tmp_path: Path) -> None:
    """Pickled batches under <root>/cifar-10-batches-py and cifar-100-python load as uint8
    [N, 3, 32, 32] with 10 / 100 classes (fine labels) and 3-channel statistics."""
    fakes.write_cifar10(tmp_path)
    fakes.write_cifar100(tmp_path)
    c10 = load_dataset("cifar10", root=str(tmp_path))
    assert c10.train.images.shape == (10, 3, 32, 32) and c10.test.images.shape == (4, 3, 32, 32)
    assert c10.train.num_classes == 10 and len(c10.mean) == len(c10.std) == 3
    c100 = load_dataset("cifar100", root=str(tmp_path))
    assert c100.train.images.shape == (6, 3, 32, 32) and c100.train.num_classes == 100


def test_stl10_from_the_real_on_disk_format(tmp_path: Path) -> None:
    """stl10_binary/{train,test}_{X,y}.bin load as the labelled 96x96 splits."""
    fakes.write_stl10(tmp_path)
    data = load_dataset("stl10", root=str(tmp_path))
    assert data.train.images.shape == (3, 3, 96, 96) and data.test.labels.tolist() == [0, 1]


@pytest.mark.parametrize("name", ["cifar10", "cifar100", "stl10"])
def test_missing_download_sets_say_how_to_get_them(tmp_path: Path, name: str) -> None:
    """No files and download false: SslctlError naming the folder and data.download."""
    with pytest.raises(SslctlError, match=r"data\.download") as err:
        load_dataset(name, root=str(tmp_path))
    assert str(tmp_path) in str(err.value)


def test_data_root_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """root unset: $SSLCTL_DATA, else ~/.cache/sslctl/data."""
    monkeypatch.setenv("SSLCTL_DATA", str(tmp_path))
    fakes.write_stl10(tmp_path)
    assert load_dataset("stl10").train.images.shape == (3, 3, 96, 96)
    monkeypatch.delenv("SSLCTL_DATA")
    assert datasets.data_root(None) == Path("~/.cache/sslctl/data").expanduser()


def test_imagefolder_and_its_errors(tmp_path: Path) -> None:
    """imagefolder:<path> reads train/ and val/ (or test/) at 64x64 by default, or at
    image_size; a missing split folder is an SslctlError saying what is expected."""
    root = fakes.write_imagefolder(tmp_path / "x")
    data = load_dataset(f"imagefolder:{root}")
    assert data.train.images.shape == (4, 3, 64, 64) and data.train.num_classes == 2
    assert load_dataset(f"imagefolder:{root}", image_size=24).test.images.shape[-1] == 24
    fakes.write_imagefolder(tmp_path / "y", test_name="test")
    assert len(load_dataset(f"imagefolder:{tmp_path / 'y'}").test.labels) == 4
    with pytest.raises(SslctlError, match="val/"):
        load_dataset(f"imagefolder:{tmp_path / 'nothing'}")


def test_image_size_resizes_any_dataset(mnist: datasets.Dataset) -> None:
    """image_size=32 gives 32x32 uint8 images with nearly the same statistics."""
    big = load_dataset("mnist5k", image_size=32)
    assert big.train.images.shape == (4000, 1, 32, 32)
    assert big.mean[0] == pytest.approx(mnist.mean[0], abs=0.01)


def test_unknown_dataset() -> None:
    """An unknown name: SslctlError listing the known ones."""
    with pytest.raises(SslctlError, match="mnist5k"):
        load_dataset("imagenet9")


def test_corruption_suite_keys_labels_and_determinism(mnist: datasets.Dataset) -> None:
    """mnist5k-c holds each requested corruption x severity of the test split, with its
    labels, identical on every call (fixed seeds)."""
    kw = dict(reference=mnist, severities=(1, 5), corruptions=("gaussian_noise", "rotation"))
    sets = load_ood("mnist5k-c", **kw)
    assert set(sets) == {
        f"mnist5k-c/{c}/{s}" for c in ("gaussian_noise", "rotation") for s in (1, 5)
    }
    for s in sets.values():
        assert s.images.shape == mnist.test.images.shape and s.num_classes == 10
        assert torch.equal(s.labels, mnist.test.labels)
    again = load_ood("mnist5k-c", **kw)
    assert all(torch.equal(sets[k].images, again[k].images) for k in sets)


def test_full_suite_by_default(mnist: datasets.Dataset) -> None:
    """No corruptions given: every corruption at every severity (8 x 5 sets)."""
    small = datasets.make_dataset(
        "mnist5k",
        (mnist.train.images, mnist.train.labels),
        (mnist.test.images[:20], mnist.test.labels[:20]),
        10,
    )
    suite = load_ood("mnist5k-c", reference=small)
    assert len(suite) == 40 and all(len(s.labels) == 20 for s in suite.values())


def test_ood_sets_are_fitted_to_the_reference(tmp_path: Path, mnist: datasets.Dataset) -> None:
    """digits and another dataset's (suite's) test split take the reference's channels
    and size: 3x32x32 for a CIFAR reference, 1x28x28 for mnist5k."""
    fakes.write_cifar10(tmp_path)
    cifar = load_dataset("cifar10", root=str(tmp_path))
    digits = load_ood("digits", reference=cifar)["digits"]
    assert digits.images.shape == (1797, 3, 32, 32) and digits.num_classes == 10
    assert torch.equal(digits.images[:, 0], digits.images[:, 2])
    grey = load_ood("cifar10", reference=mnist, root=str(tmp_path))["cifar10"]
    assert grey.images.shape == (4, 1, 28, 28)
    suite = load_ood("cifar10-c", reference=mnist, root=str(tmp_path), corruptions=("contrast",))
    assert suite["cifar10-c/contrast/3"].images.shape == (4, 1, 28, 28)


def test_bad_ood_requests(mnist: datasets.Dataset) -> None:
    """Unknown OOD set, corruption or severity: SslctlError naming the valid values."""
    with pytest.raises(SslctlError, match="digits"):
        load_ood("svhn", reference=mnist)
    with pytest.raises(SslctlError, match="gaussian_noise"):
        load_ood("mnist5k-c", reference=mnist, corruptions=("fog",))
    with pytest.raises(SslctlError, match="severities"):
        load_ood("mnist5k-c", reference=mnist, severities=(0,))


def test_channel_stats_are_per_channel() -> None:
    """Mean and std are per channel, of images scaled to [0, 1]."""
    images = torch.zeros(2, 2, 4, 4, dtype=torch.uint8)
    images[:, 1] = 255
    images[1, 0] = 255
    mean, std = datasets.channel_stats(images)
    assert mean == pytest.approx((0.5, 1.0)) and std[1] == 0
    assert std[0] == pytest.approx(float(np.std([0] * 16 + [1] * 16, ddof=1)))
