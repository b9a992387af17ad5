"""Reading job states from squeue and sacct, with the SLURM client tools replaced by
scripts on PATH that print what a controller prints in cases a fresh test cluster cannot
produce quickly: an id already purged from the controller, and no accounting."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from sslctl.launch.jobs import FINAL_STATES, slurm_states


def _tool(folder: Path, name: str, body: str) -> None:
    path = folder / name
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(0o755)


@pytest.fixture
def bin_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "bin"
    folder.mkdir()
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ['PATH']}")
    return folder


# squeue as SLURM 22.05 answers: job 7 running, 8 purged (any query naming 8 fails)
SQUEUE = """case "$*" in
  *8*) echo "slurm_load_jobs error: Invalid job id specified" >&2; exit 1 ;;
  *) echo "7|RUNNING" ;;
esac"""


def test_a_purged_job_without_accounting_has_ended(bin_dir: Path) -> None:
    """One purged id fails a whole squeue query: the others are asked one by one, the
    running job stays RUNNING and the purged one, with sacct failing (no accounting),
    is ENDED, a final state, so `--wait` and sweep waits stop."""
    _tool(bin_dir, "squeue", SQUEUE)
    _tool(bin_dir, "sacct", 'echo "Slurm accounting storage is disabled" >&2; exit 1')
    assert slurm_states(["7", "8"]) == {"7": "RUNNING", "8": "ENDED"}
    assert "ENDED" in FINAL_STATES


def test_sacct_names_how_a_finished_job_ended(bin_dir: Path) -> None:
    """A job no longer in the queue gets its state from sacct ("CANCELLED by 0" ->
    CANCELLED); a controller that does not answer leaves the state unknown, not ended."""
    _tool(bin_dir, "squeue", SQUEUE)
    _tool(bin_dir, "sacct", 'echo "8|CANCELLED by 0"')
    assert slurm_states(["7", "8"]) == {"7": "RUNNING", "8": "CANCELLED"}
    _tool(bin_dir, "squeue", 'echo "slurm_load_jobs error: Unable to contact" >&2; exit 1')
    _tool(bin_dir, "sacct", "exit 1")
    assert slurm_states(["7"]) == {}


def test_cancel_refuses_what_is_not_a_known_job_id(bin_dir: Path, tmp_path: Path) -> None:
    """`sslctl cancel` passes only job ids SLURM knows to scancel: an option (`--me`
    would cancel every job of the user) or an unknown id is an error, exit 2, and scancel
    is never called."""
    from typer.testing import CliRunner

    from sslctl.cli import app

    called = tmp_path / "scancel-called"
    _tool(bin_dir, "squeue", SQUEUE)
    _tool(bin_dir, "sacct", "exit 0")  # accounting that has no record of the id
    _tool(bin_dir, "scancel", f'echo "$@" >> {called}')
    for args, fragment in [
        (["--", "--me"], "job id"),
        (["7;rm"], "job id"),
        (["8"], "SLURM does not know"),
    ]:
        result = CliRunner().invoke(app, ["cancel", *args], env={"COLUMNS": "300"})
        assert result.exit_code == 2, result.output
        assert fragment in result.output
    assert not called.exists()
    result = CliRunner().invoke(app, ["cancel", "7"], env={"COLUMNS": "300"})
    assert result.exit_code == 0, result.output
    assert called.read_text().split() == ["7"]
