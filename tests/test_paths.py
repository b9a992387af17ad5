"""Where sslctl keeps things is worked out in sslctl/paths.py alone."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

import sslctl
from sslctl import paths

PACKAGE = Path(sslctl.__file__).parent


def test_home_is_sslctl_home_resolved(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SSLCTL_HOME", "rel/home")
    assert paths.home() == tmp_path / "rel" / "home"
    monkeypatch.delenv("SSLCTL_HOME")
    assert paths.home() == tmp_path / ".sslctl"
    assert paths.run_folder("abc") == tmp_path / ".sslctl" / "runs" / "abc"
    assert paths.recipe_lock("abc") == tmp_path / ".sslctl" / "runs" / "abc.lock"
    assert paths.job_folder("12_3") == tmp_path / ".sslctl" / "slurm" / "12_3"
    assert str(paths.slurm_folder()).replace("%j", "12_3") == str(paths.job_folder("12_3"))


def test_sweeps_live_beside_a_sqlite_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert paths.sweeps_folder("sqlite:////data/x/mlflow.db") == Path("/data/x/sweeps")
    assert paths.sweeps_folder("http://127.0.0.1:5000") == tmp_path / "sweeps"
    assert paths.sweep_logs("w", "/data/x/sweeps/w.journal") == Path("/data/x/sweeps/w")
    assert paths.sweep_logs("w", "postgresql://h/db") == paths.home() / "sweeps" / "w"


def test_sqlite_uri_forms() -> None:
    """Relative, absolute and query-string sqlite URIs name the right file; others none."""
    assert str(paths.sqlite_path("sqlite:///mlflow.db")) == "mlflow.db"
    assert str(paths.sqlite_path("sqlite:////abs/m.db?timeout=5")) == "/abs/m.db"
    assert paths.sqlite_path("http://localhost:5000") is None
    assert paths.sqlite_path("sqlite:///:memory:") is None


def test_a_checkpoint_folder_belongs_to_the_run_its_binding_names(tmp_path: Path) -> None:
    assert not paths.belongs_to(tmp_path, "r1")  # no binding
    (tmp_path / paths.BINDING).write_text(json.dumps({"run_id": "r1", "source": "x"}))
    assert paths.belongs_to(tmp_path, "r1")
    assert not paths.belongs_to(tmp_path, "r2")
    (tmp_path / paths.BINDING).write_text("[not an object")
    assert not paths.belongs_to(tmp_path, "r1")


def test_only_the_paths_module_reads_sslctl_home() -> None:
    reading = re.compile(
        r"(environ\.get\(|getenv\()\s*[\"']SSLCTL_HOME|environ\[[\"']SSLCTL_HOME[\"']\](?!\s*=)"
    )
    readers = [
        str(p.relative_to(PACKAGE)) for p in PACKAGE.rglob("*.py") if reading.search(p.read_text())
    ]
    assert readers == ["paths.py"]
