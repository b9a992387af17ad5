"""The manifest of a packed dataset: written last, so its presence means "complete".

``<out>/sslctl-dataset.json`` holds the format version, the classes, the sample counts per
split and class, image-size statistics, per-channel mean and std, bytes and a checksum
over the litdata index files. Torch-free: the recipe validator reads it.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from sslctl.errors import SslctlError

# 2: the encoded image stored as a uint8 array, not bytes (litdata gives bytes an Arrow
# footer, and its reader converted a whole 16 MB chunk to Python objects for each sample
# read from another chunk: 3.6 ms per random read, against 0.1 ms; docs/data.md)
FORMAT_VERSION = 2
MANIFEST = "sslctl-dataset.json"
PREFIX = "shards:"


def require_litdata() -> None:
    """A clear error when the streaming library is missing (it is a dependency of sslctl)."""
    import importlib.util

    if importlib.util.find_spec("litdata") is None:
        raise SslctlError(
            "streamed datasets need the litdata package: pip install 'litdata>=0.2.50' "
            "(or reinstall sslctl)"
        )


def shards_path(name: str) -> Path:
    """The folder of ``shards:<path>``."""
    return Path(name.removeprefix(PREFIX)).expanduser()


def index_checksum(folder: Path, splits: list[str]) -> str:
    """sha256 over each split's litdata ``index.json`` (which lists every chunk's size)."""
    digest = hashlib.sha256()
    for split in splits:
        digest.update(split.encode())
        digest.update((folder / split / "index.json").read_bytes())
    return digest.hexdigest()


def write_manifest(folder: Path, manifest: dict[str, Any]) -> None:
    """Write the manifest atomically (temporary file, fsync, rename)."""
    tmp = folder / f".{MANIFEST}.tmp"
    with open(tmp, "w") as handle:
        json.dump(manifest, handle, indent=1)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, folder / MANIFEST)


def manifest_problem(value: str) -> str | None:
    """Why ``value`` (``shards:<path>`` or a path) is not a usable packed dataset, or None."""
    folder = shards_path(value)
    if not folder.exists():
        return f"{folder} does not exist"
    if not folder.is_dir() or not os.access(folder, os.R_OK | os.X_OK):
        return f"{folder} is not a readable folder"
    path = folder / MANIFEST
    if not path.is_file():
        partial = any(p.name.startswith(".partial-") for p in folder.iterdir())
        what = "an unfinished pack (re-run `sslctl data pack`)" if partial else "not a dataset"
        return f"{folder} is {what}: no {MANIFEST}; expected a folder written by `sslctl data pack`"
    try:
        manifest = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        return f"unreadable {path}: {err}"
    version = manifest.get("format_version") if isinstance(manifest, dict) else None
    if version != FORMAT_VERSION:
        return (
            f"format version {version!r} in {path}; expected {FORMAT_VERSION} (re-pack it with "
            f"this sslctl: `sslctl data pack ... --out {folder}`)"
        )
    return None


def complete(folder: Path) -> bool:
    """``folder`` holds a finished pack of this format version."""
    try:
        manifest = json.loads((folder / MANIFEST).read_text())
    except (OSError, ValueError):
        return False
    return isinstance(manifest, dict) and manifest.get("format_version") == FORMAT_VERSION


def read_manifest(name_or_path: str | Path, field: str = "data.name") -> dict[str, Any]:
    """The manifest of a packed dataset; a :class:`SslctlError` naming ``field`` and the
    value when the folder is missing, unreadable, not a packed dataset (or an unfinished
    one), or of another format version."""
    value = str(name_or_path)
    problem = manifest_problem(value)
    if problem is not None:
        raise SslctlError(f"{field}: {value!r}: {problem}")
    return json.loads((shards_path(value) / MANIFEST).read_text())
