"""The SLURM launcher: submit the pipeline through submitit, follow it, list and cancel.

``submit_pipeline`` checks the cluster first (``sbatch`` on PATH, controller answering,
partition known, ``sbatch --test-only`` accepting the request) and the recipe (data,
loss, batch divisible by the number of DDP processes), and only then chooses or creates
the MLflow run and submits one job that runs every stage (pretrain -> linear -> OOD ->
diagnostics -> baselines). Any failure before submission is a :class:`SlurmError`
(exit code 2) with nothing submitted and no MLflow run left behind.

Jobs are recorded in ``$SSLCTL_HOME/slurm/jobs.jsonl`` (default ``.sslctl``), which
``sslctl status`` reads together with ``sacct`` and MLflow.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sslctl.errors import RecipeError, SslctlError
from sslctl.launch.resources import executor_parameters, sbatch_options, world_size
from sslctl.recipe import Recipe, recipe_hash, to_yaml
from sslctl.recipe.schema import LauncherConfig

FINAL_STATES = {
    "COMPLETED",
    "FAILED",
    "CANCELLED",
    "TIMEOUT",
    "OUT_OF_MEMORY",
    "NODE_FAIL",
    "BOOT_FAIL",
    "DEADLINE",
}


class SlurmError(SslctlError):
    """SLURM is unreachable or refuses the request (exit code 2, nothing submitted)."""


def sslctl_home() -> Path:
    return Path(os.environ.get("SSLCTL_HOME", ".sslctl")).resolve()


def slurm_folder() -> Path:
    """submitit's folder; ``%j`` becomes the job id (one folder per job)."""
    return sslctl_home() / "slurm" / "%j"


def _registry() -> Path:
    return sslctl_home() / "slurm" / "jobs.jsonl"


def _run(cmd: list[str], timeout: float = 30) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise SlurmError(f"SLURM did not answer within {timeout:.0f} s: {' '.join(cmd)}") from None


def check_cluster(cfg: LauncherConfig) -> None:
    """Raise :class:`SlurmError` unless SLURM would accept this request now."""
    for tool in ("sbatch", "sinfo", "squeue"):
        if shutil.which(tool) is None:
            raise SlurmError(
                f"no SLURM here: `{tool}` is not on PATH (use --launcher local, or run on a "
                "cluster login node; `make slurm-up` starts a single-node test cluster)"
            )
    info = _run(["sinfo", "-h", "-o", "%P|%a"])
    if info.returncode != 0:
        detail = (info.stderr or info.stdout).strip().splitlines()
        raise SlurmError(
            "SLURM controller unreachable: `sinfo` failed" + (f" ({detail[-1]})" if detail else "")
        )
    partitions = {}
    for line in info.stdout.split():
        name, _, avail = line.partition("|")
        partitions[name.rstrip("*")] = avail
    if cfg.partition is not None and cfg.partition not in partitions:
        raise SlurmError(
            f"launcher.partition: got {cfg.partition!r}; this cluster has "
            f"{sorted(partitions) or 'no partitions'}"
        )
    test = _run(["sbatch", "--test-only", *sbatch_options(cfg), "--wrap", "true"])
    if test.returncode != 0:
        why = " ".join((test.stderr or test.stdout).split()).replace("sbatch: error: ", "")
        raise SlurmError(f"SLURM refuses the request ({' '.join(sbatch_options(cfg)[1:])}): {why}")


@dataclass
class Submission:
    """What ``sslctl pretrain --launcher slurm`` reports."""

    job_id: str
    folder: Path
    run_id: str
    experiment: str
    recipe_hash: str
    world_size: int
    reused: bool = False


def submit_pipeline(
    recipe: Recipe,
    *,
    source: str,
    force: bool = False,
    say: Callable[[str], None] = print,
) -> Submission:
    """Check, choose the MLflow run, submit; returns at once."""
    cfg = recipe.launcher
    check_cluster(cfg)
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
    from sslctl.pipeline import claim_run, preflight, runs_root
    from sslctl.tracking import STATUS_TAG, TAG, Tracker, tracking_uri

    dataset = load_dataset(recipe.data.name, root=recipe.data.root, download=recipe.data.download)
    preflight(recipe, dataset, source)
    tracker = Tracker()
    rhash = recipe_hash(recipe)
    known = {r.run_id for r in tracker.find(recipe.experiment, rhash)}
    run_id, complete = claim_run(
        recipe, source=source, force=force, tracker=tracker, extra_tags={f"{TAG}launcher": "slurm"}
    )
    if complete:
        return Submission("", Path(), run_id, recipe.experiment, rhash, world, reused=True)
    workdir = runs_root().resolve() / rhash
    recipe_file = workdir / "recipe.yaml"
    recipe_file.write_text(to_yaml(recipe))
    env = {
        "MLFLOW_TRACKING_URI": tracking_uri(),
        "SSLCTL_HOME": str(sslctl_home()),
    }
    from sslctl.launch.job import PipelineJob

    job_fn = PipelineJob(str(recipe_file), source, run_id, str(Path.cwd()), env)
    try:
        job = _executor(cfg, f"sslctl-{recipe.experiment}").submit(job_fn)
    except Exception as err:
        if run_id not in known:  # created for this submission: leave nothing half-made
            tracker.client.delete_run(run_id)
            shutil.rmtree(workdir, ignore_errors=True)
        raise SlurmError(f"submission failed: {err}") from None
    folder = Path(str(slurm_folder()).replace("%j", str(job.job_id)))
    tracker.set_tags(
        run_id,
        {
            STATUS_TAG: "queued",
            "sslctl.slurm.job_id": str(job.job_id),
            "sslctl.slurm.folder": str(folder),
            f"{TAG}world_size": str(world),
        },
    )
    _record(
        {
            "job_id": str(job.job_id),
            "run_id": run_id,
            "experiment": recipe.experiment,
            "recipe": source,
            "hash": rhash,
            "epochs": recipe.optim.epochs,
            "folder": str(folder),
            "cwd": str(Path.cwd()),
            "tracking_uri": tracking_uri(),
            "submitted": time.time(),
        }
    )
    return Submission(str(job.job_id), folder, run_id, recipe.experiment, rhash, world)


def _executor(cfg: LauncherConfig, name: str) -> Any:
    import submitit

    executor = submitit.SlurmExecutor(folder=slurm_folder(), python=sys.executable)
    executor.update_parameters(**executor_parameters(cfg, name))
    return executor


def _record(entry: dict[str, Any]) -> None:
    path = _registry()
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        handle.write(json.dumps(entry) + "\n")


def submitted_jobs() -> list[dict[str, Any]]:
    """Jobs submitted from this working directory, oldest first."""
    try:
        lines = _registry().read_text().splitlines()
    except OSError:
        return []
    cwd = str(Path.cwd())
    jobs = [json.loads(line) for line in lines if line.strip()]
    return [j for j in jobs if j.get("cwd") == cwd]


def slurm_states(job_ids: list[str]) -> dict[str, str]:
    """``{job id: state}``: ``squeue`` for jobs still queued or running (a requeued job is
    PENDING there while ``sacct`` may still show its previous RUNNING record), ``sacct``
    for finished ones."""
    if not job_ids:
        return {}
    states: dict[str, str] = {}
    if shutil.which("squeue"):
        out = _run(["squeue", "-h", "-o", "%i|%T", "-j", ",".join(job_ids)], timeout=20)
        for line in out.stdout.splitlines():
            job, _, state = line.partition("|")
            if job in job_ids and state:
                states[job] = state
    missing = [j for j in job_ids if j not in states]
    if missing and shutil.which("sacct"):
        out = _run(
            ["sacct", "-n", "-P", "-X", "-o", "JobID,State", "-j", ",".join(missing)], timeout=20
        )
        if out.returncode == 0:
            for line in out.stdout.splitlines():
                job, _, state = line.partition("|")
                if job in missing and state:
                    states[job] = state.split()[0]  # "CANCELLED by 0" -> CANCELLED
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


def job_status(entries: list[dict[str, Any]]) -> list[JobStatus]:
    """SLURM state, pipeline stage, epoch and MLflow run of each recorded job."""
    from sslctl.tracking import STATUS_TAG, Tracker

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
            running = [k.split(".")[-1] for k, v in tags.items() if k.startswith("sslctl.stage.")]
            status = tags.get(STATUS_TAG, "")
            if status in ("complete", "failed", "queued", "cancelled"):
                stage = status
            else:
                busy = [s for s in running if tags.get(f"sslctl.stage.{s}") == "running"]
                stage = busy[0] if busy else (running[-1] if running else status or "starting")
            history = tracker.metric_history(e["run_id"], "pretrain/loss")
            epoch = max((step for step, _ in history), default=0)
            requeues = tags.get("sslctl.slurm.requeues", "0")
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
            )
        )
    return rows


def cancel(job_id: str) -> str:
    """``scancel`` the job and close its MLflow run as KILLED (status ``cancelled``); the
    checkpoint stays, so submitting the recipe again resumes it. Returns the run id."""
    entry = next((e for e in submitted_jobs() if e["job_id"] == job_id), None)
    if shutil.which("scancel") is None:
        raise SlurmError("no SLURM here: `scancel` is not on PATH")
    out = _run(["scancel", job_id])
    if out.returncode != 0:
        raise SlurmError(f"scancel {job_id} failed: {(out.stderr or out.stdout).strip()}")
    if entry is None:
        return ""
    from sslctl.tracking import STATUS_TAG, Tracker

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
        tracker.set_tags(entry["run_id"], {STATUS_TAG: "cancelled"})
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


def submit_sweep_workers(spec: Any, storage_url: str, parent_run_id: str, n: int) -> list[str]:
    """Submit ``n`` sweep workers as one SLURM array (one worker per array task), each
    running ``python -m sslctl.sweep.worker <sweep> --storage URL --parent-run ID``.
    Resources come from the base recipe's ``launcher:`` block, one process per task (one
    GPU when the block asks for GPUs). Returns the array task ids (``<job>_<i>``)."""
    from sslctl.tracking import tracking_uri

    base = spec.recipe_for({}, spec.seeds[0]).launcher
    cfg = base.model_copy(
        update={"nodes": 1, "gpus_per_node": min(base.gpus_per_node, 1), "tasks_per_node": None}
    )
    check_cluster(cfg)
    if "://" not in storage_url:
        storage_url = str(Path(storage_url).resolve())
    assert spec.path is not None
    cmd = [
        sys.executable,
        "-m",
        "sslctl.sweep.worker",
        str(Path(spec.path).resolve()),
        "--storage",
        storage_url,
        "--parent-run",
        parent_run_id,
    ]
    env = {"MLFLOW_TRACKING_URI": tracking_uri(), "SSLCTL_HOME": str(sslctl_home())}
    executor = _executor(cfg, f"sslctl-sweep-{spec.name}")
    executor.update_parameters(array_parallelism=n)
    jobs = executor.map_array(_sweep_worker, [cmd] * n, [str(Path.cwd())] * n, [env] * n)
    for job in jobs:
        _record(
            {
                "job_id": str(job.job_id),
                "run_id": parent_run_id,
                "experiment": "",
                "recipe": f"sweep {spec.name}",
                "epochs": 0,
                "folder": str(slurm_folder()).replace("%j", str(job.job_id)),
                "cwd": str(Path.cwd()),
                "tracking_uri": tracking_uri(),
                "submitted": time.time(),
            }
        )
    return [str(job.job_id) for job in jobs]


def _sweep_worker(cmd: list[str], cwd: str, env: dict[str, str]) -> int:
    """One array task: the sweep worker as a child process (its own interpreter)."""
    full = {**os.environ, **env}
    proc = subprocess.run(cmd, cwd=cwd, env=full, check=False)
    if proc.returncode:
        raise RuntimeError(f"sweep worker exited with {proc.returncode}")
    return proc.returncode
