"""``sslctl data pack cifar10|cifar100|fashion-mnist|mnist5k``: the built-in sets packed
losslessly, with the in-memory sets' class names, from the files the in-memory path reads."""

from __future__ import annotations

import io
import subprocess
from pathlib import Path

import numpy as np
from PIL import Image

from sslctl.data.classes import NAMES
from sslctl.data.datasets import load_dataset
from sslctl.data.stream import manifest as mf
from sslctl.data.stream.builtin import pack_builtin
from sslctl.data.stream.feed import Reader, StreamFeeder
from tests.conftest import sslctl_cmd
from tests.data import fakes


def _stored(split_dir: Path, n: int) -> np.ndarray:
    reader = Reader(split_dir)
    images = [np.asarray(Image.open(io.BytesIO(reader.get(i)["image"]))) for i in range(n)]
    return np.stack(images).transpose(0, 3, 1, 2)


def test_cifar10_is_packed_pixel_for_pixel_with_torchvisions_class_names(tmp_path: Path) -> None:
    fakes.write_cifar10(tmp_path / "data")
    out = tmp_path / "out"
    manifest, already = pack_builtin("cifar10", tmp_path / "data", out)
    assert not already and mf.complete(out)
    assert manifest["classes"] == NAMES["cifar10"]
    dataset = load_dataset("cifar10", root=str(tmp_path / "data"))
    for split, images in (("train", dataset.train), ("test", dataset.test)):
        assert manifest["splits"][split]["samples"] == len(images.labels)
        np.testing.assert_array_equal(_stored(out / split, len(images.labels)), images.images)
    feeder = StreamFeeder(out / "train", seed=0, size=16, workers=0)
    batch = next(feeder.batches(0, 4, 0, 1))
    assert batch["views"].shape == (4, 2, 3, 16, 16)
    assert pack_builtin("cifar10", tmp_path / "data", out)[1]  # a re-run: already complete


def test_grey_sets_are_stored_as_rgb_and_cifar100_classes_are_numbered(
    tmp_path: Path,
) -> None:
    fakes.write_fashion(tmp_path / "data" / "fashion-mnist", n_train=6, n_test=2)
    out = tmp_path / "fashion"
    pack_builtin("fashion-mnist", tmp_path / "data", out)
    grey = load_dataset("fashion-mnist", root=str(tmp_path / "data")).train.images
    stored = _stored(out / "train", 6)
    assert stored.shape == (6, 3, 28, 28) and (stored == grey.numpy()).all()
    fakes.write_cifar100(tmp_path / "data")
    manifest, _ = pack_builtin("cifar100", tmp_path / "data", tmp_path / "c100")
    # as the in-memory CIFAR-100 names them (sslctl.data.classes), so OOD matches by name
    assert manifest["classes"][:3] == ["0", "1", "2"] and len(manifest["classes"]) == 100


def test_cli_names_a_missing_set_and_an_unknown_source(tmp_path: Path) -> None:
    out = str(tmp_path / "out")
    missing = subprocess.run(
        sslctl_cmd("data", "pack", "cifar10", "--root", str(tmp_path), "--out", out),
        capture_output=True,
        text=True,
    )
    assert missing.returncode == 2 and "source: 'cifar10' not found" in missing.stderr
    assert not Path(out).exists()  # nothing written
    unknown = subprocess.run(
        sslctl_cmd("data", "pack", "svhn", "--out", out), capture_output=True, text=True
    )
    assert unknown.returncode == 2 and "'svhn'" in unknown.stderr and "cifar100" in unknown.stderr


def test_options_that_do_not_apply_to_the_source_are_refused(tmp_path: Path) -> None:
    """Each option of one kind of source, given with another kind, is an error naming it
    (exit 2, nothing written), not silently ignored."""
    from typer.testing import CliRunner

    from sslctl.cli import app

    out = tmp_path / "out"
    cases = [
        (["cifar10", "--max-side", "64"], "--max-side applies to imagefolder:"),
        (["stl10", "--workers", "4"], "--workers applies to imagefolder:"),
        (["mnist5k", "--skip-bad"], "--skip-bad applies to imagefolder:"),
        (["mnist5k", "--download"], "--download applies to cifar10, cifar100, not to 'mnist5k'"),
        ([f"imagefolder:{tmp_path}", "--root", "x"], "--root applies to the built-in sets"),
        ([f"imagefolder:{tmp_path}", "--download"], "--download applies to the built-in sets"),
    ]
    for args, message in cases:
        result = CliRunner().invoke(app, ["data", "pack", *args, "--out", str(out)])
        assert result.exit_code == 2 and message in " ".join(result.output.split()), args
        assert not out.exists()
