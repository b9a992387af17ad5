"""The real SLURM cluster for ``@pytest.mark.slurm`` tests: started once per session with
``scripts/slurm-local.sh start`` and stopped at the end even when tests fail (a cluster
that was already up before the session is left running). Skipped with the reason when it
cannot start (not root, no apt, daemons failing)."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator

import pytest

from tests.conftest import REPO

SCRIPT = REPO / "scripts" / "slurm-local.sh"


def _cluster_up() -> bool:
    if shutil.which("sinfo") is None:
        return False
    try:
        out = subprocess.run(
            ["sinfo", "-h", "-o", "%T"], capture_output=True, text=True, timeout=15
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return out.returncode == 0 and any(s in out.stdout for s in ("idle", "mixed", "alloc"))


@pytest.fixture(scope="session")
def slurm_cluster() -> Iterator[None]:
    """A running SLURM cluster (two nodes on this machine) with accounting (sacct)."""
    if _cluster_up():
        yield  # someone started it (make slurm-up): leave it as it was
        return
    if os.geteuid() != 0:
        pytest.skip("SLURM tests need root to start the local cluster (scripts/slurm-local.sh)")
    try:
        started = subprocess.run(
            [str(SCRIPT), "start"], capture_output=True, text=True, timeout=900
        )
    except subprocess.TimeoutExpired:
        subprocess.run([str(SCRIPT), "stop"], capture_output=True, timeout=120)
        pytest.skip("the local SLURM cluster did not start within 15 minutes")
    if started.returncode != 0 or not _cluster_up():
        subprocess.run([str(SCRIPT), "stop"], capture_output=True, timeout=120)
        tail = (started.stderr or started.stdout).strip().splitlines()[-3:]
        pytest.skip(f"the local SLURM cluster could not start: {' | '.join(tail)}")
    try:
        yield
    finally:
        subprocess.run([str(SCRIPT), "stop"], capture_output=True, timeout=180)
