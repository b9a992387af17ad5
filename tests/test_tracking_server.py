"""The pipeline against a real MLflow tracking server (``mlflow server`` on 127.0.0.1,
sqlite backend, proxied artifact store), as on a shared lab server: metrics, artifacts,
recognising a finished recipe, reports, and nothing logged for a bad recipe."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import LEAN, RECIPES, TINY, sslctl_cmd, timeout_s

pytestmark = pytest.mark.slow

SETS = LEAN
# trained enough (TINY's 2 epochs, 5 linear epochs) for the sweep's health check to call
# the trials complete rather than "not trained"
SWEEP_SETS = [
    *TINY,
    "eval.baselines=false",
    "eval.knn.enabled=false",
    "eval.independence.enabled=false",
    "eval.ood.datasets=[digits]",
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``mlflow server`` with one worker and no job runner, stopped after the module."""
    root = tmp_path_factory.mktemp("mlflow-server")
    port = _free_port()
    env = dict(os.environ, MLFLOW_SERVER_ENABLE_JOB_EXECUTION="false")
    log = (root / "server.log").open("w")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mlflow",
            "server",
            "--backend-store-uri",
            f"sqlite:///{root / 'server.db'}",
            "--artifacts-destination",
            str(root / "artifacts"),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    uri = f"http://127.0.0.1:{port}"
    try:
        for _ in range(240):
            try:
                with urllib.request.urlopen(f"{uri}/health", timeout=2) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                if proc.poll() is not None:
                    pytest.fail(f"mlflow server exited: {(root / 'server.log').read_text()}")
                time.sleep(0.5)
        else:
            pytest.fail("mlflow server did not answer /health within 120 s")
        yield uri
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()


def _sslctl(cwd: Path, uri: str, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, MLFLOW_TRACKING_URI=uri, SSLCTL_HOME=str(cwd / ".sslctl"))
    return subprocess.run(
        sslctl_cmd(*args),
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout_s(300),
    )


def _pretrain(cwd: Path, uri: str, *sets: str) -> subprocess.CompletedProcess:
    args = [a for s in [*SETS, *sets] for a in ("--set", s)]
    return _sslctl(cwd, uri, "pretrain", str(RECIPES / "vicreg.yaml"), *args)


def _runs(uri: str) -> list:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(uri)
    experiments = [e.experiment_id for e in client.search_experiments()]
    return client.search_runs(experiments) if experiments else []


def test_pipeline_logs_to_a_tracking_server(server: str, tmp_path: Path) -> None:
    """A run on the server has the metrics, the resolved recipe and the checkpoint as
    artifacts (through the server's artifact proxy); the same recipe again is recognised
    (no new run); `sslctl report` reads the server; no local mlflow.db appears."""
    from mlflow.tracking import MlflowClient

    first = _pretrain(tmp_path, server)
    assert first.returncode == 0, first.stdout + first.stderr
    assert f"look next: open {server}" in first.stdout
    [run] = _runs(server)
    assert run.info.status == "FINISHED"
    assert {"pretrain/loss", "linear/top1", "ood/digits/top1"} <= set(run.data.metrics)
    client = MlflowClient(server)
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert "recipe.yaml" in artifacts and "checkpoints" in artifacts
    local = client.download_artifacts(run.info.run_id, "checkpoints/model.pt", str(tmp_path))
    import torch

    weights = torch.load(local, weights_only=True)
    assert "backbone" in weights and "projector" in weights

    again = _pretrain(tmp_path, server)
    assert again.returncode == 0 and "already finished" in again.stdout
    assert len(_runs(server)) == 1

    report = _sslctl(tmp_path, server, "report", "--format", "json")
    assert report.returncode == 0, report.stderr
    assert run.info.run_id in report.stdout
    assert json.loads(report.stdout)
    assert not (tmp_path / "mlflow.db").exists()


def test_bad_recipe_logs_nothing_on_the_server(server: str, tmp_path: Path) -> None:
    """A recipe error exits 2 naming the field and leaves no run on the server."""
    before = len(_runs(server))
    bad = _pretrain(tmp_path, server, "projector.width=-3")
    assert bad.returncode == 2
    assert "projector.width" in bad.stderr
    assert len(_runs(server)) == before


def test_sweep_workers_log_to_the_tracking_server(server: str, tmp_path: Path) -> None:
    """A 2-point grid with two worker processes: one parent run and one child run per
    point on the server, the Optuna journal beside the sweep file, the leaderboard printed."""
    sweep = tmp_path / "tiny.yaml"
    sets = ", ".join(f'"{s}"' for s in SWEEP_SETS if not s.startswith("projector.width"))
    sweep.write_text(
        f"name: server-tiny\nbase: {RECIPES / 'vicreg.yaml'}\nset: [{sets}]\n"
        "space: {projector.width: [32, 48]}\nsampler: grid\n"
        "objective: {metric: linear/top1, direction: maximize}\n"
    )
    done = _sslctl(tmp_path, server, "sweep", str(sweep), "--workers", "2")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "sweep server-tiny" in done.stdout and "complete" in done.stdout
    runs = [r for r in _runs(server) if r.data.tags.get("sslctl.sweep") == "server-tiny"]
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    assert len(parents) == 1 and len(children) == 2
    assert {r.data.tags["mlflow.parentRunId"] for r in children} == {parents[0].info.run_id}
    assert sorted(r.data.params["projector.width"] for r in children) == ["32", "48"]
    assert (tmp_path / "sweeps" / "server-tiny.journal").is_file()
