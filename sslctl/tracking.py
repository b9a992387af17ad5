"""MLflow tracking: one run per pipeline (recipe x seed), found again by the recipe hash.

The tracking URI is ``MLFLOW_TRACKING_URI`` or, as MLflow itself defaults,
``sqlite:///mlflow.db`` in the working directory, so ``mlflow ui`` started there shows
every run. All access goes through :class:`mlflow.MlflowClient` with explicit run ids
(no global "active run"), so a process can hold several runs (sweeps) safely.
"""

from __future__ import annotations

import logging
import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

TAG = "sslctl."
HASH_TAG = "sslctl.recipe_hash"
STATUS_TAG = "sslctl.status"  # running | complete | failed | interrupted


def tracking_uri() -> str:
    """``MLFLOW_TRACKING_URI`` or ``sqlite:///<cwd>/mlflow.db``."""
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{Path.cwd() / 'mlflow.db'}"


def mlflow_ui_hint(uri: str) -> str:
    """The command that opens this store in a browser."""
    if uri.startswith(("http://", "https://")):
        return f"open {uri}"
    return f"mlflow ui --backend-store-uri {uri}"


def git_state(where: Path | None = None) -> dict[str, str]:
    """Commit and dirty flag of the git work tree at ``where`` (empty outside git)."""
    cwd = str(where or Path.cwd())
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, timeout=10
        )
        if commit.returncode != 0:
            return {}
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.TimeoutExpired):
        return {}
    return {"git_commit": commit.stdout.strip(), "git_dirty": str(bool(dirty.stdout.strip()))}


@dataclass
class RunRef:
    """A found MLflow run, summarised."""

    run_id: str
    experiment_id: str
    status: str  # MLflow status: RUNNING, FINISHED, FAILED, KILLED
    tags: dict[str, str]
    metrics: dict[str, float]

    @property
    def complete(self) -> bool:
        return self.status == "FINISHED" and self.tags.get(STATUS_TAG) == "complete"


class Tracker:
    """Thin wrapper over :class:`mlflow.MlflowClient` for sslctl's conventions."""

    def __init__(self, uri: str | None = None) -> None:
        from mlflow import MlflowClient

        for name in ("alembic", "mlflow", "mlflow.store.db.utils"):
            logging.getLogger(name).setLevel(logging.WARNING)

        self.uri = uri or tracking_uri()
        self.client = MlflowClient(tracking_uri=self.uri)

    def experiment_id(self, name: str) -> str:
        """Id of the experiment ``name``, created when missing."""
        exp = self.client.get_experiment_by_name(name)
        if exp is not None:
            if exp.lifecycle_stage == "deleted":
                self.client.restore_experiment(exp.experiment_id)
            return exp.experiment_id
        return self.client.create_experiment(name)

    def find(self, experiment: str, recipe_hash: str) -> list[RunRef]:
        """Runs of ``experiment`` with this recipe hash, newest first."""
        exp = self.client.get_experiment_by_name(experiment)
        if exp is None:
            return []
        runs = self.client.search_runs(
            [exp.experiment_id],
            filter_string=f"tags.`{HASH_TAG}` = '{recipe_hash}'",
            order_by=["attributes.start_time DESC"],
        )
        return [self._ref(r) for r in runs]

    def get(self, run_id: str) -> RunRef:
        return self._ref(self.client.get_run(run_id))

    @staticmethod
    def _ref(run: Any) -> RunRef:
        return RunRef(
            run.info.run_id,
            run.info.experiment_id,
            run.info.status,
            dict(run.data.tags),
            dict(run.data.metrics),
        )

    def create(self, experiment_id: str, name: str, tags: dict[str, str]) -> str:
        run = self.client.create_run(experiment_id, run_name=name, tags=tags)
        return run.info.run_id

    def reopen(self, run_id: str) -> None:
        """Mark a previously interrupted run as running again."""
        self.client.update_run(run_id, status="RUNNING")

    def finish(self, run_id: str, status: str) -> None:
        """``status``: FINISHED, FAILED or KILLED."""
        self.client.set_terminated(run_id, status=status, end_time=int(time.time() * 1000))

    def set_tags(self, run_id: str, tags: dict[str, str]) -> None:
        from mlflow.entities import RunTag

        self.client.log_batch(run_id, tags=[RunTag(k, str(v)) for k, v in tags.items()])

    def log_params(self, run_id: str, params: dict[str, Any]) -> None:
        from mlflow.entities import Param

        items = [Param(k, _param_value(v)) for k, v in params.items()]
        for start in range(0, len(items), 100):
            self.client.log_batch(run_id, params=items[start : start + 100])

    def log_metrics(self, run_id: str, metrics: dict[str, float], step: int = 0) -> None:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        items = [Metric(k, float(v), now, step) for k, v in metrics.items()]
        for start in range(0, len(items), 1000):
            self.client.log_batch(run_id, metrics=items[start : start + 1000])

    def log_artifact(self, run_id: str, path: Path, folder: str | None = None) -> None:
        self.client.log_artifact(run_id, str(path), folder)

    def log_text(self, run_id: str, text: str, name: str) -> None:
        self.client.log_text(run_id, text, name)

    def metric_history(self, run_id: str, key: str) -> list[tuple[int, float]]:
        return [(m.step, m.value) for m in self.client.get_metric_history(run_id, key)]


def _param_value(value: Any) -> str:
    text = str(value)
    return text if len(text) <= 6000 else text[:5997] + "..."
