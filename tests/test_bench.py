"""`sslctl bench` prints figures and writes them as JSON (no assertion on their values)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import run_sslctl


def test_bench_writes_figures_with_machine_info(tmp_path: Path) -> None:
    """Two quick sections produce a table and a JSON file with machine info and figures."""
    out = tmp_path / "bench.json"
    run = run_sslctl(
        tmp_path,
        "bench",
        "--section",
        "whitening",
        "--section",
        "augment",
        "--quick",
        "--out",
        str(out),
        timeout=600,
    )
    assert run.returncode == 0, run.stderr
    data = json.loads(out.read_text())
    assert data["machine"]["cores"] >= 1
    names = {f["name"] for f in data["figures"]}
    assert "batched two-view augmentation" in names
    assert any(n.startswith("cholesky") for n in names)
    assert all(f["value"] > 0 for f in data["figures"])


def test_unknown_section_exits_2(tmp_path: Path) -> None:
    """A section name that does not exist is a usage error (exit 2) naming the choices."""
    run = run_sslctl(tmp_path, "bench", "--section", "nope", timeout=60)
    assert run.returncode == 2 and "augment" in run.stderr
