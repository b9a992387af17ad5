"""The files and classes of an ImageFolder (``train/`` and ``val/`` or ``test/``).

torchvision's ``ImageFolder`` convention: one sub-folder per class, classes sorted by
name, labels their index in the training split, the files of a class found in its folder
and, as torchvision's ``make_dataset`` walks them, its sub-folders, following symbolic
links (ImageNet-100 is often a folder of links to ImageNet's class folders). Every regular,
non-hidden file there is a sample (a non-image file is reported, not silently ignored).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from sslctl.errors import SslctlError

EVAL_SPLITS = ("val", "test")


@dataclass(frozen=True)
class Split:
    """One split: its name, and (file, label) pairs sorted by class then file name."""

    name: str
    files: list[tuple[Path, int]]


def _class_dirs(folder: Path) -> list[Path]:
    return sorted(d for d in folder.iterdir() if d.is_dir() and not d.name.startswith("."))


def files_under(folder: Path) -> list[Path]:
    """The non-hidden files under ``folder``, sorted by path; each real folder is walked
    once (a link back to an ancestor does not loop)."""
    found, seen = [], set()
    for top, dirs, names in os.walk(folder, followlinks=True):
        real = os.path.realpath(top)
        if real in seen:
            dirs[:] = []
            continue
        seen.add(real)
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        paths = (Path(top) / n for n in names if not n.startswith("."))
        found += [f for f in paths if f.is_file()]
    return sorted(found)


def scan_imagefolder(root: Path, field: str = "source") -> tuple[list[str], list[Split]]:
    """Classes and splits of ``root``; errors name ``field``, the folder and what was
    expected: a missing or unreadable root, no train/ or val|test/, an empty class folder,
    evaluation classes that training lacks."""
    if not root.is_dir():
        raise SslctlError(f"{field}: {str(root)!r} is not an existing, readable folder")
    eval_dir = next((root / d for d in EVAL_SPLITS if (root / d).is_dir()), None)
    if not (root / "train").is_dir() or eval_dir is None:
        raise SslctlError(
            f"{field}: {str(root)!r} needs train/ and val/ (or test/) folders with one "
            "sub-folder of images per class"
        )
    try:
        classes = [d.name for d in _class_dirs(root / "train")]
        if not classes:
            raise SslctlError(f"{field}: {root / 'train'} has no class folders")
        unknown = [d.name for d in _class_dirs(eval_dir) if d.name not in classes]
        if unknown:
            raise SslctlError(
                f"{field}: classes {unknown} of {eval_dir} are missing from {root / 'train'} "
                "(expected the evaluation classes to be training classes)"
            )
        splits = []
        for folder in (root / "train", eval_dir):
            files = []
            for d in _class_dirs(folder):
                found = files_under(d)
                if not found:
                    raise SslctlError(f"{field}: empty class folder {d}; expected image files")
                files += [(f, classes.index(d.name)) for f in found]
            splits.append(Split(folder.name, files))
    except PermissionError as err:
        raise SslctlError(f"{field}: unreadable {err.filename}: permission denied") from None
    return classes, splits
