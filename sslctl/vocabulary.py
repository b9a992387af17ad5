"""The run vocabulary: every MLflow tag sslctl writes on a run, the statuses a run and its
stages go through and what each means, and when a run counts as complete. Stated here
once; the pipeline, the launchers, sweeps, claims, ``sslctl status`` and ``sslctl report``
read the names from this module (``tests/test_vocabulary.py`` fails on a tag name typed
anywhere else, and :func:`check_tags` refuses a status this module does not define).

Core layer: imports nothing from sslctl.
"""

from __future__ import annotations

from enum import StrEnum

PREFIX = "sslctl."


class Tag:
    """Names of the tags sslctl sets on MLflow runs (all start with ``sslctl.``)."""

    # identity of a pipeline run (set when it is created)
    RECIPE_HASH = "sslctl.recipe_hash"  # the pretraining identity; eval.* and launcher left out
    RECIPE = "sslctl.recipe"  # the recipe file it came from
    COMMAND = "sslctl.command"  # the command line that resumes it
    VERSION = "sslctl.version"
    METHOD = "sslctl.method"
    SEED = "sslctl.seed"
    GIT_COMMIT = "sslctl.git_commit"
    GIT_DIRTY = "sslctl.git_dirty"
    CHECKPOINT = "sslctl.checkpoint"  # an external checkpoint's path (``sslctl evaluate``)
    LAUNCHER = "sslctl.launcher"
    # where and how it ran
    STATUS = "sslctl.status"  # a :class:`Status`
    ERROR = "sslctl.error"  # why it failed
    EVAL_ERROR = "sslctl.eval_error"  # why evaluating a complete run again failed
    DEVICE = "sslctl.device"
    PRECISION = "sslctl.precision"
    WORLD_SIZE = "sslctl.world_size"
    HEALTH = "sslctl.health"  # ``ok`` or ``not trained: <reason>`` (sslctl.evals.health)
    LINEAR_WARNING = "sslctl.warning.linear"
    DATA_CHECKSUM = "sslctl.data.checksum"  # a packed dataset's index checksum
    DATA_SKIPPED = "sslctl.data.skipped"  # files `sslctl data pack --skip-bad` left out
    # SLURM (``eval_`` ones: the evaluation job of an ``afterok`` chain)
    SLURM_JOB_ID = "sslctl.slurm.job_id"
    SLURM_EVAL_JOB_ID = "sslctl.slurm.eval_job_id"
    SLURM_REQUEUES = "sslctl.slurm.requeues"
    SLURM_EVAL_REQUEUES = "sslctl.slurm.eval_requeues"
    SLURM_FOLDER = "sslctl.slurm.folder"
    SLURM_CHAIN = "sslctl.slurm.chain"
    SLURM_NODES = "sslctl.slurm.nodes"
    # sweeps, claims, studies
    SWEEP = "sslctl.sweep"  # the sweep a trial run (or a sweep parent) belongs to
    SWEEP_STUDY = "sslctl.sweep_study"  # the Optuna study of a sweep parent
    SWEEP_PARENT = "sslctl.sweep_parent"  # "true" on the parent run of a sweep
    TRIAL = "sslctl.trial"
    CLAIM = "sslctl.claim"
    CLAIM_SCALE = "sslctl.claim_scale"
    CLAIM_VERDICT = "sslctl.claim_verdict"
    CLAIM_RUNS = "sslctl.claim_runs"
    STUDY = "sslctl.study"


def stage_tag(stage: str) -> str:
    """``sslctl.stage.<stage>``: the :class:`StageState` of one pipeline stage."""
    return f"{PREFIX}stage.{stage}"


def settings_tag(stage: str) -> str:
    """``sslctl.settings.<stage>``: the hash of the settings an evaluation stage ran with."""
    return f"{PREFIX}settings.{stage}"


def protocol_tag(name: str) -> str:
    """``sslctl.protocol.<name>``: an evaluation protocol in words (linear, knn, ood, probe)."""
    return f"{PREFIX}protocol.{name}"


STAGE_PREFIX = stage_tag("")
SETTINGS_PREFIX = settings_tag("")


class Status(StrEnum):
    """``sslctl.status`` of a pipeline run; :data:`MEANING` says what each means."""

    QUEUED = "queued"
    RUNNING = "running"
    PRETRAINED = "pretrained"
    REQUEUED = "requeued"
    COMPLETE = "complete"
    FAILED = "failed"
    INTERRUPTED = "interrupted"
    PRUNED = "pruned"
    CANCELLED = "cancelled"
    SUPERSEDED = "superseded"


MEANING: dict[Status, str] = {
    Status.QUEUED: "submitted to SLURM, not started",
    Status.RUNNING: "a process is running its stages",
    Status.PRETRAINED: "pretraining done; its evaluation job comes next (SLURM chain)",
    Status.REQUEUED: "preempted or timed out on SLURM; resumes from its checkpoint",
    Status.COMPLETE: "every stage done; its results stand",
    Status.FAILED: "stopped by an error (tag sslctl.error says which)",
    Status.INTERRUPTED: "stopped by Ctrl-C or a signal; resumable from its checkpoint",
    Status.PRUNED: "stopped early by the sweep's pruner",
    Status.CANCELLED: "its SLURM job was cancelled (sslctl cancel)",
    Status.SUPERSEDED: "replaced by a newer run of the same recipe (--force)",
}

# statuses a process no longer works on: `sslctl status` shows the stage as the status
SETTLED = frozenset(
    {
        Status.QUEUED,
        Status.PRETRAINED,
        Status.REQUEUED,
        Status.COMPLETE,
        Status.FAILED,
        Status.CANCELLED,
    }
)
HIDDEN = frozenset({Status.COMPLETE, Status.SUPERSEDED})  # not shown as open runs


class StageState(StrEnum):
    """``sslctl.stage.<stage>``: where one stage of a run is."""

    RUNNING = "running"
    DONE = "done"
    EXTERNAL = "external"  # pretrain only: weights from a checkpoint sslctl did not train
    FAILED = "failed"
    INTERRUPTED = "interrupted"
    PRUNED = "pruned"


def is_complete(mlflow_status: str, tags: dict[str, str]) -> bool:
    """A run whose results stand: MLflow ``FINISHED`` and, for sslctl's runs, status
    ``complete`` (a run with no ``sslctl.status``, made by other tools in the same store,
    counts when MLflow finished it)."""
    return mlflow_status == "FINISHED" and tags.get(Tag.STATUS, Status.COMPLETE) == Status.COMPLETE


def stage_states(tags: dict[str, str]) -> dict[str, str]:
    """``{stage: state}`` from a run's tags, in the order they were read."""
    return {k.removeprefix(STAGE_PREFIX): v for k, v in tags.items() if k.startswith(STAGE_PREFIX)}


def stage_done(tags: dict[str, str], stage: str) -> bool:
    return tags.get(stage_tag(stage)) == StageState.DONE


def running_stage(tags: dict[str, str]) -> str | None:
    """The stage a run's tags say is running, if any."""
    return next((s for s, v in stage_states(tags).items() if v == StageState.RUNNING), None)


def check_tags(tags: dict[str, str]) -> None:
    """Refuse a status or stage state the vocabulary does not define (a ValueError: a bug
    in sslctl, not bad input)."""
    status = tags.get(Tag.STATUS)
    if status is not None and status not in frozenset(Status):
        raise ValueError(f"{Tag.STATUS}={status!r} is not a run status of sslctl.vocabulary")
    for key, value in tags.items():
        if key.startswith(STAGE_PREFIX) and value not in frozenset(StageState):
            raise ValueError(f"{key}={value!r} is not a stage state of sslctl.vocabulary")
