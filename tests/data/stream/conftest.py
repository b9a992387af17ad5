"""A small synthetic JPEG ImageFolder, packed once per test session."""

from __future__ import annotations

from pathlib import Path

import pytest

from sslctl.data.stream.pack import pack_imagefolder
from sslctl.data.stream.synthetic import write_imagefolder


def small_folder(root: Path, **kwargs) -> Path:
    """3 classes x (8 train + 2 val) images of 60-160 px (fast to write and decode)."""
    options = {
        "classes": 3,
        "train_per_class": 8,
        "val_per_class": 2,
        "min_side": 60,
        "max_side": 160,
        "png_every": 7,
        "gray_every": 5,
    }
    return write_imagefolder(root, **{**options, **kwargs})


@pytest.fixture(scope="session")
def packed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A packed copy of :func:`small_folder` (24 train, 6 val images)."""
    root = tmp_path_factory.mktemp("stream")
    out = root / "packed"
    pack_imagefolder(small_folder(root / "source"), out, workers=1)
    return out


@pytest.fixture(autouse=True)
def _cache_in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The evaluation-image cache (under ``$SSLCTL_DATA``) goes to the test's folder."""
    monkeypatch.setenv("SSLCTL_DATA", str(tmp_path / "data"))
