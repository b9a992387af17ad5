"""`sslctl status` beyond SLURM: unfinished MLflow runs and sweep progress, rebuilt from
the stores alone (runs made through the real Tracker, a study in a real journal)."""

from __future__ import annotations

from pathlib import Path

import optuna

from sslctl.tracking import Tracker
from sslctl.vocabulary import Tag
from tests.conftest import RECIPES, run_sslctl


def _run(tracker: Tracker, name: str, status: str, epochs_done: int) -> str:
    run_id = tracker.create(
        tracker.experiment_id("quickstart"),
        name,
        {Tag.RECIPE_HASH: name, Tag.STATUS: status, "sslctl.stage.pretrain": "running"},
    )
    tracker.log_params(run_id, {"optim.epochs": 10})
    for step in range(1, epochs_done + 1):
        tracker.log_metrics(run_id, {"pretrain/loss": 1.0 / step}, step=step)
    if status == "complete":
        tracker.finish(run_id, "FINISHED")
    return run_id


def test_status_lists_unfinished_runs_and_sweep_progress(workdir: Path) -> None:
    """An interrupted run shows its stage and epoch, a complete one is left out, and a
    sweep journal next to the store shows its trial counts, budget and best value."""
    from sslctl.sweep.spec import load_sweep
    from sslctl.sweep.study import create_or_load, default_storage, open_storage

    tracker = Tracker()
    interrupted = _run(tracker, "vicreg-a", "interrupted", 3)
    done = _run(tracker, "vicreg-b", "complete", 10)
    sweep = workdir / "w.yaml"
    sweep.write_text(
        f"name: w\nbase: {RECIPES / 'vicreg.yaml'}\nspace:\n  projector.width: [8, 16, 32]\n"
    )
    spec = load_sweep(str(sweep))
    study = create_or_load(spec, open_storage(default_storage(spec)))
    first = study.ask()
    study.tell(first, 91.5)
    second = study.ask()
    study.tell(second, state=optuna.trial.TrialState.PRUNED)

    out = run_sslctl(workdir, "status")
    assert out.returncode == 0, out.stderr
    row = next(line for line in out.stdout.splitlines() if interrupted in line)
    assert "interrupted" in row and "pretrain" in row and "3/10" in row and "local" in row
    assert done not in out.stdout
    sweep_row = next(line for line in out.stdout.splitlines() if line.strip("│ ").startswith("w-"))
    cells = [c.strip() for c in sweep_row.split("│") if c.strip()]
    assert cells[1:7] == ["1", "1", "0", "0", "1", "3"]  # done pruned failed running queued budget
    assert "91.50 (linear/top1)" in sweep_row


def test_the_resume_command_fits_how_far_the_run_got() -> None:
    """Pretrained runs resume with sslctl evaluate, sweep trials with their sweep, others
    with the pretraining command they were started with."""
    from sslctl.overview import resume_command

    assert resume_command("r1", {"sslctl.stage.pretrain": "done"}) == "sslctl evaluate r1"
    assert resume_command("r1", {"sslctl.sweep": "w"}) == "sslctl sweep w"
    cmd = "sslctl pretrain recipes/vicreg.yaml --set=seed=1"
    assert resume_command("r1", {"sslctl.command": cmd}) == cmd
    assert resume_command("r1", {"sslctl.recipe": "a.yaml"}).startswith("sslctl pretrain a.yaml")
