"""Reading runs back from MLflow, fast.

For ``sqlite:`` stores (MLflow's default, and sslctl's) the runs are read with one SQL
query per table of MLflow's own schema (``experiments``, ``runs``, ``params``, ``tags``,
``latest_metrics``) inside one read transaction, which is 20-30x faster than
``MlflowClient.search_runs`` on thousands of runs. Any other tracking URI (an MLflow
server, a database other than sqlite) goes through :class:`mlflow.MlflowClient` with
``search_runs`` pagination; so does a sqlite store whose schema is not the one expected.
"""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sslctl.errors import SslctlError
from sslctl.paths import sqlite_path
from sslctl.vocabulary import Tag, is_complete

SPECIAL_FIELDS = ("run_id", "experiment", "status", "health")


@dataclass
class RunRow:
    """One MLflow run, flattened: params (the resolved recipe), tags, latest metrics."""

    run_id: str
    experiment: str
    status: str  # MLflow status: FINISHED, FAILED, KILLED, RUNNING, SCHEDULED
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)

    @property
    def state(self) -> str:
        """sslctl's own status (``complete``, ``failed``, ``running``, ``interrupted``,
        ``pruned``, ``superseded``), else MLflow's in lower case."""
        return self.tags.get(Tag.STATUS) or self.status.lower()

    @property
    def complete(self) -> bool:
        return is_complete(self.status, self.tags)

    @property
    def health(self) -> str:
        """``ok``, ``not trained`` (see :mod:`sslctl.evals.health`) or ``unchecked``."""
        return self.tags.get(Tag.HEALTH, "unchecked").split(":", 1)[0]

    @property
    def health_reason(self) -> str:
        """Why the run was flagged (empty when it trained or was not checked)."""
        return self.tags.get(Tag.HEALTH, "").partition(": ")[2]

    def field(self, name: str) -> str | None:
        """A recipe field (param), ``tags.<name>``, ``run_id``, ``experiment``, ``status``,
        or a metric (as text) when ``name`` is a logged metric key."""
        if name.startswith("tags."):
            return self.tags.get(name[5:])
        if name in SPECIAL_FIELDS:
            return self.state if name == "status" else str(getattr(self, name))
        if name in self.params:
            return self.params[name]
        value = self.metrics.get(name)
        return None if value is None else repr(value)


# Given the runs (params and tags read), which metric keys to read. A report needs a
# handful of the hundreds of keys a run logs; reading only those halves the read time.
MetricChoice = Callable[[list[RunRow]], Callable[[str], bool]]


@dataclass
class Store:
    runs: list[RunRow]
    metric_names: list[str]  # every metric key logged in the store, read or not


def load_runs(uri: str, choose: MetricChoice | None = None) -> Store:
    """Every active run of every active experiment in the store at ``uri``, with the
    latest value of each metric ``choose`` keeps (all by default)."""
    path = sqlite_path(uri)
    if path is not None:
        if not path.is_file():
            raise SslctlError(
                f"no MLflow store at {path}: run `sslctl pretrain` first, or point "
                "MLFLOW_TRACKING_URI at the store"
            )
        try:
            return read_sqlite(path, choose)
        except sqlite3.DatabaseError:
            pass  # not the schema we know (older or newer MLflow): let MLflow read it
    return read_client(uri, choose=choose)


def read_sqlite(path: Path, choose: MetricChoice | None = None) -> Store:
    """The runs, straight from MLflow's tables (read-only, one consistent snapshot)."""
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None)
    try:
        con.execute("BEGIN")
        names = dict(
            con.execute(
                "SELECT experiment_id, name FROM experiments WHERE lifecycle_stage = 'active'"
            )
        )
        rows = {
            run_id: RunRow(run_id, names[exp], status)
            for run_id, exp, status in con.execute(
                "SELECT run_uuid, experiment_id, status FROM runs WHERE lifecycle_stage = 'active'"
            )
            if exp in names
        }
        for key, value, run_id in con.execute("SELECT key, value, run_uuid FROM params"):
            if run_id in rows:
                rows[run_id].params[key] = value
        for key, value, run_id in con.execute("SELECT key, value, run_uuid FROM tags"):
            if run_id in rows:
                rows[run_id].tags[key] = value
        names = [k for (k,) in con.execute("SELECT DISTINCT key FROM latest_metrics")]
        keep = choose(list(rows.values())) if choose else None
        wanted = [k for k in names if keep is None or keep(k)]
        query = "SELECT key, value, is_nan, run_uuid FROM latest_metrics"
        if len(wanted) == len(names):
            batches: list[list[str]] = [[]]  # everything: one scan, no IN list
        else:
            batches = [wanted[i : i + 500] for i in range(0, len(wanted), 500)]
        for batch in batches:
            where = f" WHERE key IN ({', '.join('?' * len(batch))})" if batch else ""
            for key, value, is_nan, run_id in con.execute(query + where, batch):
                if run_id in rows:
                    rows[run_id].metrics[key] = math.nan if is_nan else float(value)
        con.execute("COMMIT")
    finally:
        con.close()
    return Store(list(rows.values()), sorted(names))


def read_client(uri: str, page_size: int = 5000, choose: MetricChoice | None = None) -> Store:
    """The runs through MLflow's client, page by page (metrics chosen after reading)."""
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    names = {e.experiment_id: e.name for e in client.search_experiments()}
    out: list[RunRow] = []
    token = None
    while names:
        page = client.search_runs(list(names), max_results=page_size, page_token=token)
        out += [
            RunRow(
                r.info.run_id,
                names[r.info.experiment_id],
                r.info.status,
                dict(r.data.params),
                dict(r.data.tags),
                dict(r.data.metrics),
            )
            for r in page
        ]
        token = page.token
        if not token:
            break
    logged = sorted({k for r in out for k in r.metrics})
    if choose is not None:
        keep = choose(out)
        for r in out:
            r.metrics = {k: v for k, v in r.metrics.items() if keep(k)}
    return Store(out, logged)
