"""Measuring a claim: the trials it needs, run where missing.

Pipeline claims build their recipes (:func:`sslctl.claims.spec.recipes`) and look each one
up in MLflow by recipe hash (:meth:`sslctl.tracking.Tracker.find`): finished runs are
reused, the rest run through :func:`sslctl.pipeline.run_pipeline` (in this process, in
``workers`` processes, or as SLURM jobs through :func:`sslctl.launch.slurm.submit_pipeline`).
An interrupted check leaves finished runs finished and the unfinished one resumable from
its checkpoint, so running it again continues. Study claims run the small exact
experiments of :mod:`sslctl.studies` and log them as ``sslctl study`` does.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict
from typing import Any

from sslctl.claims.spec import Claim, recipes
from sslctl.claims.verdict import Trial
from sslctl.errors import SslctlError
from sslctl.recipe import Recipe, recipe_hash
from sslctl.tracking import Tracker
from sslctl.vocabulary import Tag

Say = Callable[[str], None]


def _run_one(recipe: Recipe, claim: str) -> str:
    """One pipeline (in a worker process); returns its MLflow run id."""
    from sslctl.pipeline import run_pipeline

    result = run_pipeline(
        recipe,
        source=f"claim {claim}",
        extra_tags={Tag.CLAIM: claim},
        say=lambda m: None,
    )
    return result.run_id


def _finished(tracker: Tracker, recipe: Recipe) -> Any:
    """The finished run of this recipe whose evaluations were made with this recipe's
    evaluation settings (the recipe hash is the pretraining identity; a pretrained run
    with other evaluation settings still has evaluations pending, which the pipeline
    runs), or None."""
    from sslctl.evaluate import pending

    found = tracker.find(recipe.experiment, recipe_hash(recipe))
    return next((r for r in found if r.complete and not pending(recipe, r.tags)), None)


def pipeline_trials(
    claim: Claim,
    scale: str,
    *,
    workers: int = 1,
    launcher: str = "local",
    run: bool = True,
    say: Say = print,
) -> list[Trial]:
    """Every run of the claim, reusing finished ones (found by recipe hash); ``run=False``
    after :func:`run_all_missing` (what is still missing then failed there: not retried)."""
    todo = recipes(claim, scale)
    tracker = Tracker()
    missing = _missing(tracker, todo)
    done = f"claim {claim.name}: {len(todo)} runs, {len(todo) - len(missing)}"
    if run:
        say(f"{done} already finished (found by recipe hash), {len(missing)} to run")
        _run_missing([(claim.name, item) for item in missing], workers, launcher, say)
    else:
        say(f"{done} finished, {len(missing)} did not finish")
    return [_trial(tracker, *item) for item in todo]


def run_all_missing(
    claims: list[Claim], scale: str, *, workers: int = 1, launcher: str = "local", say: Say = print
) -> dict[str, list[Trial]]:
    """Before checking several claims: the missing runs of all their pipelines at once, in
    one pool (a worker that finishes one claim's last run takes the next claim's first
    instead of idling until the slowest run of that claim ends); runs that claims share
    (same experiment and recipe hash) once. The study claims' studies run in the same
    pool, after the pipelines (they are short, so they fill the end); returns their trials
    by claim name (a study that failed in the pool is left out: its check runs it again
    and reports the error)."""
    tracker = Tracker()
    missing: dict[tuple[str, str], tuple[str, tuple]] = {}
    for claim in (c for c in claims if c.kind == "pipeline"):
        for item in _missing(tracker, recipes(claim, scale)):
            key = (item[3].experiment, recipe_hash(item[3]))
            missing.setdefault(key, (claim.name, item))
    studies = [c for c in claims if c.kind != "pipeline"]
    if missing:
        say(f"{len(missing)} runs missing across {len(claims)} claims: running them together")
    if launcher == "local" and workers > 1:
        return _in_processes(_largest_first(list(missing.values())), workers, say, studies, scale)
    _run_missing(list(missing.values()), workers, launcher, say)
    return {c.name: study_trials(c, scale, say)[0] for c in studies}


def _missing(tracker: Tracker, todo: list[tuple]) -> list[tuple]:
    """The (label, value, seed, recipe) items without a finished run; the experiments are
    created first, so no worker process creates the store."""
    for experiment in dict.fromkeys(r.experiment for *_, r in todo):
        tracker.experiment_id(experiment)
    return [item for item in todo if _finished(tracker, item[3]) is None]


def _largest_first(missing: list[tuple[str, tuple]]) -> list[tuple[str, tuple]]:
    """The runs ordered by estimated work, largest first (parameters x epochs: the
    width-4096 projector's runs take three times the others'), so that the pool's last
    runs are short and no worker idles long at the end (longest-processing-time first)."""
    from sslctl.recipe.checks import model_size

    return sorted(missing, key=lambda m: -model_size(m[1][3])[0] * m[1][3].optim.epochs)


def _run_missing(missing: list[tuple[str, tuple]], workers: int, launcher: str, say: Say) -> None:
    """(claim name, item) pairs, largest first: as SLURM jobs, in ``workers`` processes
    or here."""
    missing = _largest_first(missing)
    if missing and launcher == "slurm":
        _on_slurm(missing, say)
    elif missing and workers > 1:
        _in_processes(missing, workers, say)
    else:
        for claim, (label, _, seed, recipe) in missing:
            say(f"  {label} seed {seed}: running")
            say(f"  {label} seed {seed}: {_outcome(lambda r=recipe, c=claim: _run_one(r, c))}")


def _outcome(run: Callable[[], str]) -> str:
    """``run <id>``, or why the run failed (a failed run does not stop the others)."""
    try:
        return f"run {run()}"
    except Exception as err:  # the pipeline closed the run as failed, with its error
        return f"failed: {str(err)[:300]}"


def _trial(tracker: Tracker, label: str, value: Any, seed: int, recipe: Recipe) -> Trial:
    """The finished run of one point and seed, or the run that did not finish (its error
    recorded; the verdict leaves it out and says so)."""
    ref = _finished(tracker, recipe)
    if ref is not None:
        return Trial(label, value, seed, ref.run_id, ref.metrics)
    found = tracker.find(recipe.experiment, recipe_hash(recipe))
    if not found:
        raise SslctlError(f"the run of {label} seed {seed} was not found after running it")
    last = found[0]
    error = last.tags.get(Tag.ERROR) or f"status {last.tags.get(Tag.STATUS, last.status)}"
    return Trial(label, value, seed, last.run_id, {}, error=error[:500])


def _in_processes(
    missing: list[tuple[str, tuple]],
    workers: int,
    say: Say,
    studies: Sequence[Claim] = (),
    scale: str = "quick",
) -> dict[str, list[Trial]]:
    """The missing runs (in the order given: largest first, :func:`_largest_first`), then
    the studies, in ``workers`` spawned processes that split the cores; returns the
    studies' trials by claim name."""
    from sslctl.launch.resources import local_worker_env

    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(
        max_workers=workers,
        mp_context=context,
        initializer=_set_environment,
        initargs=(local_worker_env(workers),),
    ) as pool:
        runs = {
            pool.submit(_run_one, recipe, claim): f"{label} seed {seed}"
            for claim, (label, _, seed, recipe) in missing
        }
        measured = {pool.submit(_study_in_worker, c, scale): c.name for c in studies}
        trials: dict[str, list[Trial]] = {}
        for future in as_completed([*runs, *measured]):
            if future in runs:
                say(f"  {runs[future]}: {_outcome(future.result)}")
            elif future.exception() is None:
                trials[measured[future]] = future.result()
                say(f"  claim {measured[future]}: study done")
            else:  # its check runs it again here, where the error is reported
                say(f"  claim {measured[future]}: study failed: {future.exception()}")
    return trials


def _study_in_worker(claim: Claim, scale: str) -> list[Trial]:
    """A study claim's trials, measured and logged in a pool worker."""
    return study_trials(claim, scale, say=lambda m: None)[0]


def _set_environment(env: dict[str, str]) -> None:
    """In a fresh worker, before its first run imports torch (which reads
    ``OMP_NUM_THREADS`` once, at import)."""
    os.environ.update(env)


def _on_slurm(missing: list[tuple[str, tuple]], say: Say) -> None:
    """Submit each missing recipe as a SLURM job and wait for all of them."""
    from sslctl.launch.slurm import submit_pipeline
    from sslctl.launch.sweep import wait_for

    jobs = []
    for claim, (*_, recipe) in missing:
        recipe.launcher.kind = "slurm"
        sub = submit_pipeline(recipe, source=f"claim {claim}", say=say)
        jobs += [j for j in (sub.job_id, sub.eval_job_id) if j]
    say(f"submitted SLURM jobs {', '.join(jobs)}; waiting")
    states = wait_for(jobs)
    bad = {j: s for j, s in states.items() if s != "COMPLETED"}
    if bad:
        say(f"SLURM jobs that did not complete: {bad}")


def study_trials(claim: Claim, scale: str, say: Say = print) -> tuple[list[Trial], str]:
    """Run the claim's study (``scales.<scale>.options`` are its keyword arguments) and log
    it to MLflow as ``sslctl study`` does; trials are its rows, run id the study run's."""
    from sslctl.study_log import log_study

    options = dict(claim.scales[scale].options) if scale in claim.scales else {}
    seeds = tuple(range(claim.seeds))
    if claim.kind == "study-ica":
        from sslctl.studies.ica import run_ica_study

        options.setdefault("sources", (8,))
        options["sources"] = tuple(options["sources"])
        rows = run_ica_study(seeds=seeds, **options)
    else:
        from sslctl.studies.spectral import run_spectral_study

        rows = run_spectral_study(seeds=seeds, **options)
    name = claim.kind.removeprefix("study-")
    say(f"claim {claim.name}: study {name} ran {len(rows)} rows")
    run_id = log_study(
        name, {**options, "seeds": seeds, "claim": claim.name}, rows, _table_text(name, rows)
    )
    trials = []
    for row in rows:
        data = asdict(row)
        metrics = {k: float(v) for k, v in data.items() if isinstance(v, float)}
        trials.append(Trial(data["method"], None, data["seed"], run_id, metrics))
    return trials, run_id


def _table_text(name: str, rows: list[Any]) -> str:
    """The study's table as plain text, as ``sslctl study`` logs it."""
    import io

    from rich.console import Console

    from sslctl.studies.report import rows_table

    console = Console(width=120, record=True, file=io.StringIO(), color_system=None)
    console.print(rows_table(f"study {name}", rows))
    return console.export_text()


def measure(
    claim: Claim,
    scale: str,
    *,
    workers: int = 1,
    launcher: str = "local",
    run: bool = True,
    say: Say = print,
) -> list[Trial]:
    if claim.kind == "pipeline":
        return pipeline_trials(claim, scale, workers=workers, launcher=launcher, run=run, say=say)
    return study_trials(claim, scale, say)[0]
