"""The chained pipeline ``pretrain -> linear eval -> OOD eval (+ baselines)`` for one
recipe, with caching (a finished recipe is recognised by its hash) and resume (an
interrupted run continues from its last checkpoint, in the same MLflow run)."""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from sslctl.errors import Pruned, RecipeError, SslctlError
from sslctl.recipe import Recipe, flatten, recipe_hash, to_dict, to_yaml
from sslctl.tracking import HASH_TAG, STATUS_TAG, TAG, Tracker, git_state

STAGES = ("pretrain", "linear", "ood", "baselines")


def runs_root() -> Path:
    """Where checkpoints live: ``$SSLCTL_HOME/runs`` or ``./.sslctl/runs``."""
    return Path(os.environ.get("SSLCTL_HOME", ".sslctl")) / "runs"


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
) -> PipelineResult:
    """Run (or resume, or recognise) the full chain for ``recipe``.

    ``run_id``: the MLflow run to run (or resume) in, as a launcher that created it before
    submitting a job passes it (see :func:`claim_run`); the run is not looked up by hash.
    ``stages``: ``pretrain`` stops after pretraining and leaves the run open (status
    ``pretrained``) for a later ``evaluate``, which requires pretraining to be done; the
    two halves of a SLURM ``afterok`` chain.
    """
    from sslctl.data import load_dataset, load_ood

    start = time.perf_counter()
    rhash = recipe_hash(recipe)
    dataset = load_dataset(
        recipe.data.name,
        root=recipe.data.root,
        download=recipe.data.download,
        image_size=recipe.data.image_size,
    )
    ood_sets = {}
    for name in recipe.eval.ood.datasets:
        ood_sets.update(
            load_ood(
                name,
                reference=dataset,
                severities=tuple(recipe.eval.ood.severities),
                corruptions=tuple(recipe.eval.ood.corruptions)
                if recipe.eval.ood.corruptions
                else None,
            )
        )
    preflight(recipe, dataset, source)

    tracker = tracker or Tracker()
    workdir = runs_root() / rhash
    if run_id is not None:
        given = tracker.get(run_id)
        if given.complete:
            return PipelineResult(
                run_id, recipe.experiment, rhash, given.metrics, reused=True, tags=given.tags
            )
        previous = [given]
    else:
        previous = tracker.find(recipe.experiment, rhash)
    done = next((r for r in previous if r.complete), None)
    if done is not None and not force:
        return PipelineResult(
            done.run_id, recipe.experiment, rhash, done.metrics, reused=True, tags=done.tags
        )
    unfinished = next((r for r in previous if not r.complete), None)
    if run_id is not None and not _checkpoint_belongs(workdir, run_id):
        _bind(workdir, run_id, source)  # someone else's checkpoint: start afresh
    if run_id is not None or (
        unfinished is not None and not force and _checkpoint_belongs(workdir, unfinished.run_id)
    ):
        assert unfinished is not None
        run_id = unfinished.run_id
        tracker.reopen(run_id)
        tags = unfinished.tags
    else:
        run_id = _fresh_run(tracker, recipe, rhash, source, extra_tags or {}, unfinished)
        tags = {}
    tracker.set_tags(run_id, {STATUS_TAG: "running"})
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
        )
    except Pruned as err:
        tracker.set_tags(run_id, {STATUS_TAG: "pruned", f"{TAG}error": str(err)})
        tracker.close_stages(run_id, "pruned")
        tracker.finish(run_id, "KILLED")
        raise
    except KeyboardInterrupt:
        tracker.set_tags(run_id, {STATUS_TAG: "interrupted"})
        tracker.close_stages(run_id, "interrupted")
        tracker.finish(run_id, "KILLED")
        raise
    except SystemExit:
        # submitit on preemption or timeout (USR2): checkpointed and requeued; the job
        # comes back into this run, so it stays open
        tracker.set_tags(run_id, {STATUS_TAG: "requeued"})
        raise
    except BaseException as err:
        tracker.set_tags(run_id, {STATUS_TAG: "failed", f"{TAG}error": str(err)[:4000]})
        tracker.close_stages(run_id, "failed")
        tracker.finish(run_id, "FAILED")
        raise
    tracker.delete_tag(run_id, f"{TAG}error")  # from an earlier failed attempt
    if stages == "pretrain":
        tracker.set_tags(run_id, {STATUS_TAG: "pretrained"})  # the evaluations come next
    else:
        tracker.set_tags(run_id, {STATUS_TAG: "complete"})
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
        return done.run_id, True
    workdir = runs_root() / rhash
    unfinished = next((r for r in previous if not r.complete), None)
    if unfinished is not None and not force and _checkpoint_belongs(workdir, unfinished.run_id):
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
        tracker.set_tags(unfinished.run_id, {STATUS_TAG: "superseded"})
        tracker.finish(unfinished.run_id, "KILLED")
    run_id = _new_run(tracker, recipe, rhash, source, extra_tags)
    _bind(runs_root() / rhash, run_id, source)
    return run_id


def _bind(workdir: Path, run_id: str, source: str) -> None:
    """Reset the checkpoint folder and record which run its checkpoints belong to."""
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "meta.json").write_text(json.dumps({"run_id": run_id, "source": source}))


def _checkpoint_belongs(workdir: Path, run_id: str) -> bool:
    meta = workdir / "meta.json"
    try:
        return json.loads(meta.read_text()).get("run_id") == run_id
    except (OSError, ValueError):
        return False


def _new_run(
    tracker: Tracker, recipe: Recipe, rhash: str, source: str, extra_tags: dict[str, str]
) -> str:
    from sslctl import __version__

    exp_id = tracker.experiment_id(recipe.experiment)
    name = f"{recipe.method.name}-{recipe.data.name}-s{recipe.seed}-{rhash[:6]}"
    tags = {
        HASH_TAG: rhash,
        f"{TAG}recipe": source,
        f"{TAG}version": __version__,
        f"{TAG}method": recipe.method.name,
        f"{TAG}seed": str(recipe.seed),
        **{f"{TAG}{k}": v for k, v in git_state().items()},
        **extra_tags,
    }
    run_id = tracker.create(exp_id, name, tags)
    try:
        tracker.log_params(run_id, flatten(to_dict(recipe)))
        tracker.log_text(run_id, to_yaml(recipe), "recipe.yaml")
    except Exception as err:  # never leave a run RUNNING that nothing will finish
        tracker.set_tags(run_id, {STATUS_TAG: "failed", f"{TAG}error": str(err)[:4000]})
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
