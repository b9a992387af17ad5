"""Class names of the datasets, and matching an OOD set's classes to the training classes.

Names follow the datasets' own metadata (torchvision's ``classes`` lists; Fashion-MNIST's
README; STL-10's ``class_names.txt``). An image folder's classes are its sub-folder names
(sorted, as torchvision's ImageFolder does). Where a dataset has no name list here
(CIFAR-100), its classes are the indices ``0 .. n-1``.
"""

from __future__ import annotations

from pathlib import Path

from sslctl.data import catalog
from sslctl.errors import SslctlError

DIGITS = [str(i) for i in range(10)]
NAMES: dict[str, list[str]] = {
    "mnist5k": DIGITS,
    catalog.DIGITS: DIGITS,
    "fashion-mnist": [
        "T-shirt/top",
        "Trouser",
        "Pullover",
        "Dress",
        "Coat",
        "Sandal",
        "Shirt",
        "Sneaker",
        "Bag",
        "Ankle boot",
    ],
    "cifar10": [
        "airplane",
        "automobile",
        "bird",
        "cat",
        "deer",
        "dog",
        "frog",
        "horse",
        "ship",
        "truck",
    ],
    "stl10": [
        "airplane",
        "bird",
        "car",
        "cat",
        "deer",
        "dog",
        "horse",
        "monkey",
        "ship",
        "truck",
    ],
}


def class_names(dataset: str, num_classes: int) -> list[str]:
    """The class names of ``dataset`` in label order."""
    if dataset in NAMES:
        return NAMES[dataset]
    if dataset.startswith(catalog.IMAGEFOLDER):
        train = Path(dataset.removeprefix(catalog.IMAGEFOLDER)).expanduser() / "train"
        if train.is_dir():
            return sorted(d.name for d in train.iterdir() if d.is_dir())
    return [str(i) for i in range(num_classes)]


def _key(name: str) -> str:
    """Names compare case-insensitively, with ``-``, ``_``, ``/`` and spaces alike."""
    return "".join(c for c in name.lower() if c.isalnum())


def match_classes(
    theirs: list[str], ours: list[str], short: str, where: object | None = None
) -> list[int]:
    """The training-class index of each of ``theirs`` (an OOD set's class names), matched
    by name; an error names every class that matches none. A set may have fewer classes
    than the training data (the head still chooses among all of them)."""
    index = {_key(name): i for i, name in enumerate(ours)}
    unmatched = [name for name in theirs if _key(name) not in index]
    if unmatched:
        shown = ours if len(ours) <= 20 else [*ours[:20], "..."]
        place = f" ({where})" if where is not None else ""
        raise SslctlError(
            f"eval.ood.datasets: {short}{place}: classes {unmatched} match no training class; "
            f"expected class names from the training data's {shown} (by name, "
            "case-insensitive); a set for other data needs eval.ood.datasets set for it"
        )
    return [index[_key(name)] for name in theirs]
