"""OOD sets from a recipe: folders matched to the training classes by name, fitted to the
training channels and size, short names, and the warnings and errors a user sees."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from sslctl.data.classes import match_classes
from sslctl.data.datasets import make_dataset
from sslctl.data.oodsets import entry_name, load_sets
from sslctl.errors import SslctlError
from tests.imagefolders import write_folder


def reference(name: str = "mnist5k"):
    """A small stand-in for a 10-class 1x28x28 training set (digits as bright strokes)."""
    gen = torch.Generator().manual_seed(0)
    images = (torch.rand(40, 1, 28, 28, generator=gen) < 0.15).to(torch.uint8) * 255
    labels = torch.arange(40) % 10
    return make_dataset(name, (images, labels), (images, labels), 10)


def strokes(n: int) -> torch.Tensor:
    gen = torch.Generator().manual_seed(1)
    return (torch.rand(n, 3, 20, 20, generator=gen) < 0.15).to(torch.uint8) * 255


@pytest.mark.parametrize("suffix", [".png", ".jpg"])
def test_a_plain_class_folder_is_fitted_to_the_training_data(tmp_path: Path, suffix: str) -> None:
    """root/<class>/* with RGB files of another size: labels are the training indices of
    the class names (not the folders' own order), images get 1 channel and side 28."""
    root = write_folder(
        tmp_path / "mine", strokes(6), ["7", "7", "3", "3", "9", "9"], suffix=suffix
    )
    sets = load_sets([str(root)], reference(), warn=pytest.fail)
    assert list(sets) == ["mine"]
    got = sets["mine"]
    assert got.images.shape == (6, 1, 28, 28) and got.images.dtype == torch.uint8
    assert sorted(got.labels.tolist()) == [3, 3, 7, 7, 9, 9]


def test_short_names_key_the_sets_and_their_suites(tmp_path: Path) -> None:
    """A {name: source} entry names the metric keys; a folder's suite is <name>-c/...; no
    absolute path or ':' reaches a key."""
    root = write_folder(tmp_path / "data" / "mine", strokes(4), ["1", "2", "1", "2"])
    sets = load_sets(
        [{"scans": str(root)}, f"imagefolder:{root}-c"],
        reference(),
        severities=(1,),
        corruptions=("contrast",),
        warn=pytest.fail,
    )
    assert sorted(sets) == ["mine-c/contrast/1", "scans"]
    assert all(":" not in k and not k.startswith("/") for k in sets)
    assert entry_name("mnist5k-c") == ("mnist5k-c", "mnist5k-c")


def test_unknown_class_folders_are_named_in_the_error(tmp_path: Path) -> None:
    root = write_folder(tmp_path / "odd", strokes(3), ["3", "cat", "dog"])
    with pytest.raises(SslctlError, match=r"odd.*\['cat', 'dog'\] match no training class"):
        load_sets([str(root)], reference())


def test_class_names_match_by_name_whatever_the_case_and_separators() -> None:
    ours = ["T-shirt/top", "Trouser", "Ankle boot"]
    assert match_classes(["ankle_boot", "tshirt-top"], ours, "x") == [2, 0]
    with pytest.raises(SslctlError, match="'sock'"):
        match_classes(["sock"], ours, "x")


def test_digit_sets_are_refused_for_other_training_data() -> None:
    """Changing data.name does not silently keep the digit OOD sets of a base recipe."""
    with pytest.raises(SslctlError, match="digits.*match no training class"):
        load_sets(["digits"], reference("fashion-mnist"))


def test_a_grossly_different_intensity_is_reported(tmp_path: Path) -> None:
    """Dark-on-light digits next to light-on-dark training digits: a warning naming the set."""
    root = write_folder(tmp_path / "inv", strokes(4), ["1", "2", "1", "2"], invert=True)
    notes: list[str] = []
    load_sets([str(root)], reference(), warn=notes.append)
    assert len(notes) == 1 and "inv" in notes[0] and "mean intensity" in notes[0]


@pytest.mark.parametrize(
    "entry, message",
    [
        ({"a:b": "digits"}, "short name 'a:b'"),
        ({"x": "/no/such/folder"}, "folder not found: /no/such/folder"),
    ],
)
def test_bad_entries_name_the_value(entry: dict[str, str], message: str) -> None:
    with pytest.raises(SslctlError, match=message):
        load_sets([entry], reference())


def test_a_short_name_given_twice_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(SslctlError, match="'digits' given twice"):
        load_sets(["digits", {"digits": "mnist5k"}], reference())


def test_an_npz_set_is_fitted_and_its_class_names_matched(tmp_path: Path) -> None:
    """uint8 [N, H, W, C] images with a 'classes' array: labels index those names, which are
    matched to the training classes; without names, labels are training indices."""
    import numpy as np

    images = strokes(4).permute(0, 2, 3, 1).numpy()
    named = tmp_path / "named.npz"
    np.savez(named, images=images, labels=np.array([0, 1, 0, 1]), classes=np.array(["9", "4"]))
    plain = tmp_path / "plain.npz"
    np.savez(plain, x=images[..., 0], y=np.array([2, 2, 5, 5]))
    sets = load_sets([str(named), {"p": str(plain)}], reference(), warn=pytest.fail)
    assert sets["named"].labels.tolist() == [9, 4, 9, 4]
    assert sets["named"].images.shape == (4, 1, 28, 28)
    assert sets["p"].labels.tolist() == [2, 2, 5, 5]
    bad = tmp_path / "bad.npz"
    np.savez(bad, images=images, labels=np.array([0, 1, 0, 1]), classes=np.array(["9", "owl"]))
    with pytest.raises(SslctlError, match="'owl'"):
        load_sets([str(bad)], reference())
