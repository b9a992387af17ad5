"""Exact resumption: SIGKILL mid-epoch, re-run, and the run continues at the next batch of
the same order and ends with the same weights and losses as an uninterrupted run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from sslctl.data.stream.feed import StreamFeeder

ROOT = Path(__file__).parents[3]


def _child(packed: Path, workdir: Path, sleep: float = 0.0) -> subprocess.Popen:
    workdir.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.data.stream.child",
            str(packed),
            str(workdir),
            "--sleep",
            str(sleep),
        ],
        cwd=ROOT,
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )


def _steps(log: Path) -> dict[tuple[int, int], list[int]]:
    rows = [line.split() for line in log.read_text().splitlines()]
    return {(int(r[0]), int(r[1])): [int(v) for v in r[2:]] for r in rows}


def test_batches_from_a_step_equal_the_tail_of_the_epoch(packed: Path) -> None:
    """Resuming at step k yields exactly batches k.. of the uninterrupted epoch (indices
    and decoded crops), with 0 and 2 DataLoader workers alike."""
    feeders = [StreamFeeder(packed / "train", seed=1, size=24, workers=w) for w in (0, 2)]
    full = list(feeders[0].batches(3, 6, 0, 4))
    for feeder in feeders:
        tail = list(feeder.batches(3, 6, 2, 4))
        for a, b in zip(full[2:], tail, strict=True):
            assert torch.equal(a["index"], b["index"]) and torch.equal(a["views"], b["views"])


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_sigkill_mid_epoch_then_rerun_equals_an_uninterrupted_run(
    packed: Path, tmp_path: Path
) -> None:
    reference = _child(packed, tmp_path / "reference")
    killed = _child(packed, tmp_path / "killed", sleep=0.3)
    log = tmp_path / "killed" / "order.log"
    deadline = time.monotonic() + 300
    while not (log.is_file() and len(log.read_text().splitlines()) >= 6):  # epoch 1, step 1
        assert killed.poll() is None and time.monotonic() < deadline, killed.stderr.read()
        time.sleep(0.05)
    killed.send_signal(signal.SIGKILL)
    killed.wait()
    state = torch.load(tmp_path / "killed" / "checkpoint.pt", weights_only=True)
    assert 0 < state["step"] < 4  # the checkpoint is mid-epoch
    before = _steps(log)
    log.rename(tmp_path / "killed" / "before.log")
    resumed = _child(packed, tmp_path / "killed")
    assert resumed.wait(timeout=300) == 0, resumed.stderr.read()
    assert reference.wait(timeout=300) == 0, reference.stderr.read()

    expected = _steps(tmp_path / "reference" / "order.log")
    after = _steps(log)
    assert len(expected) == 8  # 2 epochs x 24 // 6 steps
    assert next(iter(after)) == (state["epoch"], state["step"])  # continues at the next batch
    assert {**before, **after} == expected  # the same order, step for step
    ref = torch.load(tmp_path / "reference" / "final.pt", weights_only=True)
    got = torch.load(tmp_path / "killed" / "final.pt", weights_only=True)
    assert [h["loss"] for h in got["history"]] == [h["loss"] for h in ref["history"]]
    for name, value in ref["model"].items():
        assert torch.equal(got["model"][name], value), name
