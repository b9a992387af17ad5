"""The SLURM launcher on a real two-node cluster on this machine (slurmctld, two slurmd,
munge, slurmdbd with MariaDB), started by the session fixture ``slurm_cluster``. Tiny
recipes keep the whole file to a few minutes; pytest-timeout stops a hung job from hanging
CI."""

from __future__ import annotations

import json
import re
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import LEAN, RECIPES, run_sslctl

pytestmark = [pytest.mark.slow, pytest.mark.slurm, pytest.mark.usefixtures("slurm_cluster")]

TINY = [
    "model.width=8",
    "projector.width=64",
    "projector.out_dim=32",
    "optim.epochs=2",
    "optim.batch_size=128",
    "eval.linear.epochs=5",
    "eval.ood.severities=[1]",
    "eval.ood.corruptions=[gaussian_noise]",
]
NO_EVAL = [
    "eval.linear.enabled=false",
    "eval.baselines=false",
    "eval.independence.enabled=false",
    "eval.spectrum.enabled=false",
]

# Epochs of the requeue tests (about 2.5 s each): after the first checkpoint the job must
# outlive SLURM's KillWait (5 s between SIGTERM, which submitit ignores, and SIGKILL), or
# it finishes before the requeue takes effect.
EPOCHS = 6


def _sets(*items: str) -> list[str]:
    return [arg for item in items for arg in ("--set", item)]


def _pretrain_on_slurm(workdir: Path, sets: list[str], *flags: str, timeout: int = 120):
    """`sslctl pretrain recipes/vicreg.yaml --set ... --launcher slurm FLAGS`."""
    return run_sslctl(
        workdir,
        "pretrain",
        str(RECIPES / "vicreg.yaml"),
        *_sets(*sets),
        "--launcher",
        "slurm",
        *flags,
        timeout=timeout,
    )


def _tracker(workdir: Path):
    from sslctl.tracking import Tracker

    return Tracker(f"sqlite:///{workdir / 'mlflow.db'}")


def _submitted(out: str) -> tuple[str, str]:
    job = re.search(r"submitted SLURM job (\d+)", out)
    run = re.search(r"MLflow run: (\w+)", out)
    assert job and run, out
    return job[1], run[1]


def _squeue_state(job: str) -> str:
    out = subprocess.run(
        ["squeue", "-h", "-j", job, "-o", "%T"], capture_output=True, text=True, timeout=20
    )
    return out.stdout.strip()


def _sacct_state(job: str) -> str:
    out = subprocess.run(
        ["sacct", "-n", "-P", "-X", "-o", "State", "-j", job],
        capture_output=True,
        text=True,
        timeout=20,
    )
    return out.stdout.strip().splitlines()[-1] if out.stdout.strip() else ""


def _final_sacct_state(job: str) -> str:
    """The job's state once the accounting database has recorded its end (slurmdbd
    updates sacct after squeue has dropped the job: right after it, sacct can still say
    RUNNING)."""
    return _wait_until(
        lambda: (
            (state := _sacct_state(job)) not in ("", "PENDING", "RUNNING", "REQUEUED") and state
        ),
        60,
        f"sacct to record the end of job {job}",
    )


def _wait_until(predicate, timeout: float, what: str, poll: float = 1.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        time.sleep(poll)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.timeout(420)
def test_quickstart_runs_as_a_slurm_job_into_one_mlflow_run(workdir: Path) -> None:
    """`pretrain --launcher slurm --wait` submits the whole chain as one job, returns the
    job id, log folder and MLflow run id, and the run ends FINISHED with pretrain, linear,
    OOD and baseline metrics; sacct and `sslctl status` report the job COMPLETED."""
    done = _pretrain_on_slurm(workdir, TINY, "--wait", timeout=280)
    assert done.returncode == 0, done.stdout + done.stderr
    job, run_id = _submitted(done.stdout)
    assert f"{workdir}/.sslctl/slurm/{job}" in done.stdout
    run = _tracker(workdir).get(run_id)
    assert run.status == "FINISHED" and run.complete
    for key in ("pretrain/loss", "linear/top1", "ood/digits/top1", "baseline/raw/linear/top1"):
        assert key in run.metrics, key
    assert run.tags["sslctl.slurm.job_id"] == job
    assert run.tags["sslctl.slurm.requeues"] == "0"
    assert [s for s, _ in _tracker(workdir).metric_history(run_id, "pretrain/loss")] == [1, 2]
    assert _final_sacct_state(job) == "COMPLETED"
    status = run_sslctl(workdir, "status")
    assert status.returncode == 0
    row = next(line for line in status.stdout.splitlines() if f" {job} " in line)
    assert "COMPLETED" in row and "complete" in row and "2/2" in row


@pytest.mark.timeout(120)
def test_refused_requests_exit_2_and_leave_nothing(workdir: Path) -> None:
    """A bad partition or an impossible request (more nodes than the cluster has) exits 2
    with the reason, submits nothing and creates no MLflow run."""

    def queued() -> set[str]:  # job ids only: times change and earlier jobs may end meanwhile
        return set(
            subprocess.run(
                ["squeue", "-h", "-o", "%i"], capture_output=True, text=True
            ).stdout.split()
        )

    before = queued()
    bad = _pretrain_on_slurm(workdir, [], "--partition", "nosuch")
    assert bad.returncode == 2
    assert "launcher.partition: got 'nosuch'" in bad.stderr and "debug" in bad.stderr
    huge = _pretrain_on_slurm(workdir, [], "--nodes", "3")
    assert huge.returncode == 2
    assert "SLURM refuses the request" in huge.stderr
    assert queued() <= before  # nothing submitted
    tracker = _tracker(workdir)
    exp = tracker.client.get_experiment_by_name("quickstart")
    assert exp is None or not tracker.client.search_runs([exp.experiment_id])


@pytest.mark.timeout(420)
@pytest.mark.parametrize(
    "layout",
    [("--tasks-per-node", "2"), ("--nodes", "2", "--tasks-per-node", "1")],
    ids=["one-node-two-tasks", "two-nodes"],
)
def test_two_task_ddp_job_equals_a_single_process_run(workdir: Path, layout) -> None:
    """A 2-task gloo DDP job, on one node or across the cluster's two nodes (one task on
    each, rendezvous at the first node's address), logs the same per-epoch losses as one
    process that computes the same global batches with each rank's half normalised
    separately (BatchNorm is per rank on CPU); only rank 0 logs (one value per epoch, one
    run).

    The learning rate is tiny so that float32 reduction order (which this small-BatchNorm
    network amplifies chaotically during real training; see docs/slurm.md) cannot hide a
    real difference: what is compared is sharding, augmentation, per-rank forward, the
    gather and the loss, over 2 epochs. Gradient equality is tested exactly in float64 in
    test_distributed.py."""
    sets = [*TINY[1:5], "model.width=4", *NO_EVAL, "runtime.precision=fp32", "optim.lr=1e-7"]
    done = _pretrain_on_slurm(workdir, sets, *layout, "--cpus-per-task", "1", "--wait", timeout=280)
    assert done.returncode == 0, done.stdout + done.stderr
    job, run_id = _submitted(done.stdout)
    assert "2 process(es)" in done.stdout
    tracker = _tracker(workdir)
    run = tracker.get(run_id)
    assert run.complete and run.tags["sslctl.world_size"] == "2"
    exp = tracker.client.get_experiment_by_name("quickstart")
    assert len(tracker.client.search_runs([exp.experiment_id])) == 1
    history = tracker.metric_history(run_id, "pretrain/loss")
    assert [s for s, _ in history] == [1, 2]  # rank 1 logged nothing
    folder = workdir / ".sslctl" / "slurm" / job
    if "--nodes" in layout:
        nodes = subprocess.run(
            ["sacct", "-n", "-P", "-X", "-o", "NNodes,NodeList", "-j", job],
            capture_output=True,
            text=True,
            timeout=20,
        ).stdout.split()
        assert nodes[-1] == "2|n[1-2]", nodes
    rank1 = (folder / f"{job}_1_log.out").read_text()
    assert "pipeline finished" not in rank1
    assert "pipeline finished" in (folder / f"{job}_0_log.out").read_text()

    import torch

    from sslctl.data import load_dataset
    from sslctl.recipe import load_recipe
    from sslctl.runtime import seed_everything
    from sslctl.train import Pretrainer

    recipe = load_recipe(RECIPES / "vicreg.yaml", sets)
    seed_everything(recipe.seed)
    trainer = Pretrainer(
        recipe, load_dataset("mnist5k"), torch.device("cpu"), None, workdir / "ref.pt"
    )
    trainer.forward = lambda v: torch.cat([trainer.model(h) for h in v.chunk(2)])
    reference = [h["loss"] for h in trainer.fit()]
    ddp = [v for _, v in history]
    (workdir / "ddp_vs_single.json").write_text(json.dumps({"ddp": ddp, "single": reference}))
    assert ddp == pytest.approx(reference, rel=1e-5)


def _requeue(job: str) -> None:
    subprocess.run(["scontrol", "requeue", job], check=True, timeout=20)


def _preempt(job: str) -> None:
    """What SLURM sends before a preemption or the time limit: USR2 to the job's tasks."""
    subprocess.run(["scancel", "--signal=USR2", job], check=True, timeout=20)


@pytest.mark.timeout(600)
@pytest.mark.parametrize("interrupt", [_requeue, _preempt], ids=["scontrol-requeue", "usr2"])
def test_requeued_job_resumes_into_the_same_run(workdir: Path, interrupt) -> None:
    """`scontrol requeue`, or the preemption signal (USR2, which submitit turns into a call
    of PipelineJob.checkpoint and a requeue), during pretraining: the job goes back to the
    queue and resumes from its last checkpoint into the same MLflow run, epochs continue
    (no restart from epoch 1), the requeue is counted in a tag and the run finishes."""
    sets = [*TINY[1:3], "model.width=4", f"optim.epochs={EPOCHS}", "optim.batch_size=128"]
    sub = _pretrain_on_slurm(workdir, [*sets, *NO_EVAL])
    assert sub.returncode == 0, sub.stdout + sub.stderr
    job, run_id = _submitted(sub.stdout)
    try:
        _check_requeue(workdir, job, run_id, interrupt)
    finally:
        subprocess.run(["scancel", job], capture_output=True, timeout=20)


def _check_requeue(workdir: Path, job: str, run_id: str, interrupt) -> None:
    tracker = _tracker(workdir)
    _wait_until(
        lambda: list((workdir / ".sslctl" / "runs").glob("*/checkpoint.pt")),
        120,
        "the first epoch's checkpoint",
    )
    interrupt(job)
    _wait_until(lambda: _squeue_state(job) == "PENDING", 60, "the requeued job to pend")
    mid = tracker.get(run_id)
    assert mid.status == "RUNNING" and mid.tags["sslctl.status"] != "failed", mid.tags
    # SLURM delays a requeued job (BeginTime, about 2 minutes); release it at once
    subprocess.run(["scontrol", "update", f"JobId={job}", "StartTime=now"], check=True)
    _wait_until(lambda: _squeue_state(job) == "", 400, "the job to end", poll=2)
    assert _final_sacct_state(job) == "COMPLETED"
    run = tracker.get(run_id)
    assert run.complete
    assert run.tags["sslctl.slurm.requeues"] == "1"
    steps = [s for s, _ in tracker.metric_history(run_id, "pretrain/loss")]
    assert sorted(set(steps)) == list(range(1, EPOCHS + 1))
    log = (workdir / ".sslctl" / "slurm" / job / f"{job}_0_log.out").read_text()
    resumed = re.search(rf"resuming pretraining at epoch (\d+)/{EPOCHS}", log)
    assert resumed and int(resumed[1]) >= 2, log
    exp = tracker.client.get_experiment_by_name("quickstart")
    assert len(tracker.client.search_runs([exp.experiment_id])) == 1


@pytest.mark.timeout(480)
def test_afterok_chain_runs_pretraining_then_evaluation_in_one_run(workdir: Path) -> None:
    """launcher.chain=afterok: two jobs, the second depending on the first; both complete,
    pretraining metrics come from the first and evaluation metrics from the second, into
    one MLflow run; `sslctl status` lists both parts."""
    sets = [*LEAN, "launcher.chain=afterok"]
    done = _pretrain_on_slurm(workdir, sets, "--wait", timeout=400)
    assert done.returncode == 0, done.stdout + done.stderr
    job, run_id = _submitted(done.stdout)
    evaluation = re.search(r"then job (\d+)", done.stdout)
    assert evaluation, done.stdout
    dependency = subprocess.run(
        ["sacct", "-n", "-P", "-X", "-o", "JobID,State", "-j", f"{job},{evaluation[1]}"],
        capture_output=True,
        text=True,
        timeout=20,
    ).stdout
    assert f"{job}|COMPLETED" in dependency and f"{evaluation[1]}|COMPLETED" in dependency
    run = _tracker(workdir).get(run_id)
    assert run.complete and "linear/top1" in run.metrics and "pretrain/loss" in run.metrics
    assert run.tags["sslctl.slurm.job_id"] == job
    assert run.tags["sslctl.slurm.eval_job_id"] == evaluation[1]
    folder = workdir / ".sslctl" / "slurm"
    assert "pretraining epochs" in (folder / job / f"{job}_0_log.out").read_text()
    eval_log = (folder / evaluation[1] / f"{evaluation[1]}_0_log.out").read_text()
    assert "linear and OOD evaluation" in eval_log and "pretraining epochs" not in eval_log
    status = run_sslctl(workdir, "status").stdout
    assert f"{job} (pretrain)" in status and f"{evaluation[1]} (evaluate)" in status


@pytest.mark.timeout(600)
def test_sweep_array_workers_run_each_grid_point_once(workdir: Path) -> None:
    """`sslctl sweep --launcher slurm --wait`: one SLURM array of 2 workers pulls a 2-point
    grid from the shared journal; every point runs exactly once, the leaderboard and best
    recipe are written, and the sweep again reports instead of submitting."""
    sets = [*TINY[:4], "optim.epochs=1", "optim.warmup_epochs=0", "eval.linear.epochs=3"]
    sets += NO_EVAL[1:]
    sets += ["eval.ood.datasets=[digits]"]
    sweep = workdir / "arr.yaml"
    sweep.write_text(
        f"name: arr\nbase: {RECIPES / 'vicreg.yaml'}\nset: {sets!r}\n"
        "space:\n  projector.width: [16, 32]\nworkers: 2\n"
    )
    done = run_sslctl(workdir, "sweep", str(sweep), "--launcher", "slurm", "--wait", timeout=540)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "submitted 2 SLURM array task(s)" in done.stdout
    tracker = _tracker(workdir)
    runs = tracker.client.search_runs(
        [tracker.experiment_id("quickstart")], filter_string="tags.`sslctl.sweep` = 'arr'"
    )
    widths = sorted(
        r.data.params["projector.width"] for r in runs if "mlflow.parentRunId" in r.data.tags
    )
    assert widths == ["16", "32"]
    assert (workdir / "sweeps" / "arr.best.yaml").is_file()
    parent = next(r for r in runs if r.data.tags.get("sslctl.sweep_parent") == "true")
    assert parent.info.status == "FINISHED"
    again = run_sslctl(workdir, "sweep", str(sweep), "--launcher", "slurm", timeout=120)
    assert "already finished" in again.stdout and "submitted" not in again.stdout
