"""A sweep worker: pulls trials from the shared Optuna storage until none are left, runs
the pipeline for each seed of the trial's point (one MLflow child run per seed) and
reports the objective (mean over seeds) back. Run as ``python -m sslctl.sweep.worker``."""

from __future__ import annotations

import argparse
import math
import statistics
from typing import Any

import optuna

from sslctl.errors import Pruned, SslctlError
from sslctl.evals.health import FLAG
from sslctl.sweep.spec import SweepSpec, load_sweep
from sslctl.sweep.study import counted, create_or_load, open_storage, start_heartbeat, suggest
from sslctl.vocabulary import Tag

States = optuna.trial.TrialState


def _over_budget(spec: SweepSpec, study: optuna.Study, trial: optuna.Trial) -> bool:
    """Budgeted samplers: is this freshly asked trial beyond ``spec.trials``?"""
    if spec.sampler == "grid" or spec.trials is None:
        return False
    earlier = [t for t in counted(study) if t.number <= trial.number and t.state != States.WAITING]
    return len(earlier) > spec.trials


def run_trial(spec: SweepSpec, trial: optuna.Trial, parent_run_id: str, say: Any = print) -> float:
    """Run every seed of the trial's point; return the mean objective. Seeds whose run
    did not train (:mod:`sslctl.evals.health`) are listed in the ``not_trained`` attr."""
    from sslctl.locks import recipe_lock
    from sslctl.paths import recipe_lock as lock_file
    from sslctl.pipeline import run_pipeline
    from sslctl.recipe import recipe_hash

    point = suggest(trial, spec)
    trial.set_user_attr("point", point)
    values, run_ids, flagged = [], [], []
    for i, seed in enumerate(spec.seeds):
        recipe = spec.recipe_for(point, seed)
        if spec.pruner != "none":
            recipe.eval.probe.every = spec.probe_every

        def on_probe(epoch: int, value: float, first: bool = i == 0) -> None:
            if not first:
                return
            trial.report(value, epoch)
            if trial.should_prune():
                raise Pruned(f"pruned at epoch {epoch} (probe {value:.2f})")

        tags = {
            "mlflow.parentRunId": parent_run_id,
            Tag.SWEEP: spec.name,
            Tag.TRIAL: str(trial.number),
        }
        say(f"trial {trial.number} seed {seed}: {point}")
        rhash = recipe_hash(recipe)
        # the same recipe running elsewhere (another sweep, a pretrain): wait, then reuse it
        with recipe_lock(lock_file(rhash), rhash, wait=True):
            result = run_pipeline(
                recipe,
                source=f"sweep {spec.name}",
                extra_tags=tags,
                on_probe=on_probe,
                say=lambda m: None,
            )
        run_ids.append(result.run_id)
        trial.set_user_attr("run_ids", run_ids)
        health = result.tags.get(Tag.HEALTH, "")
        if health.startswith(FLAG):
            flagged.append(f"seed {seed}: {health.removeprefix(FLAG + ': ')}")
            trial.set_user_attr("not_trained", flagged)
        value = result.metrics.get(spec.objective.metric)
        if value is None or not math.isfinite(value):
            raise SslctlError(
                f"objective {spec.objective.metric!r} missing or not finite in run {result.run_id}"
            )
        values.append(value)
    if len(values) > 1:
        trial.set_user_attr("std", statistics.stdev(values))
    return statistics.fmean(values)


def work(spec: SweepSpec, storage_url: str, parent_run_id: str, say: Any = print) -> int:
    """Pull and run trials until the sweep has none left; returns how many this worker ran."""
    study = create_or_load(spec, open_storage(storage_url))
    ran = 0
    while True:
        waiting = study.get_trials(deepcopy=False, states=(States.WAITING,))
        if spec.sampler == "grid" and not waiting:
            return ran
        trial = study.ask()
        fixed = "fixed_params" in study._storage.get_trial_system_attrs(trial._trial_id)
        if (spec.sampler == "grid" and not fixed) or _over_budget(spec, study, trial):
            # another worker took the last queued point, or the budget is spent
            study._storage.set_trial_user_attr(trial._trial_id, "stale", True)  # before tell:
            study.tell(trial, state=States.FAIL)  # a finished trial cannot be updated
            return ran
        stop = start_heartbeat(trial)
        try:
            value = run_trial(spec, trial, parent_run_id, say)
        except Pruned as err:
            stop.set()
            trial.set_user_attr("reason", str(err))
            study.tell(trial, state=States.PRUNED)
        except (SslctlError, ValueError, RuntimeError) as err:
            stop.set()
            trial.set_user_attr("reason", f"{type(err).__name__}: {err}"[:2000])
            study.tell(trial, state=States.FAIL)
            say(f"trial {trial.number} failed: {err}")
        else:
            stop.set()
            study.tell(trial, value)
        ran += 1


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="sslctl sweep worker")
    parser.add_argument("sweep")
    parser.add_argument("--storage", required=True)
    parser.add_argument("--parent-run", required=True)
    args = parser.parse_args(argv)
    work(load_sweep(args.sweep), args.storage, args.parent_run)


if __name__ == "__main__":
    main()
