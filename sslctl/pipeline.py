"""The chained pipeline ``pretrain -> linear eval -> OOD eval (+ baselines)`` for one
recipe, with caching (a finished recipe is recognised by its hash) and resume (an
interrupted run continues from its last checkpoint, in the same MLflow run)."""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from sslctl.errors import Pruned, RecipeError, SslctlError
from sslctl.evaluate import forget_evaluations, pending
from sslctl.paths import BINDING, belongs_to, run_folder
from sslctl.recipe import Recipe, flatten, recipe_hash, to_dict, to_yaml
from sslctl.tracking import Tracker, git_state
from sslctl.vocabulary import Status, Tag

STAGES = ("pretrain", "linear", "ood", "baselines")


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
    from sslctl.data import load_dataset
    from sslctl.data.oodsets import load_sets

    start = time.perf_counter()
    rhash = recipe_hash(recipe)
    dataset = load_dataset(
        recipe.data.name,
        root=recipe.data.root,
        download=recipe.data.download,
        image_size=recipe.data.image_size,
    )
    ood = recipe.eval.ood
    ood_sets = load_sets(
        ood.datasets,
        dataset,
        severities=tuple(ood.severities),
        corruptions=tuple(ood.corruptions) if ood.corruptions else None,
        root=recipe.data.root,
        download=recipe.data.download,
        warn=say,
    )
    preflight(recipe, dataset, source)

    tracker = tracker or Tracker()
    workdir = run_folder(rhash)
    previous = (
        [tracker.get(run_id)] if run_id is not None else tracker.find(recipe.experiment, rhash)
    )
    done = next((r for r in previous if r.complete), None)
    if done is not None and not force:
        tags = forget_evaluations(done.tags) if reevaluate else done.tags
        todo = pending(recipe, tags)
        if stages == "pretrain" or not todo:
            return PipelineResult(
                done.run_id, recipe.experiment, rhash, done.metrics, reused=True, tags=done.tags
            )
        run_id, stages = done.run_id, "evaluate"  # the same pretraining: evaluate it again
        say(f"run {run_id} is pretrained; evaluating: {', '.join(todo)}")
        tracker.reopen(run_id)
        tracker.log_text(run_id, to_yaml(recipe), "recipe.yaml")
    elif run_id is not None and stages == "evaluate":
        tags = forget_evaluations(previous[0].tags) if reevaluate else previous[0].tags
        tracker.reopen(run_id)
    else:
        run_id, tags = _choose_run(
            tracker, recipe, rhash, source, extra_tags or {}, previous, run_id, force
        )
    tracker.set_tags(run_id, {Tag.STATUS: Status.RUNNING})
    was = done is not None  # a finished run evaluated again stays complete on failure
    try:
        from sslctl.stages import run_stages

        result = run_stages(
            recipe,
            dataset,
            ood_sets,
            tracker=tracker,
            run_id=run_id,
            workdir=workdir,
            done_tags=tags,
            reporter=reporter,
            say=say,
            on_probe=on_probe,
            stages=stages,
            progress=progress,
        )
    except Pruned as err:
        close_run(tracker, run_id, Status.PRUNED, "KILLED", str(err), was_complete=was)
        raise
    except KeyboardInterrupt:
        close_run(tracker, run_id, Status.INTERRUPTED, "KILLED", None, was_complete=was)
        raise
    except SystemExit:
        # submitit on preemption or timeout (USR2): checkpointed and requeued; the job
        # comes back into this run, so it stays open
        tracker.set_tags(run_id, {Tag.STATUS: Status.REQUEUED})
        raise
    except BaseException as err:
        close_run(tracker, run_id, Status.FAILED, "FAILED", str(err)[:4000], was_complete=was)
        raise
    tracker.delete_tag(run_id, Tag.ERROR)  # from an earlier failed attempt
    if stages == "pretrain":
        tracker.set_tags(run_id, {Tag.STATUS: Status.PRETRAINED})  # the evaluations come next
    else:
        tracker.set_tags(run_id, {Tag.STATUS: Status.COMPLETE})
        tracker.finish(run_id, "FINISHED")
    final = tracker.get(run_id)
    return PipelineResult(
        run_id,
        recipe.experiment,
        rhash,
        final.metrics,
        resumed_epoch=result.resumed_epoch,
        seconds=time.perf_counter() - start,
        tags=final.tags,
    )


def close_run(
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
    tracker: Tracker,
    recipe: Recipe,
    rhash: str,
    source: str,
    extra_tags: dict[str, str],
    previous: list[Any],
    run_id: str | None,
    force: bool,
) -> tuple[str, dict[str, str]]:
    """The run to pretrain in and the stages it has done: the given or an unfinished run
    whose checkpoint is on disk (resumed), else a new run (a finished one, under
    ``force``, is superseded)."""
    workdir = run_folder(rhash)
    if run_id is not None:
        if not belongs_to(workdir, run_id):
            _bind(workdir, run_id, source)  # someone else's checkpoint: start afresh
        tracker.reopen(run_id)
        return run_id, previous[0].tags
    unfinished = next((r for r in previous if not r.complete), None)
    if unfinished is not None and not force and belongs_to(workdir, unfinished.run_id):
        tracker.reopen(unfinished.run_id)
        return unfinished.run_id, unfinished.tags
    for old in previous:
        if old.complete:  # --force: the retrained run replaces it in reports
            tracker.set_tags(old.run_id, {Tag.STATUS: Status.SUPERSEDED})
    return _fresh_run(tracker, recipe, rhash, source, extra_tags, unfinished), {}


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


def preflight(recipe: Recipe, dataset: Any, source: str) -> None:
    """Cheap checks that need the data or the loss, done before any MLflow run exists."""
    import torch

    from sslctl.methods import build_loss
    from sslctl.train import build_model

    n_train = len(dataset.train.images)
    if recipe.optim.batch_size > n_train:
        raise RecipeError(
            source,
            [
                f"optim.batch_size: got {recipe.optim.batch_size}; expected at most the "
                f"{n_train} training images of {recipe.data.name}"
            ],
        )
    model = build_model(recipe, dataset.train.images.shape[1])
    loss_fn = build_loss(recipe.method.name, **recipe.method.params())
    gen = torch.Generator().manual_seed(0)
    z1 = torch.randn(recipe.optim.batch_size, model.embed_dim, generator=gen)
    z2 = z1 + 0.1 * torch.randn(z1.shape, generator=gen)
    try:
        loss_fn(z1, z2)
    except (ValueError, SslctlError) as err:
        raise RecipeError(source, [f"method ({recipe.method.name}): {err}"]) from None
