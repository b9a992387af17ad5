"""`sslctl bench` prints figures and writes them as JSON (no assertion on their values)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tests.conftest import cli_env, sslctl_cmd


def test_bench_writes_figures_with_machine_info(tmp_path: Path) -> None:
    """Two quick sections produce a table and a JSON file with machine info and figures."""
    out = tmp_path / "bench.json"
    run = subprocess.run(
        sslctl_cmd(
            "bench", "--section", "whitening", "--section", "augment", "--quick", "--out", str(out)
        ),
        cwd=tmp_path,
        env=cli_env(tmp_path),
        capture_output=True,
        text=True,
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
    run = subprocess.run(
        sslctl_cmd("bench", "--section", "nope"),
        cwd=tmp_path,
        env=cli_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 2 and "augment" in run.stderr
