"""Where sslctl keeps things on disk, stated once.

``$SSLCTL_HOME`` (default ``./.sslctl``, resolved against the working directory when
read) holds::

    runs/<recipe hash>/          one pretraining's folder: checkpoint.pt (per epoch),
                                 model.pt (final weights), meta.json (the MLflow run it
                                 belongs to), recipe.yaml (what a SLURM job reads)
    runs/<recipe hash>.lock      held while a process runs that recipe
    slurm/<job id>/              submitit's logs of one job; slurm/jobs.jsonl the record
    sweeps/<name>/               sweep worker logs when the study is in a SQL database

The Optuna journal of a sweep (and its worker logs) lives in ``sweeps/`` beside a sqlite
MLflow store, so ``mlflow.db`` and ``sweeps/`` travel together.

Core layer: imports nothing from sslctl.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

CHECKPOINT = "checkpoint.pt"  # the atomic per-epoch training state
FINAL_WEIGHTS = "model.pt"  # backbone and projector after the last epoch
BINDING = "meta.json"  # {"run_id": ..., "source": ...}: whose checkpoints these are
JOB_RECIPE = "recipe.yaml"  # the resolved recipe a SLURM job loads


def home() -> Path:
    """``$SSLCTL_HOME`` or ``./.sslctl``, absolute."""
    return Path(os.environ.get("SSLCTL_HOME", ".sslctl")).resolve()


def runs_root() -> Path:
    return home() / "runs"


def run_folder(recipe_hash: str) -> Path:
    """The checkpoint folder of one pretraining (recipe hash)."""
    return runs_root() / recipe_hash


def belongs_to(folder: Path, run_id: str) -> bool:
    """The checkpoints in ``folder`` are ``run_id``'s (its :data:`BINDING` says so)."""
    try:
        return json.loads((folder / BINDING).read_text()).get("run_id") == run_id
    except (OSError, ValueError, AttributeError):
        return False


def recipe_lock(recipe_hash: str) -> Path:
    """The lock file held while a process runs this recipe (sslctl.locks.recipe_lock)."""
    return runs_root() / f"{recipe_hash}.lock"


def slurm_folder() -> Path:
    """submitit's folder; ``%j`` becomes the job id (one folder per job)."""
    return home() / "slurm" / "%j"


def job_folder(job_id: str) -> Path:
    """The log folder of one submitted job (or array task)."""
    return home() / "slurm" / job_id


def job_registry() -> Path:
    """The record of every job sslctl submitted (one JSON object per line)."""
    return home() / "slurm" / "jobs.jsonl"


def sqlite_path(uri: str) -> Path | None:
    """The file of a ``sqlite:///relative.db`` or ``sqlite:////abs.db`` URI (query string
    dropped); None for any other URI, and for in-memory sqlite."""
    if not uri.startswith("sqlite:///"):
        return None
    path = uri.removeprefix("sqlite:///").split("?", 1)[0]
    return Path(path) if path and path != ":memory:" else None


def sweeps_folder(tracking_uri: str) -> Path:
    """``sweeps/`` beside a sqlite MLflow store (the working directory for other stores):
    the default Optuna journals, ``<name>.journal``."""
    db = sqlite_path(tracking_uri)
    return (db.parent if db is not None else Path.cwd()) / "sweeps"


def sweep_logs(name: str, storage: str) -> Path:
    """Worker logs of sweep ``name``: beside its journal file, or under
    ``$SSLCTL_HOME/sweeps/`` when the study is in a SQL database."""
    if "://" in storage:
        return home() / "sweeps" / name
    return Path(storage).parent / name
