"""Following the jobs sslctl submitted: SLURM state (``squeue``, then ``sacct``), pipeline
stage and epoch (from the MLflow run), waiting for a job, cancelling one."""

from __future__ import annotations

import re
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sslctl.launch.cluster import SlurmError, run_command, submitted_jobs
from sslctl.vocabulary import SETTLED, Status, Tag, running_stage, stage_states

FINAL_STATES = {
    "COMPLETED",
    "FAILED",
    "CANCELLED",
    "TIMEOUT",
    "OUT_OF_MEMORY",
    "NODE_FAIL",
    "BOOT_FAIL",
    "DEADLINE",
    "ENDED",  # left the queue; no accounting to say how
}


def _queued(job_ids: list[str]) -> tuple[dict[str, str], set[str]]:
    """``squeue`` states of the jobs still queued or running, and the jobs it says are not
    (finished; an id SLURM has already purged is "invalid" to squeue). A controller that
    does not answer says nothing about either."""
    out = run_command(["squeue", "-h", "-r", "-o", "%i|%T", "-j", ",".join(job_ids)], timeout=20)
    if out.returncode != 0:
        if "Invalid job id" not in out.stderr:
            return {}, set()
        if len(job_ids) == 1:
            return {}, set(job_ids)
        states: dict[str, str] = {}
        gone: set[str] = set()
        for job in job_ids:  # one purged id fails the whole query: ask one by one
            one, left = _queued([job])
            states.update(one)
            gone |= left
        return states, gone
    states = {}
    for line in out.stdout.splitlines():
        job, _, state = line.partition("|")
        if job in job_ids and state:
            states[job] = state
    return states, set(job_ids) - set(states)


def slurm_states(job_ids: list[str]) -> dict[str, str]:
    """``{job id: state}``: ``squeue`` for jobs still queued or running (a requeued job is
    PENDING there while ``sacct`` may still show its previous RUNNING record), ``sacct``
    for finished ones, and ``ENDED`` for a job that left the queue when there is no
    accounting to say how it ended."""
    if not job_ids:
        return {}
    states: dict[str, str] = {}
    gone: set[str] = set()
    if shutil.which("squeue"):
        states, gone = _queued(job_ids)
    missing = [j for j in job_ids if j not in states]
    if missing and shutil.which("sacct"):
        out = run_command(
            ["sacct", "-n", "-P", "-X", "-o", "JobID,State", "-j", ",".join(missing)], timeout=20
        )
        if out.returncode == 0:
            for line in out.stdout.splitlines():
                job, _, state = line.partition("|")
                if job in missing and state:
                    states[job] = state.split()[0]  # "CANCELLED by 0" -> CANCELLED
    for job in gone:
        states.setdefault(job, "ENDED")
    return states


@dataclass
class JobStatus:
    job_id: str
    state: str
    stage: str
    epoch: int
    epochs: int
    run_id: str
    requeues: str
    recipe: str
    part: str = "all"


def job_status(entries: list[dict[str, Any]]) -> list[JobStatus]:
    """SLURM state, pipeline stage, epoch and MLflow run of each recorded job."""
    from sslctl.tracking import Tracker

    states = slurm_states([e["job_id"] for e in entries])
    rows = []
    trackers: dict[str, Tracker] = {}
    for e in entries:
        uri = e.get("tracking_uri", "")
        tracker = trackers.setdefault(uri, Tracker(uri or None))
        stage, epoch, requeues = "?", 0, "0"
        try:
            run = tracker.get(e["run_id"])
            tags = run.tags
            stages = list(stage_states(tags))
            status = tags.get(Tag.STATUS, "")
            if status in SETTLED:
                stage = status
            else:
                busy = running_stage(tags)
                stage = busy or (stages[-1] if stages else status or "starting")
            history = tracker.metric_history(e["run_id"], "pretrain/loss")
            epoch = max((step for step, _ in history), default=0)
            evaluating = e.get("part") == "evaluate"
            requeues = tags.get(Tag.SLURM_EVAL_REQUEUES if evaluating else Tag.SLURM_REQUEUES, "0")
        except Exception:  # run deleted or store unreachable: still show the job
            stage = "run missing"
        rows.append(
            JobStatus(
                e["job_id"],
                states.get(e["job_id"], "UNKNOWN"),
                stage,
                epoch,
                int(e.get("epochs", 0)),
                e["run_id"],
                requeues,
                e.get("recipe", ""),
                e.get("part", "all"),
            )
        )
    return rows


def live_jobs(tags: dict[str, str]) -> list[str]:
    """The SLURM jobs recorded on a run (pretraining and evaluation job ids) that are
    still queued or running: a second submission must not write into that run."""
    ids = [tags[k] for k in (Tag.SLURM_JOB_ID, Tag.SLURM_EVAL_JOB_ID) if tags.get(k)]
    states = slurm_states(ids) if ids else {}
    return [j for j in ids if j in states and states[j] not in FINAL_STATES]


JOB_ID = re.compile(r"\d{1,12}(_\d{1,9})?")  # a job, or one task of an array job


def known_to_slurm(job_id: str) -> bool:
    """Whether SLURM has a record of ``job_id``: queued or running (``squeue``) or in
    the accounting (``sacct``)."""
    if shutil.which("squeue"):
        states, _ = _queued([job_id])
        if job_id in states:
            return True
    if shutil.which("sacct"):
        out = run_command(["sacct", "-n", "-P", "-X", "-o", "JobID", "-j", job_id], timeout=20)
        if out.returncode == 0 and job_id in out.stdout.split():
            return True
    return False


def cancel(job_id: str) -> str:
    """``scancel`` the job and close its MLflow run as KILLED (status ``cancelled``); the
    checkpoint stays, so submitting the recipe again resumes it. Returns the run id.
    Only a job id SLURM knows is passed on (never an option such as ``--me``, which
    would cancel all of the user's jobs)."""
    if not JOB_ID.fullmatch(job_id):
        raise SlurmError(
            f"job id: got {job_id!r}; expected a SLURM job id such as 12345 (or 12345_2 for "
            "one task of an array job)"
        )
    if shutil.which("scancel") is None:
        raise SlurmError("no SLURM here: `scancel` is not on PATH")
    if not known_to_slurm(job_id):
        raise SlurmError(f"job {job_id}: SLURM does not know this job (not in squeue or sacct)")
    entry = next((e for e in submitted_jobs() if e["job_id"] == job_id), None)
    out = run_command(["scancel", job_id])
    if out.returncode != 0:
        raise SlurmError(f"scancel {job_id} failed: {(out.stderr or out.stdout).strip()}")
    if entry is None:
        return ""
    from sslctl.tracking import Tracker

    tracker = Tracker(entry.get("tracking_uri") or None)
    try:
        run = tracker.get(entry["run_id"])
    except Exception:
        return entry["run_id"]
    if not run.complete:
        # give the job's own signal handling a moment, then record the cancellation
        for _ in range(20):
            if slurm_states([job_id]).get(job_id, "CANCELLED") in FINAL_STATES:
                break
            time.sleep(0.5)
        tracker.set_tags(entry["run_id"], {Tag.STATUS: Status.CANCELLED})
        tracker.finish(entry["run_id"], "KILLED")
    return entry["run_id"]


def wait(
    job_id: str,
    run_id: str,
    epochs: int,
    on_update: Callable[[str, str, int], None],
    poll_s: float = 2.0,
    timeout_s: float | None = None,
) -> str:
    """Follow a job until SLURM reports a final state; returns that state. ``on_update``
    receives ``(state, stage, epoch)`` on every poll."""
    start = time.monotonic()
    entry = {"job_id": job_id, "run_id": run_id, "epochs": epochs, "tracking_uri": ""}
    from sslctl.tracking import tracking_uri

    entry["tracking_uri"] = tracking_uri()
    while True:
        row = job_status([entry])[0]
        on_update(row.state, row.stage, row.epoch)
        if row.state in FINAL_STATES:
            return row.state
        if timeout_s is not None and time.monotonic() - start > timeout_s:
            return row.state
        time.sleep(poll_s)
