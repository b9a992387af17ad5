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
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sslctl.errors import SslctlError
from sslctl.paths import sqlite_path
from sslctl.vocabulary import StageState, Tag, check_tags, is_complete, stage_states, stage_tag


def tracking_uri() -> str:
    """``MLFLOW_TRACKING_URI`` or ``sqlite:///<cwd>/mlflow.db``."""
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{Path.cwd() / 'mlflow.db'}"


def mlflow_ui_hint(uri: str) -> str:
    """The command that opens this store in a browser."""
    if uri.startswith(("http://", "https://")):
        return f"open {uri}"
    return f"mlflow ui --backend-store-uri {uri}"


def git_state(where: Path | None = None) -> dict[str, str]:
    """Commit and dirty flag of the git work tree at ``where`` as run tags (empty outside
    git)."""
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
    return {Tag.GIT_COMMIT: commit.stdout.strip(), Tag.GIT_DIRTY: str(bool(dirty.stdout.strip()))}


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
        return is_complete(self.status, self.tags)


def tag_equals(key: str, value: str) -> str:
    """An MLflow filter ``tags.`key` = 'value'`` built with quoting, not by pasting a user
    value into the string: a value holding a single quote is double-quoted; one holding
    both quote characters (or a key holding a backtick) cannot be written and is refused."""
    if "`" in key:
        raise SslctlError(f"tag name {key!r}: a backtick cannot be used in an MLflow filter")
    if "'" not in value:
        return f"tags.`{key}` = '{value}'"
    if '"' not in value:
        return f'tags.`{key}` = "{value}"'
    raise SslctlError(f"{value!r}: both quote characters; cannot be searched in MLflow")


def store_lock(db: Path) -> Path:
    """The lock file beside a sqlite store that serialises its creation and the creation
    of experiments in it (``mlflow.db`` -> ``mlflow.db.lock``)."""
    return db.with_name(db.name + ".lock")


def ensure_store(uri: str) -> None:
    """Create a missing sqlite store once, even when many processes start at once: under
    the lock beside it, the schema is built in a temporary file that is renamed into
    place, so a crash (kill -9, full disk) never leaves a half-migrated ``mlflow.db``."""
    db = sqlite_path(uri)
    if db is None or (db.is_file() and db.stat().st_size > 0):
        return
    try:
        db.parent.mkdir(parents=True, exist_ok=True)  # as MLflow itself does for sqlite
    except OSError as err:
        raise SslctlError(f"MLflow store {uri}: cannot create folder {db.parent}: {err}") from None
    from sslctl.locks import file_lock

    with file_lock(store_lock(db)):
        if db.is_file() and db.stat().st_size > 0:
            return  # another process created it while this one waited
        tmp = db.with_name(f".{db.name}.creating-{os.getpid()}")
        try:
            from mlflow.tracking._tracking_service.utils import _get_sqlalchemy_store

            _get_sqlalchemy_store(f"sqlite:///{tmp}", None).engine.dispose()
            os.replace(tmp, db)
        except Exception as err:  # full disk, read-only folder (OSError or sqlite's own)
            first = (str(err).strip().splitlines() or [type(err).__name__])[0][:300]
            raise SslctlError(f"MLflow store {db}: could not be created: {first}") from None
        finally:
            tmp.unlink(missing_ok=True)


def _open_client(uri: str) -> Any:
    """An MlflowClient on ``uri`` (which opens the store); a store that cannot be opened
    is a :class:`SslctlError` saying how to recover."""
    from mlflow import MlflowClient

    ensure_store(uri)
    try:
        return MlflowClient(tracking_uri=uri)
    except Exception as err:
        first = str(err).strip().splitlines()[0][:300] if str(err).strip() else type(err).__name__
        db = sqlite_path(uri)
        hint = (
            f"; it looks half-created (an interrupted or concurrent first use by an older "
            f"sslctl or another tool): move it aside (mv {db} {db}.broken) and run again for a "
            f"fresh store, or try `mlflow db upgrade {uri}` if it holds runs you need"
            if db is not None
            else ""
        )
        raise SslctlError(f"cannot open the MLflow store {uri}: {first}{hint}") from None


class Tracker:
    """Thin wrapper over :class:`mlflow.MlflowClient` for sslctl's conventions."""

    def __init__(self, uri: str | None = None) -> None:
        for name in ("alembic", "mlflow", "mlflow.store.db.utils"):
            logging.getLogger(name).setLevel(logging.WARNING)

        self.uri = uri or tracking_uri()
        self.client = _open_client(self.uri)

    def experiment_id(self, name: str) -> str:
        """Id of the experiment ``name``, created when missing. Creation is serialised
        (the store's lock file) and "already exists" from a racing process is success."""
        from mlflow.exceptions import MlflowException

        exp = self.client.get_experiment_by_name(name)
        if exp is None:
            db = sqlite_path(self.uri)
            from sslctl.locks import file_lock

            with file_lock(store_lock(db)) if db is not None else nullcontext():
                exp = self.client.get_experiment_by_name(name)
                if exp is None:
                    try:
                        return self.client.create_experiment(name)
                    except MlflowException as err:
                        if err.error_code != "RESOURCE_ALREADY_EXISTS":
                            raise
                    exp = self.client.get_experiment_by_name(name)
        if exp.lifecycle_stage == "deleted":
            self.client.restore_experiment(exp.experiment_id)
        return exp.experiment_id

    def find(self, experiment: str, recipe_hash: str) -> list[RunRef]:
        """Runs of ``experiment`` with this recipe hash, newest first."""
        exp = self.client.get_experiment_by_name(experiment)
        if exp is None:
            return []
        runs = self.client.search_runs(
            [exp.experiment_id],
            filter_string=tag_equals(Tag.RECIPE_HASH, recipe_hash),
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
        check_tags(tags)
        run = self.client.create_run(experiment_id, run_name=name, tags=tags)
        return run.info.run_id

    def reopen(self, run_id: str) -> None:
        """Mark a previously interrupted run as running again."""
        self.client.update_run(run_id, status="RUNNING")

    def finish(self, run_id: str, status: str) -> None:
        """``status``: FINISHED, FAILED or KILLED."""
        self.client.set_terminated(run_id, status=status, end_time=int(time.time() * 1000))

    def set_tags(self, run_id: str, tags: dict[str, str]) -> None:
        """Set tags; a status or stage state outside :mod:`sslctl.vocabulary` is refused."""
        from mlflow.entities import RunTag

        check_tags(tags)
        self.client.log_batch(run_id, tags=[RunTag(k, str(v)) for k, v in tags.items()])

    def delete_tag(self, run_id: str, key: str) -> None:
        """Remove ``key`` from the run's tags if it is there."""
        if key in self.get(run_id).tags:
            self.client.delete_tag(run_id, key)

    def close_stages(self, run_id: str, status: str) -> None:
        """Stages tagged ``running`` get ``status`` (failed, interrupted, pruned), so no
        stage of a stopped run looks alive."""
        states = stage_states(self.get(run_id).tags)
        busy = {stage_tag(s): status for s, v in states.items() if v == StageState.RUNNING}
        if busy:
            self.set_tags(run_id, busy)

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
