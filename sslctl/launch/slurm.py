"""The SLURM launcher: submit the pipeline through submitit and return at once.

``submit_pipeline`` checks the cluster first (``sbatch`` on PATH, controller answering,
partition known, ``sbatch --test-only`` accepting the request) and the recipe (data,
loss, batch divisible by the number of DDP processes), and only then chooses or creates
the MLflow run and submits. Any failure before submission is a
:class:`~sslctl.launch.cluster.SlurmError` (exit code 2) with nothing submitted and no
MLflow run left behind.

``launcher.chain`` chooses the shape: ``single`` runs every stage (pretrain -> linear ->
OOD -> diagnostics -> baselines) in one job with the requested resources; ``afterok``
submits pretraining with those resources, then the evaluations as a second job of one
task (one GPU at most) that SLURM starts only when pretraining succeeded
(``--dependency=afterok:<pretrain job>``, and ``--kill-on-invalid-dep=yes`` so it does not
wait forever when pretraining failed). Both jobs write to the same MLflow run.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sslctl.errors import RecipeError
from sslctl.launch.cluster import (
    SlurmError,
    check_cluster,
    executor,
    job_environment,
    record,
)
from sslctl.launch.jobs import live_jobs
from sslctl.launch.resources import evaluation_request, world_size
from sslctl.locks import RecipeBusy, recipe_lock
from sslctl.paths import JOB_RECIPE, job_folder, run_folder
from sslctl.paths import recipe_lock as lock_file
from sslctl.recipe import Recipe, recipe_hash, to_yaml
from sslctl.vocabulary import Status, Tag


@dataclass
class Submission:
    """What ``sslctl pretrain --launcher slurm`` reports. ``job_id`` is the job that runs
    pretraining; ``eval_job_id`` the dependent evaluation job (chain ``afterok`` only)."""

    job_id: str
    folder: Path
    run_id: str
    experiment: str
    recipe_hash: str
    world_size: int
    reused: bool = False
    eval_job_id: str = ""
    jobs: list[str] = field(default_factory=list)


def submit_pipeline(
    recipe: Recipe,
    *,
    source: str,
    force: bool = False,
    say: Callable[[str], None] = print,
) -> Submission:
    """Check, choose the MLflow run, submit; returns at once."""
    cfg = recipe.launcher
    chained = cfg.chain == "afterok"
    check_cluster(cfg)
    if chained:
        check_cluster(evaluation_request(cfg))
    world = world_size(cfg)
    if recipe.optim.batch_size % world:
        raise RecipeError(
            source,
            [
                f"optim.batch_size: got {recipe.optim.batch_size}; expected a multiple of the "
                f"{world} DDP processes ({cfg.nodes} node(s) x "
                f"{world // cfg.nodes} task(s) per node)"
            ],
        )
    from sslctl.data import load_dataset
    from sslctl.pipeline import claim_run, preflight
    from sslctl.tracking import Tracker

    dataset = load_dataset(
        recipe.data.name,
        root=recipe.data.root,
        download=recipe.data.download,
        image_size=recipe.data.image_size,
    )
    preflight(recipe, dataset, source)
    tracker = Tracker()
    rhash = recipe_hash(recipe)
    # one submission at a time per recipe here, and none while a job of it is live
    with recipe_lock(lock_file(rhash), rhash):
        previous = tracker.find(recipe.experiment, rhash)
        for run in previous:
            live = [] if run.complete else live_jobs(run.tags)
            if live:
                raise RecipeBusy(rhash, {"job": live[0], "run_id": run.run_id})
        known = {r.run_id for r in previous}
        run_id, complete = claim_run(
            recipe,
            source=source,
            force=force,
            tracker=tracker,
            extra_tags={Tag.LAUNCHER: "slurm"},
        )
        if complete:
            return Submission("", Path(), run_id, recipe.experiment, rhash, world, reused=True)
        return _submit(recipe, source, run_id, known, tracker, world, say)


def _submit(
    recipe: Recipe,
    source: str,
    run_id: str,
    known: set[str],
    tracker: Any,
    world: int,
    say: Callable[[str], None],
) -> Submission:
    """Submit the job(s) for ``run_id`` and record them; a failed submission deletes a
    run created for it."""
    cfg = recipe.launcher
    rhash = recipe_hash(recipe)
    try:
        job_ids = _send(recipe, rhash, source, run_id)
    except Exception as err:
        if run_id not in known:  # created for this submission: leave nothing half-made
            tracker.client.delete_run(run_id)
            shutil.rmtree(run_folder(rhash), ignore_errors=True)
        raise SlurmError(f"submission failed: {err}") from None
    chained = len(job_ids) == 2
    tags = {
        Tag.STATUS: Status.QUEUED,
        Tag.SLURM_JOB_ID: job_ids[0],
        Tag.SLURM_FOLDER: str(job_folder(job_ids[0])),
        Tag.SLURM_CHAIN: cfg.chain,
        Tag.WORLD_SIZE: str(world),
        **({Tag.SLURM_EVAL_JOB_ID: job_ids[1]} if chained else {}),
    }
    tracker.set_tags(run_id, tags)
    _record(recipe, rhash, source, run_id, job_ids)
    say(f"submitted {' -> '.join(job_ids)} ({cfg.chain})")
    return Submission(
        job_ids[0],
        job_folder(job_ids[0]),
        run_id,
        recipe.experiment,
        rhash,
        world,
        eval_job_id=job_ids[1] if chained else "",
        jobs=job_ids,
    )


def _send(recipe: Recipe, rhash: str, source: str, run_id: str) -> list[str]:
    """Hand the job (or the pretraining + evaluation ``afterok`` pair) to submitit; the
    job ids. A pair half submitted is cancelled before the error goes on."""
    from sslctl.launch.job import PipelineJob

    cfg = recipe.launcher
    chained = cfg.chain == "afterok"
    recipe_file = run_folder(rhash) / JOB_RECIPE
    recipe_file.write_text(to_yaml(recipe))
    env = job_environment()

    def job_for(stages: str) -> PipelineJob:
        return PipelineJob(str(recipe_file), source, run_id, str(Path.cwd()), env, stages)

    name = f"sslctl-{recipe.experiment}"
    submitted: list[Any] = []
    try:
        first = executor(cfg, name).submit(job_for("pretrain" if chained else "all"))
        submitted.append(first)
        if chained:
            evaluator = executor(evaluation_request(cfg), f"{name}-eval", after=first.job_id)
            submitted.append(evaluator.submit(job_for("evaluate")))
    except Exception:
        for job in submitted:  # the pretraining job went in but its evaluation did not
            job.cancel(check=False)
        raise
    return [str(job.job_id) for job in submitted]


def _record(recipe: Recipe, rhash: str, source: str, run_id: str, job_ids: list[str]) -> None:
    """Add the jobs to the record ``sslctl status`` reads."""
    from sslctl.tracking import tracking_uri

    parts = ["pretrain", "evaluate"] if len(job_ids) == 2 else ["all"]
    for job_id, part in zip(job_ids, parts, strict=True):
        record(
            {
                "job_id": job_id,
                "run_id": run_id,
                "experiment": recipe.experiment,
                "recipe": source,
                "hash": rhash,
                "part": part,
                "epochs": recipe.optim.epochs if part != "evaluate" else 0,
                "folder": str(job_folder(job_id)),
                "cwd": str(Path.cwd()),
                "tracking_uri": tracking_uri(),
                "submitted": time.time(),
            }
        )
