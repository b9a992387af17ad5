"""``sslctl data pack``: an ImageFolder into litdata chunks, one folder per split.

Every image is checked by decoding it fully; JPEGs that are RGB and within ``max_side``
are stored byte for byte, everything else (PNG, grayscale, CMYK, 16-bit, alpha, larger
than ``max_side``) is converted to 8-bit RGB as torchvision's ``pil_loader`` does (16-bit
scaled by 1/257 rather than clipped), shrunk so its longer side is at most ``max_side``
(FFCV's ``max_resolution`` convention) and stored as a quality-95 JPEG.

Interrupt-safe: a split is written into ``<out>/.partial-<split>/`` and renamed to
``<out>/<split>/`` when complete (with its summary); the manifest
(:mod:`.manifest`) is written last. A re-run keeps finished splits, starts unfinished ones
clean, and only the manifest marks the dataset complete.
"""

from __future__ import annotations

import errno
import functools
import io
import json
import os
import shutil
import warnings
from collections.abc import Callable, Iterable, Iterator
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from sslctl.data.stream import manifest as mf
from sslctl.data.stream.scan import Split, scan_imagefolder
from sslctl.errors import SslctlError
from sslctl.locks import owned_lock

CHUNK_BYTES = "16MB"  # bounds the file-backed pages a reader keeps mapped (docs/data.md)
SUMMARY = "sslctl-split.json"
SIXTEEN_BIT = ("I;16", "I;16B", "I;16L", "I;16N", "I")
QUALITY = 95


def to_rgb(image: Image.Image) -> Image.Image:
    """8-bit RGB: 16-bit greys scaled by 1/257, everything else by PIL's ``convert``."""
    if image.mode in SIXTEEN_BIT:
        grey = np.asarray(image, dtype=np.float64) / 257.0
        image = Image.fromarray(np.clip(np.rint(grey), 0, 255).astype(np.uint8), "L")
    return image if image.mode == "RGB" else image.convert("RGB")


def prepare(path: Path, label: int, max_side: int | None) -> dict[str, Any]:
    """The stored sample of one file (raises OSError/ValueError on undecodable files)."""
    data = path.read_bytes()
    with Image.open(io.BytesIO(data)) as image:
        keep = image.format == "JPEG" and image.mode == "RGB"
        image.load()  # decodes everything: a truncated file fails here
        width, height = image.size
        too_big = max_side is not None and max(width, height) > max_side
        rgb = to_rgb(image)
        if too_big or not keep:
            if too_big:
                s = max_side / max(width, height)
                width, height = max(1, round(width * s)), max(1, round(height * s))
                rgb = rgb.resize((width, height), Image.Resampling.BICUBIC, reducing_gap=3.0)
            out = io.BytesIO()
            rgb.save(out, format="JPEG", quality=QUALITY)
            data = out.getvalue()
        thumb = np.asarray(rgb.resize((32, 32), Image.Resampling.BOX), dtype=np.float64) / 255
    stats = [*thumb.mean((0, 1)).tolist(), *(thumb**2).mean((0, 1)).tolist()]
    return {"image": data, "label": label, "height": height, "width": width, "stats": stats}


def _prepare_safe(job: tuple[Path, int, int | None]) -> tuple[str, Any]:
    """``("ok", sample)`` or ``("bad", reason)``: workers never raise."""
    path, label, max_side = job
    try:
        return "ok", prepare(path, label, max_side)
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as err:
        return "bad", f"{path}: {type(err).__name__}: {err}"


def _prepared(jobs: list, workers: int) -> Iterator[tuple[str, Any]]:
    if workers <= 1:
        yield from map(_prepare_safe, jobs)
        return
    with get_context("spawn").Pool(workers) as pool:
        yield from pool.imap(_prepare_safe, jobs, chunksize=4)


# the options recorded for sets packed from raw pixels (png_samples): no resizing, one process
RAW_OPTIONS = {"max_side": None, "workers": 1, "skip_bad": False}


def png_samples(images: np.ndarray, labels: np.ndarray) -> Iterator[tuple[str, Any]]:
    """Raw uint8 images [N, C, H, W] (C = 1 or 3) as prepared samples: lossless PNG
    (JPEG would alter raw pixels), grey as RGB (the streamed pipeline is 3-channel)."""
    for image, label in zip(images, labels, strict=True):
        rgb = np.ascontiguousarray(np.broadcast_to(image, (3, *image.shape[1:])).transpose(1, 2, 0))
        out = io.BytesIO()
        Image.fromarray(rgb).save(out, format="PNG")
        scaled = rgb.astype(np.float64) / 255
        stats = [*scaled.mean((0, 1)).tolist(), *(scaled**2).mean((0, 1)).tolist()]
        height, width = rgb.shape[:2]
        sample = {"image": out.getvalue(), "label": int(label), "height": height, "width": width}
        yield "ok", {**sample, "stats": stats}


class _Summary:
    """Counts and statistics of one split, accumulated sample by sample."""

    def __init__(self, classes: list[str]):
        self.classes = classes
        self.counts = [0] * len(classes)
        self.sides: list[int] = []
        self.stats = np.zeros(6)
        self.skipped: list[str] = []
        self.unlabelled = 0

    def add(self, sample: dict[str, Any]) -> None:
        if sample["label"] >= 0:  # -1: unlabelled (STL-10's unlabeled split)
            self.counts[sample["label"]] += 1
        else:
            self.unlabelled += 1
        self.sides.append(min(sample["height"], sample["width"]))
        self.stats += sample["stats"]

    def as_dict(self, name: str, source: Path, nbytes: int) -> dict[str, Any]:
        n = max(1, sum(self.counts) + self.unlabelled)
        mean, square = self.stats[:3] / n, self.stats[3:] / n
        sides = np.asarray(self.sides or [0])
        return {
            "split": name,
            "format_version": mf.FORMAT_VERSION,
            "source": str(source),
            "samples": sum(self.counts) + self.unlabelled,
            "unlabelled": self.unlabelled,
            "per_class": dict(zip(self.classes, self.counts, strict=True)),
            "shorter_side": {
                "min": int(sides.min()),
                "median": int(np.median(sides)),
                "max": int(sides.max()),
            },
            "mean": mean.tolist(),
            "std": np.sqrt(np.maximum(square - mean**2, 0)).tolist(),
            "bytes": nbytes,
            "skipped": self.skipped,
        }


def write_split(
    name: str,
    prepared: Iterable[tuple[str, Any]],
    classes: list[str],
    out: Path,
    source: Path,
    options: dict[str, Any],
    on_item: Callable[[], None],
) -> dict[str, Any]:
    """Write one split's ``("ok", sample)`` / ``("bad", reason)`` stream into
    ``out/.partial-<name>``, then rename it to ``out/<name>``; returns its summary."""
    mf.require_litdata()
    from litdata.streaming.writer import BinaryWriter

    partial = out / f".partial-{name}"
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    writer = BinaryWriter(str(partial), chunk_bytes=CHUNK_BYTES)
    # litdata warns whenever a chunk overshoots the target by >10% (its row footer counts)
    warnings.filterwarnings("ignore", "An item was larger than the target chunk size")
    summary = _Summary(classes)
    index = 0
    for status, value in prepared:
        on_item()
        if status == "bad":
            if not options["skip_bad"]:
                raise SslctlError(f"{value}; expected an image file (or pack with --skip-bad)")
            summary.skipped.append(value)
            continue
        summary.add(value)
        writer.add_item(
            index, {"image": np.frombuffer(value["image"], np.uint8), "label": value["label"]}
        )
        index += 1
    if index == 0:
        raise SslctlError(f"source: no readable images in split {name!r} of {source}")
    writer.done()
    writer.merge()
    nbytes = sum(f.stat().st_size for f in partial.iterdir())
    result = summary.as_dict(name, source, nbytes)
    (partial / SUMMARY).write_text(json.dumps(result, indent=1))
    os.replace(partial, out / name)
    return result


def read_summary(path: Path) -> dict[str, Any]:
    """A finished split's summary; an error naming the file where it is not one."""
    try:
        summary = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        summary = err
    if not isinstance(summary, dict):
        raise SslctlError(
            f"--out: unreadable split summary {path} ({summary}); expected the JSON that "
            f"`sslctl data pack` writes: delete {path.parent} to pack that split again"
        )
    return summary


def _check_out(out: Path, source: Path) -> None:
    """``out`` is new, empty, or an earlier (possibly interrupted) pack of ``source``."""
    if not out.exists():
        return
    if not out.is_dir():
        raise SslctlError(f"--out: {str(out)!r} exists and is not a folder")
    for summary in out.glob(f"*/{SUMMARY}"):
        theirs = read_summary(summary).get("source")
        if theirs != str(source):
            raise SslctlError(
                f"--out: {str(out)!r} holds a pack of another source ({theirs!r}); "
                "choose another folder"
            )
    ours = {mf.MANIFEST, "train", "val", "test", "unlabeled"}
    foreign = [
        p.name
        for p in out.iterdir()
        if p.name not in ours
        and not p.name.startswith((".partial-", f".{mf.MANIFEST}", mf.PACK_LOCK))
    ]
    if foreign:
        raise SslctlError(
            f"--out: {str(out)!r} is not empty ({foreign[:3]}); expected a new "
            "folder or an earlier pack"
        )


def _drop_other_version(out: Path) -> None:
    """An earlier pack of another format version in ``out`` is packed again: its manifest
    goes first (so the folder never looks complete meanwhile), then its finished splits."""
    (out / mf.MANIFEST).unlink(missing_ok=True)
    for summary in out.glob(f"*/{SUMMARY}"):
        if read_summary(summary).get("format_version") != mf.FORMAT_VERSION:
            shutil.rmtree(summary.parent)


def pack_imagefolder(
    source: Path,
    out: Path,
    *,
    max_side: int | None = None,
    workers: int = 1,
    skip_bad: bool = False,
    on_split: Callable[[str, int], None] = lambda s, n: None,
    on_item: Callable[[], None] = lambda: None,
    on_wait: Callable[[dict[str, Any]], None] | None = None,
) -> tuple[dict[str, Any], bool]:
    """Pack ``source`` into ``out``; returns (manifest, True when already complete)."""
    source = source.expanduser().resolve()
    if (done := mf.finished(out)) is not None:
        return done, True
    classes, splits = scan_imagefolder(source)
    options = {"max_side": max_side, "workers": workers, "skip_bad": skip_bad}

    def prepared(split: Split) -> Iterator[tuple[str, Any]]:
        jobs = [(path, label, max_side) for path, label in split.files]
        return _prepared(jobs, workers)

    named = [(s.name, len(s.files), functools.partial(prepared, s)) for s in splits]
    manifest = pack_splits(source, out, classes, named, options, on_split, on_item, on_wait=on_wait)
    return manifest, False


def pack_splits(
    source: Path,
    out: Path,
    classes: list[str],
    splits: list[tuple[str, int, Callable[[], Iterable[tuple[str, Any]]]]],
    options: dict[str, Any],
    on_split: Callable[[str, int], None],
    on_item: Callable[[], None],
    pretrain_splits: list[str] | None = None,
    on_wait: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Write each (name, count, prepared-stream factory) split that is not finished yet,
    then the manifest; the first split trains, the second evaluates. One process writes
    ``out`` at a time: another waits for it (``on_wait(holder)`` once), then finds the
    pack complete or continues it."""
    _check_out(out, source)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise SslctlError(f"--out: cannot create {out}: {err}") from None
    with owned_lock(out / mf.PACK_LOCK, on_wait=on_wait):
        if (done := mf.finished(out)) is not None:  # packed by the process this one waited for
            return done
        _drop_other_version(out)
        summaries = {}
        try:
            for name, count, prepared in splits:
                done = out / name / SUMMARY
                if done.is_file():
                    summaries[name] = read_summary(done)
                    continue
                on_split(name, count)
                summaries[name] = write_split(
                    name, prepared(), classes, out, source, options, on_item
                )
        except OSError as err:
            full = " (disk full)" if err.errno == errno.ENOSPC else ""
            raise SslctlError(
                f"--out: writing {out} failed{full}: {err}; re-run to continue"
            ) from None
        names = [name for name, _, _ in splits]
        manifest = _manifest(classes, names, summaries, options)
        manifest["pretrain_splits"] = pretrain_splits or names[:1]
        manifest["checksum"] = mf.index_checksum(out, names)
        mf.write_manifest(out, manifest)
        return manifest


def _manifest(classes: list[str], names: list[str], summaries: dict, options: dict) -> dict:
    train = summaries[names[0]]
    return {
        "format_version": mf.FORMAT_VERSION,
        "writer": "litdata BinaryWriter",
        "classes": classes,
        "train_split": names[0],
        "eval_split": names[1],
        "splits": summaries,
        "mean": train["mean"],
        "std": train["std"],
        "max_side": options["max_side"],
    }
