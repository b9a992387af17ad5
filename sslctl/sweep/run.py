"""Running a sweep: the study and the MLflow parent run are created once, then workers
(in-process, local processes or SLURM array tasks) pull trials; at the end a leaderboard
and the best recipe as YAML. Running the same sweep again continues where it stopped."""

from __future__ import annotations

import os
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import optuna

from sslctl.launch.resources import local_worker_env
from sslctl.paths import sweep_logs
from sslctl.recipe import to_yaml
from sslctl.sweep.spec import SweepSpec, worker_command
from sslctl.sweep.study import (
    check_storage,
    counted,
    create_or_load,
    default_storage,
    open_storage,
    reap_stale,
    remaining,
    study_name,
)
from sslctl.sweep.worker import work
from sslctl.tracking import Tracker, tag_equals
from sslctl.vocabulary import Tag

States = optuna.trial.TrialState


@dataclass
class Row:
    """One leaderboard line."""

    trial: int
    state: str
    point: dict[str, Any]
    value: float | None
    std: float | None
    runs: list[str]
    reason: str
    not_trained: list[str] = field(default_factory=list)  # "seed S: why", per flagged seed


@dataclass
class SweepResult:
    name: str
    study: str
    storage: str
    parent_run_id: str
    rows: list[Row]
    reaped: list[int]
    already_finished: bool
    best_yaml: Path | None
    jobs: list[str] = field(default_factory=list)
    pending: bool = False  # SLURM workers submitted (or running) and not waited for
    links: dict[str, str] = field(default_factory=dict)  # linked path -> swept path


def _parent_run(spec: SweepSpec, tracker: Tracker, name: str) -> str:
    experiment = spec.recipe_for({}, spec.seeds[0]).experiment
    exp_id = tracker.experiment_id(experiment)
    found = tracker.client.search_runs(
        [exp_id], filter_string=tag_equals(Tag.SWEEP_STUDY, name), max_results=1
    )
    if found:
        return found[0].info.run_id
    run_id = tracker.create(
        exp_id,
        f"sweep-{spec.name}",
        {Tag.SWEEP: spec.name, Tag.SWEEP_STUDY: name, Tag.SWEEP_PARENT: "true"},
    )
    tracker.log_params(
        run_id,
        {
            "sampler": spec.sampler,
            "pruner": spec.pruner,
            "objective": spec.objective.metric,
            "direction": spec.objective.direction,
            "space": list(spec.space),
            "seeds": spec.seeds,
            "base": spec.base,
            "trials": spec.trials,
        },
    )
    return run_id


def run_sweep(
    spec: SweepSpec,
    *,
    storage: str | None = None,
    workers: int | None = None,
    launcher: str | None = None,
    wait: bool = False,
    say: Any = print,
) -> SweepResult:
    """Run (or continue, or just report) a sweep. With the SLURM launcher the workers are
    an array job; without ``wait`` this returns once they are submitted (or, if they are
    still running from an earlier call, at once) with the leaderboard so far."""
    on_slurm = (launcher or spec.launcher) == "slurm"
    if storage:
        check_storage(storage)
    if on_slurm:  # before anything is created
        from sslctl.launch.sweep import check_sweep_cluster

        check_sweep_cluster(spec)
    else:
        from sslctl.recipe.checks import check_device_here

        check_device_here(spec.recipe_for({}, spec.seeds[0]), f"sweep {spec.name}")
    url = storage or default_storage(spec)
    store = open_storage(url)
    study = create_or_load(spec, store)  # once, before any worker starts
    tracker = Tracker()
    parent = _parent_run(spec, tracker, study.study_name)
    reaped = reap_stale(study)
    if reaped:
        say(f"trials {reaped} were left running by a dead worker: marked failed, queued again")
    finished = remaining(spec, study) == 0
    jobs: list[str] = []
    n = workers or spec.workers
    if not finished:
        tracker.reopen(parent)
    if not finished and on_slurm:
        jobs = _slurm_workers(spec, url, parent, study.study_name, n, say)
        if wait:
            from sslctl.launch.sweep import wait_for

            states = wait_for(jobs)
            failed = [j for j, s in states.items() if s != "COMPLETED"]
            if failed:
                say(f"array tasks {failed} did not complete; see sslctl status")
    elif not finished:
        if n == 1:
            work(spec, url, parent, say=say)
        else:
            _local_workers(spec, url, parent, n, study, say)
    pending = bool(jobs) and not wait
    if not pending and tracker.get(parent).status != "FINISHED":
        tracker.finish(parent, "FINISHED")
    result = _result(spec, study, url, parent, reaped, finished)
    result.jobs, result.pending = jobs, pending
    if result.best_yaml is not None:
        tracker.log_artifact(parent, result.best_yaml)
    return result


def _slurm_workers(
    spec: SweepSpec, url: str, parent: str, study: str, n: int, say: Any
) -> list[str]:
    """This sweep's array tasks still in the queue, or a new array of ``n`` workers."""
    from sslctl.launch.sweep import active_sweep_jobs, submit_sweep_workers

    active = active_sweep_jobs(study)
    if active:
        say(f"SLURM workers of this sweep are still queued or running: {', '.join(active)}")
        return active
    jobs = submit_sweep_workers(spec, url, parent, study, n, spec.array_parallelism or n)
    say(f"submitted {n} SLURM array task(s): {', '.join(jobs)}")
    return jobs


def _local_workers(
    spec: SweepSpec, url: str, parent: str, n: int, study: optuna.Study, say: Any
) -> None:
    logs = sweep_logs(spec.name, url)
    logs.mkdir(parents=True, exist_ok=True)
    cmd = worker_command(spec, url, parent)
    procs = []
    for i in range(n):
        log = open(logs / f"worker-{i}.log", "a")  # noqa: SIM115 - closed below
        env = {**os.environ, **local_worker_env(n)}
        procs.append((subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env), log))
    say(f"{n} workers started; logs in {logs}")
    try:
        while any(p.poll() is None for p, _ in procs):
            time.sleep(2)
    finally:
        for proc, log in procs:
            if proc.poll() is None:
                proc.terminate()
            log.close()
    bad = [p.returncode for p, _ in procs if p.returncode]
    if bad:
        say(f"{len(bad)} worker(s) exited with an error; see {logs}")


def _result(
    spec: SweepSpec,
    study: optuna.Study,
    url: str,
    parent: str,
    reaped: list[int],
    finished: bool,
) -> SweepResult:
    rows = [
        Row(
            t.number,
            t.state.name,
            t.user_attrs.get("point") or dict(t.params),
            t.value if t.state == States.COMPLETE else None,
            t.user_attrs.get("std"),
            list(t.user_attrs.get("run_ids", [])),
            t.user_attrs.get("reason", ""),
            list(t.user_attrs.get("not_trained", [])),
        )
        for t in counted(study)
        if t.state != States.WAITING
    ]
    sign = -1 if spec.objective.direction == "maximize" else 1
    # points where a seed did not train go after the others, and are never "best"
    rows.sort(
        key=lambda r: (r.value is None, bool(r.not_trained), sign * (r.value or 0.0), r.trial)
    )
    best = None
    if rows and rows[0].value is not None and not rows[0].not_trained:
        best = (
            Path(url).parent / f"{spec.name}.best.yaml"
            if "://" not in url
            else Path(f"{spec.name}.best.yaml")
        )
        recipe = spec.recipe_for(rows[0].point, spec.seeds[0])
        best.write_text(
            f"# best point of sweep {spec.name}: {spec.objective.metric} = "
            f"{rows[0].value:.3f}\n" + to_yaml(recipe)
        )
    return SweepResult(
        spec.name, study_name(spec), url, parent, rows, reaped, finished, best, links=spec.link
    )
