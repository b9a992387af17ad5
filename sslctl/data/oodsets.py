"""Out-of-domain sets as a recipe names them: built-in names, folders of images, short names.

An entry of ``eval.ood.datasets`` is a name (``digits``, ``mnist5k-c``, ``cifar10``), a
folder (``/data/mine`` or ``imagefolder:/data/mine``: ``<root>/<class>/*``, or its
``val/`` or ``test/`` split when it has one; ``<folder>-c`` is that folder's corruption
suite), or a one-key mapping ``{short: entry}``. The short name (for a folder, its base
name) is what metric keys, report columns and file names carry: ``ood/<short>/top1``.

Every set is fitted to the training data: class folders are matched to the training
classes by name (an error names the unmatched ones), images get the training channels and
size, and a set whose mean intensity is far from the training set's is reported (black on
white digits score chance for every encoder).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch

from sslctl.data import catalog, formats
from sslctl.data.classes import class_names, match_classes
from sslctl.data.datasets import Dataset, ImageSet, channel_stats, fit_to, load_ood
from sslctl.errors import SslctlError

SHORT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]*$")
MEAN_GAP = 0.25  # |mean intensity difference| (images in [0, 1]) that earns a warning


def entry_name(entry: str | dict[str, str]) -> tuple[str, str]:
    """``(short name, source)`` of one ``eval.ood.datasets`` entry."""
    if isinstance(entry, dict):
        if len(entry) != 1:
            raise SslctlError(
                f"eval.ood.datasets: got {entry!r}; expected one 'name: source' per entry"
            )
        ((short, source),) = entry.items()
        short, source = str(short), str(source)
    else:
        source = entry
        short = source if catalog.is_known_ood(source) and not is_folder(source) else ""
        if catalog.is_streamed(source):  # a packed set: its folder's name
            short = Path(source.removeprefix(catalog.SHARDS)).name
        elif not short:
            path = folder_path(source)
            short = path.name.removesuffix(".npz").removesuffix(catalog.SUITE_SUFFIX)
            short += catalog.SUITE_SUFFIX if _is_suite_path(path) else ""
    if not SHORT_NAME.match(short) or short.endswith("/"):
        raise SslctlError(
            f"eval.ood.datasets: short name {short!r} (for {source!r}); expected letters, "
            "digits and _.+- only (no '/' or ':'), e.g. {mine: /data/mine}"
        )
    return short, source


def is_folder(source: str) -> bool:
    """A path entry (a folder or an ``.npz`` file): ``imagefolder:<path>``, or a path
    (with a ``/`` or ``~``, or ending in ``.npz``)."""
    return not catalog.is_streamed(source) and (
        source.startswith(catalog.IMAGEFOLDER)
        or "/" in source
        or source.startswith("~")
        or source.endswith(".npz")
    )


def folder_path(source: str) -> Path:
    return Path(source.removeprefix(catalog.IMAGEFOLDER)).expanduser()


def _is_suite_path(path: Path) -> bool:
    """``<folder>-c`` naming the corruption suite of an existing ``<folder>``."""
    base = Path(str(path).removesuffix(catalog.SUITE_SUFFIX))
    return str(path).endswith(catalog.SUITE_SUFFIX) and not path.is_dir() and base.is_dir()


def load_sets(
    entries: Sequence[str | dict[str, str]],
    reference: Dataset,
    *,
    severities: Sequence[int] = catalog.SEVERITIES,
    corruptions: Sequence[str] | None = None,
    root: str | None = None,
    download: bool = False,
    warn: Callable[[str], None] = print,
) -> dict[str, ImageSet]:
    """Every OOD image set of ``entries``, keyed ``<short>`` or ``<short>/<corruption>/<s>``."""
    out: dict[str, ImageSet] = {}
    seen: dict[str, str] = {}
    for entry in entries:
        short, source = entry_name(entry)
        if short in seen:
            raise SslctlError(
                f"eval.ood.datasets: short name {short!r} given twice ({seen[short]!r} and "
                f"{source!r}); name them apart, e.g. {{{short}2: {source}}}"
            )
        seen[short] = source
        kwargs: dict[str, Any] = {"severities": severities, "corruptions": corruptions}
        if is_folder(source):
            sets = _folder_sets(short, folder_path(source), reference, **kwargs)
        else:
            if not catalog.is_streamed(source):  # packed sets match classes by name there
                _check_classes(short, source, reference)
            sets = load_ood(source, reference=reference, root=root, download=download, **kwargs)
            sets = {short + key[len(source) :]: s for key, s in sets.items()}
        note = intensity_note(short, next(iter(sets.values())), reference)
        if note:
            warn(note)
        out.update(sets)
    return out


def _check_classes(short: str, source: str, reference: Dataset) -> None:
    """A built-in set must have the training classes (digits for an MNIST-like set)."""
    base = catalog.suite_base(source) or source
    if base == reference.name:
        return
    theirs = class_names(base, _num_classes(base))
    match_classes(theirs, class_names(reference.name, reference.train.num_classes), short)


def _num_classes(name: str) -> int:
    return 100 if name == "cifar100" else 10


def _folder_sets(
    short: str,
    path: Path,
    reference: Dataset,
    *,
    severities: Sequence[int],
    corruptions: Sequence[str] | None,
) -> dict[str, ImageSet]:
    suite = _is_suite_path(path)
    if suite:
        path = Path(str(path).removesuffix(catalog.SUITE_SUFFIX))
    clean = (
        read_npz(short, path, reference)
        if path.suffix == ".npz"
        else read_folder(short, path, reference)
    )
    if not suite:
        return {short: clean}
    from sslctl.data.datasets import _suite

    return _suite(
        short, clean, clean.images.shape[1], clean.images.shape[-1], severities,
        corruptions or catalog.CORRUPTIONS,
    )  # fmt: skip


def read_folder(short: str, path: Path, reference: Dataset) -> ImageSet:
    """``<path>/<class>/*`` (or its ``val/`` or ``test/`` split) fitted to ``reference``:
    classes matched by name, its channels and image side."""
    if not path.is_dir():
        raise SslctlError(f"eval.ood.datasets: {short}: folder not found: {path}")
    split = next((path / d for d in ("val", "test") if (path / d).is_dir()), path)
    classes = sorted(d.name for d in split.iterdir() if d.is_dir())
    if not classes:
        raise SslctlError(
            f"eval.ood.datasets: {short}: {split} has no class folders; expected "
            "<folder>/<class>/<image files>, class names as in the training data"
        )
    ref = reference.test.images
    index = match_classes(
        classes, class_names(reference.name, reference.train.num_classes), short, split
    )
    images, labels = formats.read_imagefolder(split, classes, ref.shape[-1])
    if len(images) == 0:
        raise SslctlError(f"eval.ood.datasets: {short}: no image files under {split}/<class>/")
    labels = torch.tensor(index, dtype=torch.int64)[labels]
    images = fit_to(images, ref.shape[1], ref.shape[-1])
    return ImageSet(short, images, labels, reference.train.num_classes)


def read_npz(short: str, path: Path, reference: Dataset) -> ImageSet:
    """An ``.npz`` with uint8 ``images`` (or ``x``) [N, H, W], [N, H, W, C] or [N, C, H, W]
    and int ``labels`` (or ``y``); with a ``classes`` array of names, labels index those
    names (matched to the training classes by name), else the training classes."""
    import numpy as np

    if not path.is_file():
        raise SslctlError(f"eval.ood.datasets: {short}: file not found: {path}")
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except (OSError, ValueError) as err:
        raise SslctlError(f"eval.ood.datasets: {short}: unreadable .npz {path}: {err}") from None
    images = arrays.get("images", arrays.get("x"))
    labels = arrays.get("labels", arrays.get("y"))
    if images is None or labels is None or images.dtype != np.uint8 or images.ndim not in (3, 4):
        raise SslctlError(
            f"eval.ood.datasets: {short}: {path} needs uint8 'images' (or 'x') [N, H, W(, C)] "
            f"and 'labels' (or 'y'); has {sorted(arrays)}"
        )
    x = torch.from_numpy(images)
    x = x[:, None] if x.ndim == 3 else (x.permute(0, 3, 1, 2) if x.shape[-1] in (1, 3) else x)
    ours = class_names(reference.name, reference.train.num_classes)
    names = [str(c) for c in arrays["classes"]] if "classes" in arrays else ours
    index = torch.tensor(match_classes(names, ours, short, path), dtype=torch.int64)
    y = torch.from_numpy(labels.astype(np.int64))
    if len(y) != len(x) or y.min() < 0 or y.max() >= len(index):
        raise SslctlError(
            f"eval.ood.datasets: {short}: {path}: {len(x)} images, {len(y)} labels in "
            f"[{int(y.min())}, {int(y.max())}]; expected one label per image in [0, {len(index)})"
        )
    ref = reference.test.images
    fitted = fit_to(x.contiguous(), ref.shape[1], ref.shape[-1])
    return ImageSet(short, fitted, index[y], reference.train.num_classes)


def intensity_note(short: str, images: ImageSet, reference: Dataset) -> str | None:
    """A warning when the set's mean intensity is far from the training set's (in [0, 1]
    units, averaged over channels): inverted or very differently exposed images make the
    in-domain head score chance whatever the encoder."""
    mean, _ = channel_stats(images.images[:2000])
    gap = abs(sum(mean) / len(mean) - sum(reference.mean) / len(reference.mean))
    if gap <= MEAN_GAP:
        return None
    return (
        f"warning: OOD set {short}: mean intensity {sum(mean) / len(mean):.2f} vs "
        f"{sum(reference.mean) / len(reference.mean):.2f} for the training data "
        f"{reference.name}; inverted (dark on light) or differently exposed images score "
        "near chance for every encoder"
    )
