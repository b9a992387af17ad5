"""``sslctl data pack NAME`` for the built-in sets ``cifar10``, ``cifar100`` (torchvision's
downloads), ``fashion-mnist`` and ``mnist5k``: read by the same readers as the in-memory
path (``--root``; ``--download`` for CIFAR), at their native size, into ``train`` and ``test``
splits stored as lossless PNG (:func:`sslctl.data.stream.pack.png_samples`). STL-10 has
its own packer (:mod:`.stl10`), which adds the unlabelled split.

Class names are those of the in-memory sets (:mod:`sslctl.data.classes`), so OOD
evaluation matches a packed set and an in-memory one by name.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from sslctl.errors import SslctlError

PACKABLE = ("mnist5k", "fashion-mnist", "cifar10", "cifar100")
DOWNLOADABLE = ("cifar10", "cifar100")  # fetched by torchvision with ``--download``


def pack_builtin(
    name: str,
    root: Path,
    out: Path,
    *,
    download: bool = False,
    on_split: Callable[[str, int], None] = lambda s, n: None,
    on_item: Callable[[], None] = lambda: None,
    on_wait: Callable[[dict[str, Any]], None] | None = None,
) -> tuple[dict[str, Any], bool]:
    """Pack the built-in set ``name`` (from ``root``) into ``out``."""
    from sslctl.data.classes import class_names
    from sslctl.data.datasets import load_dataset
    from sslctl.data.stream import manifest as mf
    from sslctl.data.stream.pack import RAW_OPTIONS, pack_splits, png_samples

    if (done := mf.finished(out)) is not None:
        return done, True
    try:
        dataset = load_dataset(name, root=str(root), download=download)
    except SslctlError as err:
        raise SslctlError(str(err).replace("data.name: ", "source: ", 1)) from None
    splits = [
        (split, len(s.labels), lambda s=s: png_samples(s.images.numpy(), s.labels.numpy()))
        for split, s in (("train", dataset.train), ("test", dataset.test))
    ]
    classes = class_names(name, dataset.train.num_classes)
    source = root.expanduser().resolve() / name
    manifest = pack_splits(
        source, out, classes, splits, RAW_OPTIONS, on_split, on_item, on_wait=on_wait
    )
    return manifest, False
