"""Core runtime helpers: atomic checkpoints and precision choice."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from sslctl.runtime import atomic_save, load_checkpoint, pick_dtype


def test_atomic_save_round_trips_with_weights_only(tmp_path: Path) -> None:
    """A checkpoint written atomically loads back with torch.load(weights_only=True)."""
    path = tmp_path / "ck.pt"
    state = {
        "w": torch.arange(3.0),
        "epoch": 2,
        "history": [{"loss": 1.5}],
        "gen": torch.Generator().manual_seed(1).get_state(),
    }
    atomic_save(state, path)
    back = load_checkpoint(path)
    assert back is not None and back["epoch"] == 2 and torch.equal(back["w"], state["w"])
    assert list(tmp_path.iterdir()) == [path], "no temporary file left behind"


def test_failed_save_leaves_previous_checkpoint_intact(tmp_path: Path) -> None:
    """If writing fails midway, the old checkpoint is still there and readable."""
    path = tmp_path / "ck.pt"
    atomic_save({"epoch": 1}, path)

    class Boom:
        def __reduce__(self):
            raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        atomic_save({"epoch": 2, "bad": Boom()}, path)
    assert load_checkpoint(path) == {"epoch": 1}
    assert list(tmp_path.iterdir()) == [path]


def test_precision_choice() -> None:
    """auto is bf16 on the CPU; fp32 means no autocast."""
    cpu = torch.device("cpu")
    assert pick_dtype("auto", cpu) is torch.bfloat16
    assert pick_dtype("fp32", cpu) is None


def test_full_disk_at_a_checkpoint_is_a_message(tmp_path: Path, monkeypatch) -> None:
    """No space left while writing a checkpoint: an SslctlError that says how to resume,
    the previous checkpoint intact and no temporary file left."""
    import errno
    import os

    from sslctl.errors import SslctlError

    path = tmp_path / "checkpoint.pt"
    atomic_save({"epoch": 1}, path)

    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(SslctlError, match="no space left.*resume"):
        atomic_save({"epoch": 2}, path)
    assert load_checkpoint(path)["epoch"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["checkpoint.pt"]
