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
from sslctl.locks import describe_owner, read_owner

# 2: the encoded image stored as a uint8 array, not bytes (litdata gives bytes an Arrow
# footer, and its reader converted a whole 16 MB chunk to Python objects for each sample
# read from another chunk: 3.6 ms per random read, against 0.1 ms; docs/data.md)
FORMAT_VERSION = 2
MANIFEST = "sslctl-dataset.json"
PACK_LOCK = ".sslctl-pack"  # held while a process writes the folder (+ .owner.json: who)
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


def _checked(value: str) -> tuple[dict[str, Any], str | None]:
    """The manifest of ``value`` (``shards:<path>`` or a path) and why it is not a usable
    packed dataset (None when it is; the manifest is then complete and checked)."""
    folder = shards_path(value)
    if not folder.exists():
        return {}, f"{folder} does not exist"
    if not folder.is_dir() or not os.access(folder, os.R_OK | os.X_OK):
        return {}, f"{folder} is not a readable folder"
    path = folder / MANIFEST
    if not path.is_file():
        holder = packing_now(folder)
        if holder is not None:
            return {}, f"{folder} is being packed now ({describe_owner(holder)}); wait for it"
        partial = any(p.name.startswith(".partial-") for p in folder.iterdir())
        what = "an unfinished pack (re-run `sslctl data pack`)" if partial else "not a dataset"
        return (
            {},
            f"{folder} is {what}: no {MANIFEST}; expected a folder written by `sslctl data pack`",
        )
    try:
        manifest = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        return {}, f"unreadable {path}: {err}"
    version = manifest.get("format_version") if isinstance(manifest, dict) else None
    repack = f"re-pack it with this sslctl: `sslctl data pack ... --out {folder}`"
    if version != FORMAT_VERSION:
        return {}, f"format version {version!r} in {path}; expected {FORMAT_VERSION} ({repack})"
    problem = _content_problem(manifest) or _checksum_problem(folder, manifest)
    return manifest, f"{path}: {problem} ({repack})" if problem else None


def manifest_problem(value: str) -> str | None:
    """Why ``value`` (``shards:<path>`` or a path) is not a usable packed dataset, or None."""
    return _checked(value)[1]


def _is_list(value: Any, item: type | tuple[type, ...]) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, item) for v in value)


def _content_problem(manifest: dict[str, Any]) -> str | None:
    """What is missing or malformed in a manifest of this version (hand-edited, or
    written by something else), or None."""
    splits = manifest.get("splits")
    if not isinstance(splits, dict) or not splits:
        return f"'splits' is {splits!r:.60}; expected a mapping of split name -> counts"
    for name, split in splits.items():
        fields = split if isinstance(split, dict) else {}
        sides = fields.get("shorter_side")
        kinds = {"samples": int, "bytes": int, "per_class": dict, "shorter_side": dict}
        if any(not isinstance(fields.get(k), kind) for k, kind in kinds.items()) or not all(
            isinstance(sides.get(k), int) for k in ("min", "median", "max")
        ):
            return f"split {name!r} lacks its counts ({', '.join(kinds)} with min/median/max)"
    expected = {
        "classes": (lambda v: _is_list(v, str), "a list of class names"),
        "train_split": (lambda v: v in splits, f"one of {sorted(splits)}"),
        "eval_split": (lambda v: v in splits, f"one of {sorted(splits)}"),
        "pretrain_splits": (lambda v: _is_list(v, str) and set(v) <= set(splits), "splits"),
        "mean": (lambda v: _is_list(v, (int, float)) and len(v) == 3, "3 channel means"),
        "std": (lambda v: _is_list(v, (int, float)) and len(v) == 3, "3 channel stds"),
        "checksum": (lambda v: isinstance(v, str) and len(v) == 64, "a sha256 hex digest"),
    }
    for key, (ok, what) in expected.items():
        if not ok(manifest.get(key)):
            return f"{key!r} is {manifest.get(key)!r:.60}; expected {what}"
    return None


def _checksum_problem(folder: Path, manifest: dict[str, Any]) -> str | None:
    """The shards' index files no longer match the checksum written when packing (a
    split re-written or removed since, whose features a cache keyed by it would mix up)."""
    try:
        actual = index_checksum(folder, list(manifest["splits"]))
    except OSError as err:
        return f"a split's index is unreadable: {err}"
    if actual != manifest["checksum"]:
        written = manifest["checksum"][:16]
        return f"the shards changed after packing (index checksum {actual[:16]}, written {written})"
    return None


def packing_now(folder: Path) -> dict[str, Any] | None:
    """Who holds ``folder``'s packing lock (pid, host, start), or None when nobody does."""
    from filelock import FileLock, Timeout

    lock = folder / PACK_LOCK
    if not lock.is_file():
        return None
    probe = FileLock(str(lock), timeout=0)
    try:
        probe.acquire()
    except Timeout:
        return read_owner(lock)
    except OSError:  # a read-only folder: nobody can be writing it
        return None
    probe.release()
    return None


def finished(folder: Path) -> dict[str, Any] | None:
    """The manifest when ``folder`` holds a finished, intact pack of this format version."""
    manifest, problem = _checked(str(folder))
    return None if problem else manifest


def complete(folder: Path) -> bool:
    """``folder`` holds a finished, intact pack of this format version."""
    return finished(folder) is not None


def read_manifest(name_or_path: str | Path, field: str = "data.name") -> dict[str, Any]:
    """The manifest of a packed dataset; a :class:`SslctlError` naming ``field`` and the
    value when the folder is missing, unreadable, not a packed dataset (or an unfinished
    one), or of another format version."""
    value = str(name_or_path)
    manifest, problem = _checked(value)
    if problem is not None:
        raise SslctlError(f"{field}: {value!r}: {problem}")
    return manifest
