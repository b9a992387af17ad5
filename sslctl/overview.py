"""What ``sslctl status`` shows besides SLURM jobs, rebuilt from the stores alone: the
MLflow runs that have not finished (running, interrupted, waiting for their evaluation,
requeued, failed) and the progress of every sweep whose Optuna journal sits next to the
MLflow store."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sslctl.paths import sweeps_folder
from sslctl.tracking import Tracker, tracking_uri
from sslctl.vocabulary import HIDDEN, Tag, running_stage, stage_done


@dataclass
class OpenRun:
    run_id: str
    experiment: str
    name: str
    status: str
    stage: str
    epoch: int
    epochs: int
    where: str
    resume: str = ""


def resume_command(run_id: str, tags: dict[str, str]) -> str:
    """The command that continues an unfinished run: ``sslctl evaluate`` when pretraining
    is done, the sweep for a trial, else the pretraining command it was started with
    (tag ``sslctl.command``; the recipe path for runs from before that tag)."""
    if stage_done(tags, "pretrain"):
        return f"sslctl evaluate {run_id}"
    if Tag.SWEEP in tags:
        return f"sslctl sweep {tags[Tag.SWEEP]}"
    if Tag.COMMAND in tags:
        return tags[Tag.COMMAND]
    return f"sslctl pretrain {tags.get(Tag.RECIPE, 'RECIPE')} (with the --set it ran with)"


def open_runs(tracker: Tracker, limit: int = 15) -> list[OpenRun]:
    """The newest ``limit`` pipeline runs that are not complete (sweep parents excluded)."""
    client = tracker.client
    experiments = {e.experiment_id: e.name for e in client.search_experiments()}
    if not experiments:
        return []
    runs = client.search_runs(
        list(experiments), order_by=["attributes.start_time DESC"], max_results=500
    )
    rows = []
    for run in runs:
        tags = run.data.tags
        if Tag.RECIPE_HASH not in tags:  # not a pipeline run (a sweep parent, say)
            continue
        status = tags.get(Tag.STATUS, run.info.status.lower())
        if status in HIDDEN:
            continue
        history = tracker.metric_history(run.info.run_id, "pretrain/loss")
        rows.append(
            OpenRun(
                run.info.run_id,
                experiments.get(run.info.experiment_id, "?"),
                run.info.run_name or "",
                status,
                running_stage(tags) or "-",
                max((step for step, _ in history), default=0),
                int(run.data.params.get("optim.epochs", 0) or 0),
                "slurm " + tags[Tag.SLURM_JOB_ID]
                if Tag.SLURM_JOB_ID in tags
                else ("sweep " + tags[Tag.SWEEP] if Tag.SWEEP in tags else "local"),
                resume_command(run.info.run_id, tags),
            )
        )
        if len(rows) == limit:
            break
    return rows


@dataclass
class SweepProgress:
    name: str
    complete: int
    pruned: int
    failed: int
    running: int
    waiting: int
    budget: int | None
    best: float | None
    objective: str


def sweep_progress(folder: Path | None = None) -> list[SweepProgress]:
    """Trial counts per state for every study in the journals of ``folder``."""
    journals = sorted((folder or sweeps_folder(tracking_uri())).glob("*.journal"))
    if not journals:
        return []
    import optuna

    from sslctl.sweep.study import open_storage

    states = optuna.trial.TrialState
    rows = []
    for journal in journals:
        storage = open_storage(str(journal))
        for summary in optuna.study.get_all_study_summaries(storage, include_best_trial=False):
            study = optuna.load_study(study_name=summary.study_name, storage=storage)
            trials = [t for t in study.get_trials(deepcopy=False) if not t.user_attrs.get("stale")]
            count = {s: sum(t.state == s for t in trials) for s in states}
            done = [t.value for t in trials if t.state == states.COMPLETE and t.value is not None]
            maximize = study.direction == optuna.study.StudyDirection.MAXIMIZE
            rows.append(
                SweepProgress(
                    summary.study_name,
                    count[states.COMPLETE],
                    count[states.PRUNED],
                    count[states.FAIL],
                    count[states.RUNNING],
                    count[states.WAITING],
                    study.user_attrs.get("budget"),
                    (max(done) if maximize else min(done)) if done else None,
                    study.user_attrs.get("objective", "objective"),
                )
            )
    return rows
