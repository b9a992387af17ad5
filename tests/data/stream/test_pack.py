"""``sslctl data pack``: counts, interruption, and every bad input the issue lists."""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from sslctl.data.stream import manifest as mf
from sslctl.data.stream.feed import Reader
from sslctl.data.stream.pack import SUMMARY, pack_imagefolder
from sslctl.errors import SslctlError
from sslctl.locks import owned_lock
from tests.conftest import sslctl_cmd
from tests.data.stream.conftest import small_folder


def _decoded(out: Path, split: str) -> list[Image.Image]:
    n = json.loads((out / mf.MANIFEST).read_text())["splits"][split]["samples"]
    reader = Reader(out / split)
    return [Image.open(io.BytesIO(reader.get(i)["image"])) for i in range(n)]


def test_pack_counts_every_file_per_split_and_class(packed: Path) -> None:
    manifest = mf.read_manifest(packed)
    assert manifest["classes"] == ["class_00", "class_01", "class_02"]
    assert manifest["splits"]["train"]["per_class"] == {f"class_0{i}": 8 for i in range(3)}
    assert manifest["splits"]["val"]["samples"] == 6
    assert manifest["checksum"] == mf.index_checksum(packed, ["train", "val"])
    labels = [Reader(packed / "train").get(i)["label"] for i in range(24)]
    assert labels == sorted(labels) and set(labels) == {0, 1, 2}
    # PNGs and grayscale files were converted: every stored image is an RGB JPEG
    assert {(im.format, im.mode) for im in _decoded(packed, "train")} == {("JPEG", "RGB")}


def test_max_side_bounds_the_longer_side(tmp_path: Path) -> None:
    out = tmp_path / "out"
    pack_imagefolder(small_folder(tmp_path / "src"), out, max_side=64)
    assert max(max(im.size) for im in _decoded(out, "train")) == 64


def test_interrupted_pack_is_not_complete_and_a_rerun_finishes_it(tmp_path: Path) -> None:
    src, out = small_folder(tmp_path / "src"), tmp_path / "out"
    seen = []

    def interrupt() -> None:
        seen.append(1)
        if len(seen) == 30:  # inside the val split, after train was finished
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        pack_imagefolder(src, out, on_item=interrupt)
    assert (out / "train" / SUMMARY).is_file() and (out / ".partial-val").is_dir()
    assert mf.manifest_problem(str(out)) is not None  # not mistaken for a complete dataset
    with pytest.raises(SslctlError, match="unfinished pack"):
        mf.read_manifest(out)
    restarted = []
    manifest, already = pack_imagefolder(src, out, on_split=lambda name, n: restarted.append(name))
    assert not already and restarted == ["val"]  # train kept, val started clean
    assert manifest["splits"]["val"]["samples"] == 6 and not (out / ".partial-val").exists()
    assert pack_imagefolder(src, out)[1]  # a third run sees a complete dataset


def _put(folder: Path, name: str, image: Image.Image | bytes, **save) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    if isinstance(image, bytes):
        path.write_bytes(image)
    else:
        image.save(path, **save)
    return path


def test_cmyk_sixteen_bit_alpha_and_palette_are_converted_to_rgb(tmp_path: Path) -> None:
    src = small_folder(tmp_path / "src")
    c = src / "train" / "class_00"
    rgb = np.random.default_rng(0).integers(0, 256, (40, 50, 3), dtype=np.uint8)
    _put(c, "cmyk.jpg", Image.fromarray(rgb).convert("CMYK"))
    _put(c, "alpha.png", Image.fromarray(rgb).convert("RGBA"))
    _put(c, "palette.png", Image.fromarray(rgb).convert("P"))
    grey16 = np.full((30, 30), 51400, dtype=np.uint16)  # 200 * 257
    _put(c, "sixteen.png", Image.fromarray(grey16))
    out = tmp_path / "out"
    manifest, _ = pack_imagefolder(src, out)
    assert manifest["splits"]["train"]["per_class"]["class_00"] == 12
    images = _decoded(out, "train")
    assert all(im.mode == "RGB" for im in images)
    sixteen = [im for im in images if im.size == (30, 30)]
    assert len(sixteen) == 1 and abs(np.asarray(sixteen[0]).mean() - 200) < 2  # scaled, not clipped


@pytest.mark.parametrize("bad", ["truncated", "text"])
def test_undecodable_file_is_named_or_skipped(tmp_path: Path, bad: str) -> None:
    src = small_folder(tmp_path / "src")
    good = next((src / "train" / "class_01").glob("*.jpg")).read_bytes()
    data = good[: len(good) // 2] if bad == "truncated" else b"not an image\n"
    path = _put(src / "train" / "class_01", f"bad-{bad}.jpg", data)
    with pytest.raises(SslctlError, match=str(path)):
        pack_imagefolder(src, tmp_path / "out")
    assert not (tmp_path / "out" / mf.MANIFEST).exists()
    manifest, _ = pack_imagefolder(src, tmp_path / "out2", skip_bad=True)
    assert len(manifest["splits"]["train"]["skipped"]) == 1
    assert str(path) in manifest["splits"]["train"]["skipped"][0]
    assert manifest["splits"]["train"]["samples"] == 24


def test_folder_layout_errors_name_the_folder(tmp_path: Path) -> None:
    src = small_folder(tmp_path / "src")
    (src / "train" / "empty").mkdir()
    with pytest.raises(SslctlError, match=r"empty class folder .*empty"):
        pack_imagefolder(src, tmp_path / "out")
    (src / "train" / "empty").rmdir()
    _put(src / "val" / "zebra", "a.png", Image.new("RGB", (20, 20)))
    with pytest.raises(SslctlError, match=r"\['zebra'\].*missing from"):
        pack_imagefolder(src, tmp_path / "out")
    with pytest.raises(SslctlError, match="is not an existing, readable folder"):
        pack_imagefolder(tmp_path / "nowhere", tmp_path / "out")


def test_reading_errors_name_field_and_value(packed: Path, tmp_path: Path) -> None:
    assert "does not exist" in mf.manifest_problem(str(tmp_path / "missing"))
    assert "not a dataset" in mf.manifest_problem(str(tmp_path))
    other = tmp_path / "other"
    shutil.copytree(packed, other)
    manifest = json.loads((other / mf.MANIFEST).read_text())
    (other / mf.MANIFEST).write_text(json.dumps({**manifest, "format_version": 99}))
    expected = rf"data.name: .*format version 99.*expected {mf.FORMAT_VERSION}"
    with pytest.raises(SslctlError, match=expected):
        mf.read_manifest(f"shards:{other}")


def test_an_unreadable_split_summary_is_named(tmp_path: Path) -> None:
    src, out = small_folder(tmp_path / "src"), tmp_path / "out"
    pack_imagefolder(src, out)
    (out / mf.MANIFEST).unlink()
    (out / "train" / SUMMARY).write_text("{not json")
    with pytest.raises(SslctlError, match=r"unreadable split summary .*train.*delete"):
        pack_imagefolder(src, out)


def test_a_pack_of_another_format_version_is_packed_again(tmp_path: Path) -> None:
    """Re-running ``pack`` over an older version's pack (what the error above asks for)
    rewrites every split and then the manifest, rather than reporting it complete."""
    src, out = small_folder(tmp_path / "src"), tmp_path / "out"
    pack_imagefolder(src, out)
    manifest = json.loads((out / mf.MANIFEST).read_text())
    (out / mf.MANIFEST).write_text(json.dumps({**manifest, "format_version": 1}))
    summary = json.loads((out / "train" / SUMMARY).read_text())
    del summary["format_version"]  # written by version 1, which did not record it
    (out / "train" / SUMMARY).write_text(json.dumps(summary))
    _, was_complete = pack_imagefolder(src, out)
    assert not was_complete and mf.complete(out)
    assert json.loads((out / "train" / SUMMARY).read_text())["format_version"] == 2
    assert len(_decoded(out, "train")) == 24


@pytest.mark.parametrize(
    ("key", "value", "named"),
    [
        ("splits", None, "'splits' is None"),
        ("splits", {"train": {"samples": 3}}, "split 'train' lacks its counts"),
        ("classes", "abc", "'classes' is 'abc'; expected a list of class names"),
        ("eval_split", "test", "'eval_split' is 'test'; expected one of"),
        ("mean", [0.5, 0.5], "'mean' is [0.5, 0.5]; expected 3 channel means"),
    ],
)
def test_a_malformed_manifest_is_named_not_a_traceback(
    packed: Path, tmp_path: Path, key: str, value: object, named: str
) -> None:
    """A hand-edited manifest of the current version: an error naming the key, the value
    and what was expected (was: a KeyError in `data info` or in training)."""
    out = shutil.copytree(packed, tmp_path / "out")
    manifest = json.loads((out / mf.MANIFEST).read_text())
    (out / mf.MANIFEST).write_text(json.dumps({**manifest, key: value}))
    with pytest.raises(SslctlError, match=f"{mf.MANIFEST}: {re.escape(named)}"):
        mf.read_manifest(out)
    assert not mf.complete(out)


def test_shards_changed_after_packing_are_refused_and_a_rerun_repairs(tmp_path: Path) -> None:
    """A split's litdata index that no longer matches the manifest's checksum (its
    features cache, keyed by that checksum, would be stale) is refused; re-running the
    same pack makes the folder whole again."""
    src, out = small_folder(tmp_path / "src"), tmp_path / "out"
    pack_imagefolder(src, out)
    index = out / "val" / "index.json"
    index.write_text(json.dumps({**json.loads(index.read_text()), "edited": True}))
    with pytest.raises(SslctlError, match=r"the shards changed after packing"):
        mf.read_manifest(out)
    _, was_complete = pack_imagefolder(src, out)
    assert not was_complete and mf.read_manifest(out)["checksum"] == mf.index_checksum(
        out, ["train", "val"]
    )


def test_recipe_naming_a_bad_shards_folder_exits_2(tmp_path: Path) -> None:
    result = subprocess.run(
        sslctl_cmd("validate", "recipes/vicreg.yaml", "--set", f"data.name=shards:{tmp_path}"),
        capture_output=True,
        text=True,
        cwd=Path(__file__).parents[3],
    )
    assert result.returncode == 2
    assert "data.name" in result.stderr and "not a dataset" in result.stderr


def test_cli_pack_then_info(tmp_path: Path) -> None:
    src = small_folder(tmp_path / "src")
    out = tmp_path / "out"
    packed = subprocess.run(
        sslctl_cmd("data", "pack", f"imagefolder:{src}", "--out", str(out), "--workers", "2"),
        capture_output=True,
        text=True,
    )
    assert packed.returncode == 0, packed.stderr
    assert "class_02" in packed.stdout and "24" in packed.stdout
    info = subprocess.run(sslctl_cmd("data", "info", str(out)), capture_output=True, text=True)
    assert info.returncode == 0 and "train: 24 images in 1 shard," in info.stdout


def test_disk_full_is_an_error_and_leaves_nothing_that_looks_complete(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import errno

    from litdata.streaming.writer import BinaryWriter

    src, out = small_folder(tmp_path / "src"), tmp_path / "out"
    original = BinaryWriter.add_item

    def full(self, index, item):
        if index == 5:
            raise OSError(errno.ENOSPC, "No space left on device")
        return original(self, index, item)

    monkeypatch.setattr(BinaryWriter, "add_item", full)
    with pytest.raises(SslctlError, match=r"--out: writing .* failed \(disk full\)"):
        pack_imagefolder(src, out)
    assert mf.manifest_problem(str(out)) is not None and not (out / "train").exists()
    monkeypatch.setattr(BinaryWriter, "add_item", original)
    manifest, _ = pack_imagefolder(src, out)
    assert manifest["splits"]["train"]["samples"] == 24


def test_a_second_pack_of_the_same_folder_waits_for_the_first(tmp_path: Path) -> None:
    """While one process writes ``--out`` another waits, saying for whom (not deleting the
    first one's unfinished split as its own to start clean), and goes on after it."""
    src, out = small_folder(tmp_path / "src"), tmp_path / "out"
    out.mkdir()
    command = sslctl_cmd("data", "pack", f"imagefolder:{src}", "--out", str(out))
    with owned_lock(out / mf.PACK_LOCK):
        unbuffered = {**os.environ, "PYTHONUNBUFFERED": "1"}
        waiting = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=unbuffered)
        assert waiting.stdout is not None
        first = waiting.stdout.readline()  # blocks until it prints; the test timeout bounds it
        assert "waiting for the process packing" in first and f"pid {os.getpid()}" in first
        assert waiting.poll() is None and not (out / "train").exists()
        with pytest.raises(SslctlError, match=rf"is being packed now \(pid {os.getpid()} on"):
            mf.read_manifest(out)  # what a recipe naming it meanwhile is told
    rest, _ = waiting.communicate(timeout=600)
    assert waiting.returncode == 0 and "class_02" in rest
    assert mf.complete(out) and len(_decoded(out, "train")) == 24


def test_simultaneous_packs_of_one_folder_leave_one_intact_dataset(tmp_path: Path) -> None:
    src, out = small_folder(tmp_path / "src"), tmp_path / "out"
    command = sslctl_cmd("data", "pack", f"imagefolder:{src}", "--out", str(out))
    runs = [subprocess.Popen(command, stdout=subprocess.PIPE, text=True) for _ in range(3)]
    assert all(run.wait(timeout=600) == 0 for run in runs)
    assert mf.read_manifest(out)["splits"]["train"]["samples"] == 24
    assert len(_decoded(out, "train")) == 24 and len(_decoded(out, "val")) == 6
