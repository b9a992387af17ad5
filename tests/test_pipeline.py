"""The chained pipeline end to end on mnist5k with a tiny model: caching, resume, seeding."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

import pytest

from sslctl.recipe import load_recipe
from tests.conftest import LEAN, RECIPES, TINY, cli_env, sslctl_cmd, timeout_s


def tiny(*extra: str):
    return load_recipe(RECIPES / "vicreg.yaml", [*TINY, *extra])


@pytest.mark.slow
def test_pipeline_logs_every_stage_and_recognises_a_finished_recipe(workdir: Path) -> None:
    """A run logs pretrain curves (with the per-epoch linear probe), linear, OOD and
    baseline metrics to one MLflow run; the same recipe again is recognised (same run, no
    retraining); --force makes a new run."""
    from sslctl.pipeline import run_pipeline
    from sslctl.tracking import Tracker

    recipe = tiny("eval.probe.every=1")
    first = run_pipeline(recipe, source="tiny")
    m = first.metrics
    for key in (
        "pretrain/loss",
        "linear/top1",
        "ood/digits/top1",
        "ood/mnist5k-c/top1",
        "ood/mnist5k-c/rotation/1/top1",
        "baseline/raw/linear/top1",
        "baseline/random/ood/digits/top1",
        "knn/top1",
        "indep/hsic",
        "indep/nhsic",
        "spectrum/rankme",
        "spectrum/projector/rankme",
    ):
        assert key in m, key
    assert 0 <= m["linear/top1"] <= 100
    tracker = Tracker()
    assert [s for s, _ in tracker.metric_history(first.run_id, "pretrain/loss")] == [1, 2]
    assert [s for s, _ in tracker.metric_history(first.run_id, "probe/top1")] == [1, 2]
    run = tracker.get(first.run_id)
    assert run.tags["sslctl.protocol.probe"].startswith("linear probe of the backbone")
    assert run.complete and run.tags["sslctl.stage.baselines"] == "done"
    assert "cached features" in run.tags["sslctl.protocol.linear"]

    again = run_pipeline(recipe, source="tiny")
    assert again.reused and again.run_id == first.run_id
    forced = run_pipeline(recipe, source="tiny", force=True)
    assert not forced.reused and forced.run_id != first.run_id
    assert forced.metrics["linear/top1"] == m["linear/top1"], "same recipe and seed, same result"


@pytest.mark.slow
def test_killed_run_resumes_into_the_same_mlflow_run(workdir: Path) -> None:
    """SIGKILL mid-pretraining, then the same command: training continues from the last
    checkpoint into the same MLflow run, with continuous epoch numbering."""
    args = sslctl_cmd(
        "pretrain",
        str(RECIPES / "vicreg.yaml"),
        *[a for s in [*LEAN, "optim.epochs=3"] for a in ("--set", s)],
    )
    env = cli_env(workdir)
    proc = subprocess.Popen(
        args, cwd=workdir, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    deadline = time.time() + 300
    ckpts: list[Path] = []
    while time.time() < deadline and proc.poll() is None:
        ckpts = list((workdir / ".sslctl" / "runs").glob("*/checkpoint.pt"))
        if ckpts:
            break
        time.sleep(0.2)
    assert ckpts, proc.communicate()[0] if proc.poll() is not None else "no checkpoint"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    run_id = json.loads((ckpts[0].parent / "meta.json").read_text())["run_id"]

    out = subprocess.run(
        args, cwd=workdir, env=env, capture_output=True, text=True, timeout=timeout_s(600)
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "resuming pretraining at epoch" in out.stdout
    assert run_id in out.stdout

    from sslctl.tracking import Tracker

    tracker = Tracker()
    steps = sorted({s for s, _ in tracker.metric_history(run_id, "pretrain/loss")})
    assert steps == [1, 2, 3]
    assert tracker.get(run_id).complete
    assert len(tracker.client.search_runs([tracker.experiment_id("quickstart")])) == 1


def test_pretrain_and_evaluate_halves_share_one_run(workdir: Path) -> None:
    """The two halves of an afterok chain: ``stages="pretrain"`` trains and leaves the run
    open (status pretrained, no evaluation metrics); ``stages="evaluate"`` in that run
    evaluates without retraining and completes it. Evaluating a run whose pretraining is
    not done is an error that fails the run rather than training on the wrong resources."""
    from sslctl.errors import SslctlError
    from sslctl.pipeline import claim_run, run_pipeline
    from sslctl.tracking import Tracker

    quick = [
        "optim.epochs=1",
        "eval.ood.datasets=[digits]",
        "eval.baselines=false",
        "eval.independence.enabled=false",
        "eval.spectrum.enabled=false",
        "eval.linear.epochs=3",
    ]
    recipe = tiny(*quick)
    run_id, complete = claim_run(recipe, source="tiny")
    assert not complete
    first = run_pipeline(recipe, source="tiny", run_id=run_id, stages="pretrain")
    tracker = Tracker()
    run = tracker.get(run_id)
    assert first.run_id == run_id and not run.complete
    assert run.tags["sslctl.status"] == "pretrained" and "linear/top1" not in run.metrics
    said: list[str] = []
    second = run_pipeline(recipe, source="tiny", run_id=run_id, stages="evaluate", say=said.append)
    assert not any("resuming" in m for m in said) and second.resumed_epoch == 1
    assert [s for s, _ in tracker.metric_history(run_id, "pretrain/loss")] == [1]
    assert tracker.get(run_id).complete and "ood/digits/top1" in second.metrics

    other = tiny(*quick, "seed=7")
    fresh, _ = claim_run(other, source="tiny")
    with pytest.raises(SslctlError, match="pretraining is not done"):
        run_pipeline(other, source="tiny", run_id=fresh, stages="evaluate")
    assert tracker.get(fresh).tags["sslctl.status"] == "failed"
