"""One real MLflow store shared by the report tests (built once, read-only after)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sslctl.report.query import RunRow, load_runs
from tests.report.store import build_store


@pytest.fixture(scope="session")
def store(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """(folder holding mlflow.db, tracking URI)."""
    folder = tmp_path_factory.mktemp("report-store")
    return folder, build_store(folder)


@pytest.fixture(scope="session")
def runs(store: tuple[Path, str]) -> list[RunRow]:
    return load_runs(store[1]).runs
