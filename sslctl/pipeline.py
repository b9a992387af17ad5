"""The chained pipeline ``pretrain -> linear eval -> OOD eval (+ baselines)`` for one
recipe, with caching (a finished recipe is recognised by its hash) and resume (an
interrupted run continues from its last checkpoint, in the same MLflow run)."""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from sslctl.errors import Pruned, RecipeError, SslctlError
from sslctl.evaluate import forget_evaluations, pending
from sslctl.paths import BINDING, belongs_to, run_folder
from sslctl.recipe import Recipe, flatten, recipe_hash, to_dict, to_yaml
from sslctl.tracking import Tracker, git_state
from sslctl.vocabulary import Status, Tag


@dataclass
class PipelineResult:
    """What a pipeline run (or the recognised earlier run) produced."""

    run_id: str
    experiment: str
    recipe_hash: str
    metrics: dict[str, float]
    reused: bool = False
    resumed_epoch: int = 0
    seconds: float = 0.0
    tags: dict[str, str] = field(default_factory=dict)


def run_pipeline(
    recipe: Recipe,
    *,
    source: str = "<recipe>",
    force: bool = False,
    reporter: Any = None,
    tracker: Tracker | None = None,
    say: Any = print,
    extra_tags: dict[str, str] | None = None,
    on_probe: Any = None,
    run_id: str | None = None,
    stages: Literal["all", "pretrain", "evaluate"] = "all",
    reevaluate: bool = False,
    progress: Any = None,
) -> PipelineResult:
    """Run (or resume, or recognise) the full chain for ``recipe``.

    ``run_id``: the MLflow run to run (or resume) in, as a launcher that created it before
    submitting a job passes it (see :func:`claim_run`); the run is not looked up by hash.
    ``stages``: ``pretrain`` stops after pretraining and leaves the run open (status
    ``pretrained``) for a later ``evaluate``, which requires pretraining to be done; the
    two halves of a SLURM ``afterok`` chain.

    A finished run of the same pretraining (``recipe_hash`` leaves ``eval.*`` out) is
    reused; its evaluation stages whose settings differ from ``recipe``'s run again on its
    weights, into the same run (every evaluation stage with ``reevaluate``).
    ``progress(what, done, total)`` hears of the evaluations' feature batches and epochs.
    """
    from sslctl.stages import RunContext, run_stages, setup_trainer

    start = time.perf_counter()
    rhash = recipe_hash(recipe)
    dataset, ood_sets = load_data(recipe, say)
    trainer = setup_trainer(recipe, dataset, run_folder(rhash))  # the run's one model
    preflight(recipe, dataset, source, trainer)
    tracker = tracker or Tracker()
    request = RunRequest(source, force, extra_tags or {}, run_id, stages, reevaluate)
    opened = open_run(tracker, recipe, rhash, request, say)
    if isinstance(opened, PipelineResult):
        return opened
    ctx = RunContext(
        recipe,
        dataset,
        ood_sets,
        trainer,
        tracker,
        opened.run_id,
        run_folder(rhash),
        opened.tags,
        stages=opened.stages,
        say=say,
        reporter=reporter,
        on_probe=on_probe,
        progress=progress,
    )
    resumed_epoch = execute(
        tracker,
        ctx.run_id,
        lambda: run_stages(ctx),
        pretrain_only=opened.stages == "pretrain",
        was_complete=opened.was_complete,
    )
    final = tracker.get(ctx.run_id)
    return PipelineResult(
        ctx.run_id,
        recipe.experiment,
        rhash,
        final.metrics,
        resumed_epoch=resumed_epoch,
        seconds=time.perf_counter() - start,
        tags=final.tags,
    )


def load_data(recipe: Recipe, say: Any = print) -> tuple[Any, dict[str, Any]]:
    """The recipe's dataset and its out-of-domain sets."""
    from sslctl.data import load_dataset
    from sslctl.data.oodsets import load_sets

    data, ood = recipe.data, recipe.eval.ood
    dataset = load_dataset(
        data.name, root=data.root, download=data.download, image_size=data.image_size
    )
    ood_sets = load_sets(
        ood.datasets,
        dataset,
        severities=tuple(ood.severities),
        corruptions=tuple(ood.corruptions) if ood.corruptions else None,
        root=data.root,
        download=data.download,
        warn=say,
    )
    return dataset, ood_sets


@dataclass
class RunRequest:
    """What the caller of :func:`run_pipeline` asked about the MLflow run."""

    source: str  # where the recipe came from (a path, "sweep NAME", ...)
    force: bool = False  # retrain a finished recipe (the old run is superseded)
    extra_tags: dict[str, str] = field(default_factory=dict)
    run_id: str | None = None  # the run a launcher chose before submitting
    stages: str = "all"  # all | pretrain | evaluate
    reevaluate: bool = False  # every evaluation stage again


@dataclass
class OpenedRun:
    """The MLflow run a pipeline works in, the stages it has done (its tags), which
    stages to run, and whether it was complete before (a finished run evaluated again)."""

    run_id: str
    tags: dict[str, str]
    stages: str
    was_complete: bool = False


def open_run(
    tracker: Tracker, recipe: Recipe, rhash: str, request: RunRequest, say: Any
) -> OpenedRun | PipelineResult:
    """The run to work in, or the finished run that already answers the recipe."""
    run_id, stages = request.run_id, request.stages
    previous = (
        [tracker.get(run_id)] if run_id is not None else tracker.find(recipe.experiment, rhash)
    )
    done = next((r for r in previous if r.complete), None)
    if done is not None and not request.force:
        tags = forget_evaluations(done.tags) if request.reevaluate else done.tags
        todo = pending(recipe, tags)
        if stages == "pretrain" or not todo:
            return PipelineResult(
                done.run_id, recipe.experiment, rhash, done.metrics, reused=True, tags=done.tags
            )
        say(f"run {done.run_id} is pretrained; evaluating: {', '.join(todo)}")
        tracker.reopen(done.run_id)
        tracker.log_text(done.run_id, to_yaml(recipe), "recipe.yaml")
        return OpenedRun(done.run_id, tags, "evaluate", was_complete=True)
    if run_id is not None and stages == "evaluate":
        tracker.reopen(run_id)
        tags = previous[0].tags
        return OpenedRun(run_id, forget_evaluations(tags) if request.reevaluate else tags, stages)
    run_id, tags = _choose_run(tracker, recipe, rhash, request, previous)
    return OpenedRun(run_id, tags, stages)


def execute(
    tracker: Tracker,
    run_id: str,
    work: Callable[[], int],
    *,
    pretrain_only: bool = False,
    was_complete: bool = False,
) -> int:
    """Run ``work()`` with the run marked running; close it by what happened: complete
    (or pretrained, for the first half of a chain), failed, interrupted, pruned, or left
    open for a SLURM requeue. A run that was complete before stays complete on failure."""
    tracker.set_tags(run_id, {Tag.STATUS: Status.RUNNING})
    try:
        resumed_epoch = work()
    except Pruned as err:
        _close_run(tracker, run_id, Status.PRUNED, "KILLED", str(err), was_complete=was_complete)
        raise
    except KeyboardInterrupt:
        _close_run(tracker, run_id, Status.INTERRUPTED, "KILLED", None, was_complete=was_complete)
        raise
    except SystemExit:
        # submitit on preemption or timeout (USR2): checkpointed and requeued; the job
        # comes back into this run, so it stays open
        tracker.set_tags(run_id, {Tag.STATUS: Status.REQUEUED})
        raise
    except BaseException as err:
        error = str(err)[:4000]
        _close_run(tracker, run_id, Status.FAILED, "FAILED", error, was_complete=was_complete)
        raise
    tracker.delete_tag(run_id, Tag.ERROR)  # from an earlier failed attempt
    if pretrain_only:
        tracker.set_tags(run_id, {Tag.STATUS: Status.PRETRAINED})  # the evaluations come next
    else:
        tracker.set_tags(run_id, {Tag.STATUS: Status.COMPLETE})
        tracker.finish(run_id, "FINISHED")
    return resumed_epoch


def _close_run(
    tracker: Tracker,
    run_id: str,
    status: Status,
    mlflow_status: str,
    error: str | None,
    *,
    was_complete: bool,
) -> None:
    """End a run whose stages stopped early: no stage is left tagged ``running``. A finished
    run that was being evaluated again stays complete (its earlier results stand); the
    error is kept in a tag."""
    tracker.close_stages(run_id, status)
    if was_complete:
        tags = {Tag.STATUS: Status.COMPLETE, Tag.EVAL_ERROR: error or status}
        tracker.set_tags(run_id, tags)
        tracker.finish(run_id, "FINISHED")
        return
    tracker.set_tags(run_id, {Tag.STATUS: status, **({Tag.ERROR: error} if error else {})})
    tracker.finish(run_id, mlflow_status)


def _choose_run(
    tracker: Tracker, recipe: Recipe, rhash: str, request: RunRequest, previous: list[Any]
) -> tuple[str, dict[str, str]]:
    """The run to pretrain in and the stages it has done: the given or an unfinished run
    whose checkpoint is on disk (resumed), else a new run (a finished one, under
    ``force``, is superseded)."""
    workdir, run_id = run_folder(rhash), request.run_id
    if run_id is not None:
        if not belongs_to(workdir, run_id):
            _bind(workdir, run_id, request.source)  # someone else's checkpoint: start afresh
        tracker.reopen(run_id)
        return run_id, previous[0].tags
    unfinished = next((r for r in previous if not r.complete), None)
    if unfinished is not None and not request.force and belongs_to(workdir, unfinished.run_id):
        tracker.reopen(unfinished.run_id)
        return unfinished.run_id, unfinished.tags
    for old in previous:
        if old.complete:  # --force: the retrained run replaces it in reports
            tracker.set_tags(old.run_id, {Tag.STATUS: Status.SUPERSEDED})
    fresh = _fresh_run(tracker, recipe, rhash, request.source, request.extra_tags, unfinished)
    return fresh, {}


def claim_run(
    recipe: Recipe,
    *,
    source: str,
    force: bool = False,
    tracker: Tracker | None = None,
    extra_tags: dict[str, str] | None = None,
) -> tuple[str, bool]:
    """The MLflow run a launched job will run in, chosen (or created) before submission:
    ``(run_id, complete)``. A finished run of this recipe is returned as complete (unless
    ``force``); an unfinished one whose checkpoint is on disk is resumed; otherwise a new
    run is created and the checkpoint folder is reset and bound to it."""
    tracker = tracker or Tracker()
    rhash = recipe_hash(recipe)
    previous = tracker.find(recipe.experiment, rhash)
    done = next((r for r in previous if r.complete), None)
    if done is not None and not force:
        return done.run_id, not pending(recipe, done.tags)  # eval.* changed: evaluate again
    workdir = run_folder(rhash)
    unfinished = next((r for r in previous if not r.complete), None)
    if unfinished is not None and not force and belongs_to(workdir, unfinished.run_id):
        if extra_tags:
            tracker.set_tags(unfinished.run_id, extra_tags)
        return unfinished.run_id, False
    return _fresh_run(tracker, recipe, rhash, source, extra_tags or {}, unfinished), False


def _fresh_run(
    tracker: Tracker,
    recipe: Recipe,
    rhash: str,
    source: str,
    extra_tags: dict[str, str],
    unfinished: Any,
) -> str:
    """A new MLflow run with an empty checkpoint folder bound to it. An unfinished run
    left RUNNING (its checkpoint gone, or --force) is closed as superseded rather than
    left looking alive."""
    if unfinished is not None and unfinished.status == "RUNNING":
        tracker.set_tags(unfinished.run_id, {Tag.STATUS: Status.SUPERSEDED})
        tracker.finish(unfinished.run_id, "KILLED")
    run_id = _new_run(tracker, recipe, rhash, source, extra_tags)
    _bind(run_folder(rhash), run_id, source)
    return run_id


def _bind(workdir: Path, run_id: str, source: str) -> None:
    """Reset the checkpoint folder and record which run its checkpoints belong to."""
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / BINDING).write_text(json.dumps({"run_id": run_id, "source": source}))


def _new_run(
    tracker: Tracker, recipe: Recipe, rhash: str, source: str, extra_tags: dict[str, str]
) -> str:
    from sslctl import __version__

    exp_id = tracker.experiment_id(recipe.experiment)
    name = f"{recipe.method.name}-{recipe.data.name}-s{recipe.seed}-{rhash[:6]}"
    tags = {
        Tag.RECIPE_HASH: rhash,
        Tag.RECIPE: source,
        Tag.VERSION: __version__,
        Tag.METHOD: recipe.method.name,
        Tag.SEED: str(recipe.seed),
        **git_state(),
        **extra_tags,
    }
    run_id = tracker.create(exp_id, name, tags)
    try:
        tracker.log_params(run_id, flatten(to_dict(recipe)))
        tracker.log_text(run_id, to_yaml(recipe), "recipe.yaml")
    except Exception as err:  # never leave a run RUNNING that nothing will finish
        tracker.set_tags(run_id, {Tag.STATUS: Status.FAILED, Tag.ERROR: str(err)[:4000]})
        tracker.finish(run_id, "FAILED")
        raise SslctlError(f"MLflow refused the recipe of run {run_id}: {err}") from None
    return run_id


def preflight(recipe: Recipe, dataset: Any, source: str, trainer: Any = None) -> None:
    """Cheap checks that need the data or the loss, done before any MLflow run exists.
    ``trainer``: the run's :class:`~sslctl.train.Pretrainer` (its model and a copy of its
    loss are checked); without it (a SLURM login node) the model is built here."""
    import copy

    import torch

    n_train = len(dataset.train.images)
    if recipe.optim.batch_size > n_train:
        raise RecipeError(
            source,
            [
                f"optim.batch_size: got {recipe.optim.batch_size}; expected at most the "
                f"{n_train} training images of {recipe.data.name}"
            ],
        )
    if trainer is None:
        from sslctl.methods import build_loss
        from sslctl.train import build_model

        embed_dim = build_model(recipe, dataset.train.images.shape[1]).embed_dim
        loss_fn = build_loss(recipe.method.name, **recipe.method.params())
    else:  # a copy: the check must not touch the loss's state
        embed_dim, loss_fn = trainer.model.embed_dim, copy.deepcopy(trainer.loss_fn)
    gen = torch.Generator().manual_seed(0)
    z1 = torch.randn(recipe.optim.batch_size, embed_dim, generator=gen)
    z2 = z1 + 0.1 * torch.randn(z1.shape, generator=gen)
    try:
        with torch.random.fork_rng(devices=[]):  # the training's random stream untouched
            loss_fn(z1, z2)
    except (ValueError, SslctlError) as err:
        raise RecipeError(source, [f"method ({recipe.method.name}): {err}"]) from None
