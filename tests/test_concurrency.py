"""Many processes at once: the first use of a fresh MLflow store, experiment creation,
and the same recipe started twice (sslctl.locks, sslctl.tracking)."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest

from sslctl.errors import SslctlError
from sslctl.locks import RecipeBusy, recipe_lock
from tests.conftest import LEAN, RECIPES, cli_env, sslctl_cmd, timeout_s


def _uri(folder: Path) -> str:
    return f"sqlite:///{folder / 'mlflow.db'}"


def test_store_is_created_whole_or_not_at_all(tmp_path: Path, monkeypatch) -> None:
    """A creation that dies half-way (here: the schema build raises, as on a full disk)
    leaves no mlflow.db behind, so the next process creates a whole one."""
    import mlflow.tracking._tracking_service.utils as utils

    from sslctl.tracking import Tracker, ensure_store

    real = utils._get_sqlalchemy_store

    def dies_half_way(uri: str, artifact_uri: object) -> object:
        Path(uri.removeprefix("sqlite:///")).write_bytes(b"SQLite format 3\x00 partial")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(utils, "_get_sqlalchemy_store", dies_half_way)
    with pytest.raises(SslctlError, match="No space left"):
        ensure_store(_uri(tmp_path))
    assert not (tmp_path / "mlflow.db").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["mlflow.db.lock"]
    monkeypatch.setattr(utils, "_get_sqlalchemy_store", real)
    tracker = Tracker(_uri(tmp_path))
    assert tracker.experiment_id("x") == tracker.experiment_id("x")


def test_half_migrated_store_says_how_to_recover(tmp_path: Path) -> None:
    """A store left half-migrated (by an older sslctl or another tool) is an error that
    names the file and says to move it aside, not an alembic traceback."""
    db = tmp_path / "mlflow.db"
    with sqlite3.connect(db) as con:
        con.execute("CREATE TABLE experiments (experiment_id INTEGER PRIMARY KEY, name TEXT)")
        con.execute("CREATE TABLE _alembic_tmp_tags (key TEXT)")
    from sslctl.tracking import Tracker

    with pytest.raises(SslctlError) as info:
        Tracker(_uri(tmp_path))
    message = str(info.value)
    assert str(db) in message and "mv " in message and "half-created" in message


def test_recipe_lock_names_the_holder(tmp_path: Path) -> None:
    """While one holder runs a recipe, a second try fails at once naming pid and host."""
    lock = tmp_path / "abc.lock"
    with recipe_lock(lock, "abc"):
        with pytest.raises(RecipeBusy) as info, recipe_lock(lock, "abc"):
            pass
        assert f"pid {os.getpid()}" in str(info.value)
        assert info.value.exit_code == 3
    with recipe_lock(lock, "abc"):  # released: free again
        pass


def _popen(workdir: Path, *args: str) -> subprocess.Popen:
    env = cli_env(workdir)
    env["OMP_NUM_THREADS"] = "1"
    return subprocess.Popen(
        sslctl_cmd(*args),
        cwd=workdir,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _runs(workdir: Path, experiment: str) -> list:
    from sslctl.tracking import Tracker

    tracker = Tracker(_uri(workdir))
    exp = tracker.client.get_experiment_by_name(experiment)
    return [] if exp is None else tracker.client.search_runs([exp.experiment_id])


@pytest.mark.slow
def test_eight_simultaneous_first_runs(tmp_path: Path) -> None:
    """Eight `sslctl pretrain` started at once in a fresh folder (one new store, one new
    experiment): 8 finished runs, 0 errors (before the store lock: all 8 failed with
    alembic errors and left a half-migrated store)."""
    recipe = str(RECIPES / "vicreg.yaml")
    sets = [a for s in LEAN for a in ("--set", s)]
    procs = [
        _popen(tmp_path, "pretrain", recipe, *sets, "--set", f"seed={seed}") for seed in range(8)
    ]
    outs = [p.communicate(timeout=timeout_s(300)) for p in procs]
    failed = [(p.returncode, err[-2000:]) for p, (_, err) in zip(procs, outs, strict=True)]
    assert all(code == 0 for code, _ in failed), failed
    runs = _runs(tmp_path, "quickstart")
    assert len(runs) == 8
    assert {r.info.status for r in runs} == {"FINISHED"}
    assert sorted(int(r.data.tags["sslctl.seed"]) for r in runs) == list(range(8))


@pytest.mark.slow
def test_same_recipe_twice(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The same recipe while another process runs it: exit 3 naming pid, host and MLflow
    run, nothing created; with --wait it waits for the holder and then runs (here it is
    the one to train, as the holder was this test and trained nothing)."""
    import socket

    from sslctl.paths import recipe_lock as lock_file
    from sslctl.recipe import load_recipe, recipe_hash
    from sslctl.tracking import Tracker
    from sslctl.vocabulary import Tag

    recipe = str(RECIPES / "vicreg.yaml")
    tiny = LEAN
    sets = [a for s in tiny for a in ("--set", s)]
    rhash = recipe_hash(load_recipe(recipe, tiny))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SSLCTL_HOME", str(tmp_path / ".sslctl"))
    lock = lock_file(rhash)
    tracker = Tracker(_uri(tmp_path))
    holder_run = tracker.create(
        tracker.experiment_id("quickstart"), "holder", {Tag.RECIPE_HASH: rhash}
    )
    with recipe_lock(lock, rhash):
        second = _popen(tmp_path, "pretrain", recipe, *sets)
        _, err = second.communicate(timeout=timeout_s(120))
        assert second.returncode == 3, err
        assert "already running" in err and f"pid {os.getpid()}" in err
        assert socket.gethostname() in err and holder_run in err
        assert [r.info.run_id for r in _runs(tmp_path, "quickstart")] == [holder_run]
        waiter = _popen(tmp_path, "pretrain", recipe, *sets, "--wait")
        time.sleep(15)
        assert waiter.poll() is None  # still waiting for the lock
    tracker.finish(holder_run, "KILLED")
    out, err = waiter.communicate(timeout=timeout_s(300))
    assert waiter.returncode == 0, err
    assert "waiting" in out
    finished = [r for r in _runs(tmp_path, "quickstart") if r.info.status == "FINISHED"]
    assert len(finished) == 1
