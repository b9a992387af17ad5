"""Small fake dataset files in the real on-disk formats (IDX, CIFAR pickles, STL-10
binaries, ImageFolder PNGs), for the format and dataset tests."""

from __future__ import annotations

import gzip
import pickle
from pathlib import Path

import numpy as np

RNG_SEED = 0


def write_idx(path: Path, array: np.ndarray) -> None:
    """An IDX file of unsigned bytes (gzipped when the name ends in .gz)."""
    array = np.asarray(array, dtype=np.uint8)
    header = bytes([0, 0, 8, array.ndim]) + b"".join(int(s).to_bytes(4, "big") for s in array.shape)
    data = header + array.tobytes()
    path.write_bytes(gzip.compress(data) if path.suffix == ".gz" else data)


def write_fashion(folder: Path, n_train: int = 20, n_test: int = 5, gz: bool = False) -> None:
    """The four Fashion-MNIST IDX files in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(RNG_SEED)
    end = ".gz" if gz else ""
    write_idx(folder / f"train-images-idx3-ubyte{end}", rng.integers(0, 256, (n_train, 28, 28)))
    write_idx(folder / f"train-labels-idx1-ubyte{end}", rng.integers(0, 10, n_train))
    write_idx(folder / f"t10k-images-idx3-ubyte{end}", rng.integers(0, 256, (n_test, 28, 28)))
    write_idx(folder / f"t10k-labels-idx1-ubyte{end}", rng.integers(0, 10, n_test))


def cifar_batch(n: int, label_key: str, classes: int, bytes_keys: bool = False) -> dict:
    rng = np.random.default_rng(n)
    batch = {
        "data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
        label_key: rng.integers(0, classes, n).tolist(),
    }
    return {k.encode(): v for k, v in batch.items()} if bytes_keys else batch


def write_cifar10(root: Path, per_batch: int = 2, n_test: int = 4) -> Path:
    """``cifar-10-batches-py/``: five pickled training batches, a test batch and
    ``batches.meta``, as the real archive unpacks."""
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    for i in range(1, 6):
        batch = cifar_batch(per_batch, "labels", 10, bytes_keys=i % 2 == 0)
        (folder / f"data_batch_{i}").write_bytes(pickle.dumps(batch, protocol=2))
    test = cifar_batch(n_test, "labels", 10)
    (folder / "test_batch").write_bytes(pickle.dumps(test, protocol=2))
    meta = {"label_names": [f"c{i}" for i in range(10)], "num_vis": 3072}
    (folder / "batches.meta").write_bytes(pickle.dumps(meta, protocol=2))
    return folder


def write_cifar100(root: Path, n_train: int = 6, n_test: int = 3) -> Path:
    """``cifar-100-python/``: ``train`` and ``test`` with fine and coarse labels."""
    folder = root / "cifar-100-python"
    folder.mkdir(parents=True)
    for name, n in (("train", n_train), ("test", n_test)):
        batch = cifar_batch(n, "fine_labels", 100)
        batch["coarse_labels"] = [label // 5 for label in batch["fine_labels"]]
        (folder / name).write_bytes(pickle.dumps(batch, protocol=2))
    (folder / "meta").write_bytes(pickle.dumps({"fine_label_names": list(range(100))}))
    return folder


def stl10_images(n: int) -> np.ndarray:
    """uint8 [n, 3, 96, 96] whose pixel (c, y, x) encodes y, so orientation is visible."""
    y = np.arange(96, dtype=np.uint8)[None, None, :, None]
    return np.broadcast_to(y + np.arange(n, dtype=np.uint8)[:, None, None, None], (n, 3, 96, 96))


def write_stl10(root: Path, n_train: int = 3, n_test: int = 2) -> Path:
    """``stl10_binary/``: images stored column-major per plane, labels 1..10."""
    folder = root / "stl10_binary"
    folder.mkdir(parents=True)
    for split, n in (("train", n_train), ("test", n_test)):
        stored = np.ascontiguousarray(stl10_images(n).transpose(0, 1, 3, 2))
        (folder / f"{split}_X.bin").write_bytes(stored.tobytes())
        (folder / f"{split}_y.bin").write_bytes(
            ((np.arange(n) % 10) + 1).astype(np.uint8).tobytes()
        )
    return folder


def write_imagefolder(root: Path, test_name: str = "val") -> Path:
    """``train/`` and ``val/`` with classes ``a`` and ``b``: wide 60x20 PNGs whose outer
    quarters are red (left) and blue (right), which a centre crop removes."""
    from PIL import Image

    for split in ("train", test_name):
        for c, cls in enumerate(("a", "b")):
            (root / split / cls).mkdir(parents=True)
            for i in range(2):
                img = np.zeros((20, 60, 3), dtype=np.uint8)
                img[:, :, 0] = 50 + 100 * c + i
                img[:, :15] = (255, 0, 0)
                img[:, 45:] = (0, 0, 255)
                Image.fromarray(img).save(root / split / cls / f"{i}.png")
        (root / split / "notes.txt").write_text("not a class folder")
    return root
