"""Sweeps: validation before anything exists, exact grids with parallel workers, resume."""

from __future__ import annotations

import collections
import signal
import subprocess
import time
from pathlib import Path

import pytest

from sslctl.errors import RecipeError
from sslctl.sweep.spec import load_sweep
from tests.conftest import RECIPES, cli_env, run_sslctl, sslctl_cmd

TINY = [
    "model.width=8",
    "projector.depth=2",
    "projector.width=32",
    "projector.out_dim=16",
    "optim.batch_size=256",
    "optim.epochs=1",
    "optim.warmup_epochs=0",
    "eval.linear.epochs=3",
    "eval.ood.datasets=[digits]",
    "eval.baselines=false",
    "eval.knn.enabled=false",
    "eval.independence.enabled=false",
]


def write_sweep(path: Path, space: str, extra: str = "", sets: list[str] = TINY) -> Path:
    text = (
        f"base: {RECIPES / 'vicreg.yaml'}\nset: {sets!r}\nspace:\n{space}\n"
        f"objective: {{metric: linear/top1, direction: maximize}}\n{extra}"
    )
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("space", "extra", "fragment"),
    [
        ("  projector.widht: [8, 16]", "", "widht"),
        ("  projector.width: []", "", "empty grid"),
        ("  projector.width: {low: 64, high: 8}", "sampler: tpe\ntrials: 3", "low < high"),
        ("  projector.width: [8, -1]", "", "projector.width"),
        ("  optim.lr: {low: 0.0, high: 1.0, log: true}", "sampler: random\ntrials: 2", "log"),
        ("  optim.lr: {low: 0.1, high: 1.0}", "sampler: grid", "ranges"),
        ("  projector.width: [8, 16]", "link: {projector.out_dim: projector.depth}", "swept"),
        ("  projector.width: [8, 16]", "link: {projector.widht: projector.width}", "widht"),
        ("  projector.width: [8, 16]", "link: {projector.width: projector.width}", "itself"),
        ("  projector.width: [8, 16]", "link: {optim.lr: {projector.width: {8: 0.1}}}", "[16]"),
        ("  projector.width: [8, 16]", "link: {optim.lr: {projector.width: {8: -1, 16: 1}}}", "lr"),
    ],
)
def test_bad_sweep_files_fail_before_anything_is_created(
    workdir: Path, space: str, extra: str, fragment: str
) -> None:
    """A bad sweep (unknown path, empty grid, bad range, bad value) is a RecipeError naming
    the problem, and no Optuna storage or MLflow store is created."""
    path = write_sweep(workdir / "bad.yaml", space, extra)
    with pytest.raises(RecipeError) as info:
        load_sweep(str(path))
    assert fragment in str(info.value)
    assert not (workdir / "mlflow.db").exists()
    assert not (workdir / "sweeps").exists()


def test_grid_points_and_method_switch(workdir: Path) -> None:
    """A grid is the product of its lists; switching method.name starts from that method's
    defaults instead of carrying the base method's hyper-parameters over."""
    path = write_sweep(
        workdir / "s.yaml", "  method.name: [vicreg, barlow]\n  projector.width: [16, 32, 64]"
    )
    spec = load_sweep(str(path))
    assert len(spec.grid()) == 6
    recipe = spec.recipe_for({"method.name": "barlow", "projector.width": 64}, seed=3)
    assert recipe.method.name == "barlow" and recipe.projector.width == 64 and recipe.seed == 3
    assert "sim_coeff" not in recipe.method.params()


def test_linked_paths_take_the_swept_value(workdir: Path) -> None:
    """``link: {projector.out_dim: projector.width}`` with a grid over width and depth:
    every point's recipe has out_dim == width (the papers' 8192-8192-8192), the other
    fields as the grid says, and the grid itself is unchanged (width x depth)."""
    path = write_sweep(
        workdir / "s.yaml",
        "  projector.width: [16, 64]\n  projector.depth: [2, 3]",
        "link: {projector.out_dim: projector.width}",
    )
    spec = load_sweep(str(path))
    assert spec.grid() == [
        {"projector.width": w, "projector.depth": d} for w in (16, 64) for d in (2, 3)
    ]
    shapes = [
        (r.projector.width, r.projector.out_dim, r.projector.depth)
        for r in (spec.recipe_for(p, seed=1) for p in spec.grid())
    ]
    assert shapes == [(16, 16, 2), (16, 16, 3), (64, 64, 2), (64, 64, 3)]
    ruled = write_sweep(
        workdir / "r.yaml",
        "  projector.width: [16, 64]",
        "link:\n  projector.out_dim: projector.width\n"
        "  optim.lr: {projector.width: {16: 0.002, 64: 0.0005}}",
    )
    recipe = load_sweep(str(ruled)).recipe_for({"projector.width": 64}, seed=0)
    assert (recipe.projector.out_dim, recipe.optim.lr) == (64, 0.0005)
    unlinked = write_sweep(workdir / "u.yaml", "  projector.width: [16, 64]")
    assert load_sweep(str(unlinked)).recipe_for({"projector.width": 64}, 0).projector.out_dim == 16


def _trial_points(workdir: Path) -> collections.Counter:
    from sslctl.tracking import Tracker

    tracker = Tracker()
    runs = tracker.client.search_runs(
        [tracker.experiment_id("quickstart")], filter_string="tags.`sslctl.sweep` = 'grid'"
    )
    children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    return collections.Counter(r.data.params["projector.width"] for r in children)


@pytest.mark.slow
def test_grid_with_three_workers_runs_each_point_once(workdir: Path) -> None:
    """4 grid points, 3 worker processes (one takes two): each point runs exactly once,
    and running the same sweep again reports the results instead of re-running."""
    path = write_sweep(
        workdir / "grid.yaml",
        "  projector.width: [8, 16, 24, 32]",
        "name: grid\nworkers: 3",
    )
    out = run_sslctl(workdir, "sweep", str(path), timeout=900)
    assert out.returncode == 0, out.stdout + out.stderr
    assert _trial_points(workdir) == collections.Counter({str(w): 1 for w in (8, 16, 24, 32)})
    again = run_sslctl(workdir, "sweep", str(path), timeout=300)
    assert again.returncode == 0 and "already finished" in again.stdout
    assert sum(_trial_points(workdir).values()) == 4
    assert (workdir / "sweeps" / "grid.best.yaml").is_file()


@pytest.mark.slow
def test_killed_worker_trial_is_rerun_without_duplicates(workdir: Path) -> None:
    """Kill the sweep mid-trial (SIGKILL, trial left RUNNING), run it again: every point
    completes exactly once in the study and the killed trial is re-run."""
    import optuna

    sets = [s for s in TINY if not s.startswith("optim.epochs")] + ["optim.epochs=2"]
    path = write_sweep(
        workdir / "grid.yaml", "  projector.width: [8, 16]", "name: grid\nworkers: 1", sets=sets
    )
    env = cli_env(workdir)
    proc = subprocess.Popen(
        sslctl_cmd("sweep", str(path)),
        cwd=workdir,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 300
    while time.time() < deadline and not list(
        (workdir / ".sslctl" / "runs").glob("*/checkpoint.pt")
    ):
        time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    out = run_sslctl(workdir, "sweep", str(path), timeout=900)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "left running by a dead worker" in out.stdout

    from sslctl.sweep.study import counted, create_or_load, default_storage, open_storage

    spec = load_sweep(str(path))
    study = create_or_load(spec, open_storage(default_storage(spec)))
    done = [t for t in counted(study) if t.state == optuna.trial.TrialState.COMPLETE]
    assert sorted(t.params["projector.width"] for t in done) == [8, 16]
    assert _trial_points(workdir) == collections.Counter({"8": 1, "16": 1})


def test_budgeted_sweep_stops_at_its_trial_budget(workdir: Path) -> None:
    """A random-sampler sweep with trials: 2 runs exactly two trials (the extra trial a
    worker asks for at the end is marked stale, not counted, and does not crash the
    worker); running it again reports it as finished."""
    from sslctl.sweep.run import run_sweep
    from sslctl.sweep.study import counted, create_or_load, open_storage

    path = write_sweep(
        workdir / "budget.yaml",
        "  projector.width: {choices: [8, 16, 32]}",
        "name: budget\nsampler: random\ntrials: 2",
    )
    spec = load_sweep(str(path))
    first = run_sweep(spec, say=lambda m: None)
    assert not first.already_finished
    assert [r.state for r in first.rows] == ["COMPLETE", "COMPLETE"]
    study = create_or_load(spec, open_storage(first.storage))
    assert len(counted(study)) == 2
    assert any(t.user_attrs.get("stale") for t in study.get_trials())
    again = run_sweep(spec, say=lambda m: None)
    assert again.already_finished and len(again.rows) == 2


@pytest.mark.parametrize(
    "name", ["projector-width", "projector-depth", "methods-by-width", "invariance"]
)
def test_shipped_sweeps_validate_with_three_seeds(name: str) -> None:
    """Every shipped sweep file validates (each grid value tried) and runs 3 seeds a point."""
    assert load_sweep(name).seeds == [0, 1, 2]


def test_shipped_width_sweep_varies_the_dimension_throughout() -> None:
    """projector-width follows the papers: hidden width == out_dim at every point, and the
    projector's lr follows the stated rule min(1, 1024 / width)."""
    spec = load_sweep("projector-width")
    for point in spec.grid():
        p = spec.recipe_for(point, seed=0).projector
        assert p.out_dim == p.width and p.lr_scale == min(1.0, 1024 / p.width)
