"""The files of an ImageFolder as torchvision's ``ImageFolder`` finds them."""

from __future__ import annotations

import os
from pathlib import Path

from sslctl.data.stream.scan import scan_imagefolder


def _touch(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"")


def test_linked_class_folders_and_sub_folders_are_walked_once(tmp_path: Path) -> None:
    """A class folder that is a link (an ImageNet-100 made of links to ImageNet), files in
    a class's sub-folders (torchvision's ``make_dataset`` walks them) and a link back to an
    ancestor (walked once, not forever); hidden files and folders are not samples."""
    elsewhere = tmp_path / "imagenet" / "n01"
    _touch(elsewhere / "b.jpg")
    _touch(elsewhere / "a.jpg")
    root = tmp_path / "in100"
    (root / "train").mkdir(parents=True)
    os.symlink(elsewhere, root / "train" / "n01")
    _touch(root / "train" / "n02" / "x.jpg")
    _touch(root / "train" / "n02" / "more" / "y.jpg")
    _touch(root / "train" / "n02" / ".hidden" / "z.jpg")
    _touch(root / "train" / "n02" / ".DS_Store")
    os.symlink(root / "train" / "n02", root / "train" / "n02" / "loop")
    _touch(root / "val" / "n02" / "v.jpg")
    classes, (train, val) = scan_imagefolder(root)
    assert classes == ["n01", "n02"]
    names = [(str(f.relative_to(root / "train")), label) for f, label in train.files]
    assert names == [("n01/a.jpg", 0), ("n01/b.jpg", 0), ("n02/more/y.jpg", 1), ("n02/x.jpg", 1)]
    assert [(f.name, label) for f, label in val.files] == [("v.jpg", 1)]
