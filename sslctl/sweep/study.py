"""The Optuna side of a sweep: storage, the study (created once, before any worker),
grid points enqueued up front, budget accounting and detection of trials left RUNNING by
a killed worker (heartbeats written as trial user attributes)."""

from __future__ import annotations

import hashlib
import json
import os
import socket
import threading
import time
from pathlib import Path
from typing import Any

import optuna

from sslctl.errors import SslctlError
from sslctl.locks import process_alive
from sslctl.paths import sweeps_folder
from sslctl.sweep.spec import Choices, Range, SweepSpec

HEARTBEAT_S = 10.0
STALE_AFTER_S = 120.0
optuna.logging.set_verbosity(optuna.logging.WARNING)


def default_storage(spec: SweepSpec) -> str:
    """A journal file next to the MLflow store: ``<store dir>/sweeps/<name>.journal``."""
    from sslctl.tracking import tracking_uri

    return str(sweeps_folder(tracking_uri()) / f"{spec.name}.journal")


def check_storage(url: str) -> None:
    """A ``--storage`` given by the user: refuse one that cannot be opened (unknown URL
    scheme or driver, a folder that does not exist) before anything is created."""
    if "://" not in url:
        folder = Path(url).parent
        if not folder.is_dir():
            raise SslctlError(f"--storage {url!r}: folder {folder} does not exist")
        return
    from sqlalchemy.engine import make_url

    try:
        parsed = make_url(url)
        parsed.get_dialect()
    except Exception as err:
        raise SslctlError(
            f"--storage {url!r}: not a usable SQL URL ({type(err).__name__}: {err}); "
            "expected a journal file path or a URL such as sqlite:///sweeps.db"
        ) from None
    if parsed.get_backend_name() == "sqlite" and parsed.database:
        folder = Path(parsed.database).parent
        if not folder.is_dir():
            raise SslctlError(f"--storage {url!r}: folder {folder} does not exist")


def open_storage(url: str) -> optuna.storages.BaseStorage:
    """A SQL URL gives an RDB storage; anything else is a journal file path."""
    if "://" in url:
        try:
            return optuna.storages.RDBStorage(url)
        except Exception as err:  # server down, bad credentials, bad driver
            raise SslctlError(f"--storage {url!r}: cannot open: {err}") from None
    from optuna.storages.journal import JournalFileBackend

    Path(url).parent.mkdir(parents=True, exist_ok=True)
    return optuna.storages.JournalStorage(JournalFileBackend(url))


def study_name(spec: SweepSpec) -> str:
    """Name plus a hash of what the sweep computes, so an edited sweep is a new study."""
    data = spec.model_dump(
        mode="json", exclude={"workers", "path", "launcher", "array_parallelism"}
    )
    digest = hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:8]
    return f"{spec.name}-{digest}"


def _sampler(spec: SweepSpec, seed: int = 0) -> optuna.samplers.BaseSampler:
    if spec.sampler == "tpe":
        return optuna.samplers.TPESampler(seed=seed, n_startup_trials=min(5, spec.trials or 5))
    return optuna.samplers.RandomSampler(seed=seed)


def _pruner(spec: SweepSpec) -> optuna.pruners.BasePruner:
    if spec.pruner == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=1)
    if spec.pruner == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=spec.probe_every)
    return optuna.pruners.NopPruner()


def create_or_load(
    spec: SweepSpec, storage: optuna.storages.BaseStorage, seed: int = 0
) -> optuna.Study:
    """Open the sweep's study, creating it and enqueueing the grid exactly once."""
    name = study_name(spec)
    study = optuna.create_study(
        study_name=name,
        storage=storage,
        sampler=_sampler(spec, seed),
        pruner=_pruner(spec),
        direction=spec.objective.direction,
        load_if_exists=True,
    )
    if "budget" not in study.user_attrs:  # for `sslctl status`, which has no sweep file
        study.set_user_attr("budget", len(spec.grid()) if spec.sampler == "grid" else spec.trials)
        study.set_user_attr("objective", spec.objective.metric)
    if spec.sampler == "grid" and not study.user_attrs.get("grid_enqueued"):
        for point in spec.grid():
            study.enqueue_trial(encode(point), skip_if_exists=True)
        study.set_user_attr("grid_enqueued", True)
    return study


def encode(point: dict[str, Any]) -> dict[str, Any]:
    """Optuna parameters are scalars: lists and mappings are stored as JSON strings."""
    return {
        k: v if isinstance(v, (int, float, str, bool)) or v is None else json.dumps(v)
        for k, v in point.items()
    }


def suggest(trial: optuna.Trial, spec: SweepSpec) -> dict[str, Any]:
    """The trial's point: fixed when enqueued (grid, retries), else sampled."""
    point: dict[str, Any] = {}
    for key, dim in spec.space.items():
        if isinstance(dim, Range):
            step = dim.step
            if dim.type == "int":
                point[key] = trial.suggest_int(
                    key, int(dim.low), int(dim.high), step=int(step or 1), log=dim.log
                )
            else:
                point[key] = trial.suggest_float(key, dim.low, dim.high, step=step, log=dim.log)
            continue
        values = dim.choices if isinstance(dim, Choices) else dim
        encoded = list(encode({str(i): v for i, v in enumerate(values)}).values())
        chosen = trial.suggest_categorical(key, encoded)
        point[key] = values[encoded.index(chosen)]
    return point


def start_heartbeat(trial: optuna.Trial) -> threading.Event:
    """Record this worker on the trial and refresh a heartbeat until the event is set."""
    stop = threading.Event()
    trial.set_user_attr("worker", f"{socket.gethostname()}:{os.getpid()}")

    def beat() -> None:
        while not stop.is_set():
            try:
                trial.set_user_attr("heartbeat", time.time())
            except Exception:  # the trial finished meanwhile
                return
            stop.wait(HEARTBEAT_S)

    threading.Thread(target=beat, daemon=True).start()
    return stop


def _worker_dead(attrs: dict[str, Any], now: float) -> bool:
    host, _, pid = str(attrs.get("worker", "")).rpartition(":")
    if host == socket.gethostname() and pid.isdigit() and not process_alive(int(pid)):
        return True
    return now - float(attrs.get("heartbeat", 0.0)) > STALE_AFTER_S


def reap_stale(study: optuna.Study) -> list[int]:
    """Mark trials whose worker died as failed and enqueue their point again."""
    reaped = []
    now = time.time()
    for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
        if not _worker_dead(t.user_attrs, now):
            continue
        study._storage.set_trial_user_attr(t._trial_id, "stale", True)
        study.tell(t.number, state=optuna.trial.TrialState.FAIL)
        study.enqueue_trial(
            dict(t.params) or t.system_attrs.get("fixed_params", {}),
            user_attrs={"retry_of": t.number},
        )
        reaped.append(t.number)
    return reaped


def counted(study: optuna.Study) -> list[optuna.trial.FrozenTrial]:
    """Trials that count towards the budget (stale, re-run ones do not)."""
    return [t for t in study.get_trials(deepcopy=False) if not t.user_attrs.get("stale")]


def remaining(spec: SweepSpec, study: optuna.Study) -> int:
    """Trials still to run: queued or running grid points, or the unspent budget."""
    states = optuna.trial.TrialState
    trials = counted(study)
    if spec.sampler == "grid":
        return sum(t.state in (states.WAITING, states.RUNNING) for t in trials)
    started = sum(t.state != states.WAITING for t in trials)
    return max(0, (spec.trials or 0) - started)
