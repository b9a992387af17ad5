"""``sslctl evaluate``: a finished run evaluated on a new OOD folder without pretraining,
into the same MLflow run; an external state dict into a run of its own; bad input exits 2
naming the value, with nothing logged."""

from __future__ import annotations

import csv
import io
import sqlite3
from pathlib import Path

import pytest
import torch

from sslctl.recipe import load_recipe
from tests.conftest import RECIPES, TINY, cli_env, run_sslctl, sslctl_cmd
from tests.imagefolders import digit_folder, write_folder

SMALL = """\
extends: {recipes}/vicreg.yaml
experiment: evaluate-test
model: {{width: 8}}
eval:
  linear: {{epochs: 3}}
  ood: {{datasets: [digits]}}
  baselines: false
  independence: {{enabled: false}}
  spectrum: {{enabled: false}}
"""


def runs_logged(workdir: Path) -> int:
    db = workdir / "mlflow.db"
    if not db.is_file():
        return 0
    with sqlite3.connect(db) as con:
        return con.execute("SELECT count(*) FROM runs").fetchone()[0]


def small_recipe(workdir: Path) -> Path:
    path = workdir / "small.yaml"
    path.write_text(SMALL.format(recipes=RECIPES))
    return path


def solo_learn_checkpoint(path: Path) -> Path:
    """A resnet-mini (width 8) backbone saved the way solo-learn's Lightning checkpoints
    hold it: ``state_dict`` with ``backbone.`` keys next to the projector and classifier."""
    from sslctl.models.backbones import build_backbone

    torch.manual_seed(0)
    backbone, dim = build_backbone("resnet-mini", in_channels=1, width=8)
    state = {f"backbone.{k}": v for k, v in backbone.state_dict().items()}
    state["classifier.weight"] = torch.zeros(10, dim)
    state["projector.0.weight"] = torch.zeros(16, dim)
    torch.save({"state_dict": state, "epoch": 3}, path)
    return path


def test_an_unknown_run_id_exits_2_naming_it(workdir: Path) -> None:
    proc = run_sslctl(workdir, "evaluate", "0123456789abcdef0123456789abcdef", timeout=300)
    assert proc.returncode == 2, proc.stderr
    assert "0123456789abcdef0123456789abcdef" in proc.stderr
    assert runs_logged(workdir) == 0


def test_a_checkpoint_of_another_architecture_exits_2_naming_the_file(workdir: Path) -> None:
    """A torchvision ResNet-18 state dict for a resnet-mini recipe: every mismatch named."""
    import torchvision

    ckpt = workdir / "tv_resnet18.pth"
    torch.save(torchvision.models.resnet18().state_dict(), ckpt)
    proc = run_sslctl(
        workdir, "evaluate", str(ckpt), "--recipe", str(small_recipe(workdir)), timeout=300
    )
    assert proc.returncode == 2, proc.stderr
    assert "tv_resnet18.pth" in proc.stderr and "does not fit" in proc.stderr
    assert "missing keys" in proc.stderr
    assert runs_logged(workdir) == 0


def test_an_ood_folder_with_unknown_classes_exits_2_naming_them(workdir: Path) -> None:
    ckpt = solo_learn_checkpoint(workdir / "solo.ckpt")
    images = torch.zeros(2, 1, 28, 28, dtype=torch.uint8)
    odd = write_folder(workdir / "pets", images, ["cat", "7"])
    proc = run_sslctl(
        workdir,
        "evaluate",
        str(ckpt),
        "--recipe",
        str(small_recipe(workdir)),
        "--ood",
        f"pets={odd}",
        timeout=300,
    )
    assert proc.returncode == 2, proc.stderr
    assert "pets" in proc.stderr and "'cat'" in proc.stderr
    assert runs_logged(workdir) == 0


def test_a_torchvision_resnet18_state_dict_loads_into_the_resnet18_backbone(
    tmp_path: Path,
) -> None:
    """ImageNet stem (cifar_stem false), 3 channels, saved from DataParallel: the prefix
    is stripped, the classifier dropped, the rest fits exactly."""
    import torchvision

    from sslctl.external import load_backbone, state_dict_of

    tv = torchvision.models.resnet18()
    sets = ["model.backbone=resnet18", "model.cifar_stem=false"]
    recipe = load_recipe(RECIPES / "vicreg.yaml", sets)
    ckpt = tmp_path / "r18.pth"
    torch.save({"module." + k: v for k, v in tv.state_dict().items()}, ckpt)
    backbone, dim = load_backbone(ckpt, recipe, 3)
    assert dim == 512 and "fc.weight" not in state_dict_of(tv.state_dict())
    assert torch.equal(backbone.state_dict()["conv1.weight"], tv.state_dict()["conv1.weight"])


@pytest.mark.slow
def test_an_external_state_dict_is_evaluated_into_its_own_run(workdir: Path) -> None:
    from sslctl.tracking import Tracker

    ckpt = solo_learn_checkpoint(workdir / "solo.ckpt")
    proc = run_sslctl(
        workdir, "evaluate", str(ckpt), "--recipe", str(small_recipe(workdir)), timeout=900
    )
    assert proc.returncode == 0, proc.stderr + proc.stdout
    runs = Tracker().client.search_runs([Tracker().experiment_id("evaluate-test")])
    assert len(runs) == 1
    run = runs[0]
    assert run.data.params["method.name"] == "external-solo"
    assert {"linear/top1", "knn/top1", "ood/digits/top1"} <= set(run.data.metrics)
    assert run.data.tags["sslctl.status"] == "complete" and run.info.status == "FINISHED"
    assert "pretrain/loss" not in run.data.metrics


@pytest.mark.slow
def test_a_finished_run_is_evaluated_on_a_new_folder_without_pretraining(workdir: Path) -> None:
    """The run gains ood/<short>/top1, keeps its one pretraining epoch, prints plain progress
    lines (stdout is a pipe); an eval-only change of the recipe evaluates the same run; the
    report counts it once (n = 1)."""
    import subprocess

    from sslctl.data import load_dataset
    from sslctl.pipeline import run_pipeline
    from sslctl.tracking import Tracker

    sets = [*TINY, "optim.epochs=1", "optim.warmup_epochs=0", "eval.ood.datasets=[digits]"]
    sets += ["eval.baselines=false", "eval.linear.epochs=3"]
    first = run_pipeline(load_recipe(RECIPES / "vicreg.yaml", sets), source="tiny")
    folder = digit_folder(workdir / "scans", load_dataset("mnist5k"), (3, 7), 15)

    env = cli_env(workdir) | {"SSLCTL_PROGRESS_EVERY": "0"}
    proc = subprocess.run(
        sslctl_cmd("evaluate", first.run_id, "--ood", f"mine={folder}"),
        cwd=workdir, env=env, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr + proc.stdout
    assert "pretrain epoch" not in proc.stdout, "no pretraining step runs"
    for line in ("eval features train: 4/4", "eval linear epochs: 3/3", "eval features ood mine"):
        assert line in proc.stdout, line
    tracker = Tracker()
    run = tracker.get(first.run_id)
    assert run.complete and "ood/mine/top1" in run.metrics
    assert 0 <= run.metrics["ood/mine/top1"] <= 100  # labels: tests/data/test_oodsets.py
    assert len(tracker.metric_history(first.run_id, "pretrain/loss")) == 1

    again = run_pipeline(load_recipe(RECIPES / "vicreg.yaml", [*sets, "eval.linear.epochs=4"]))
    assert again.run_id == first.run_id and not again.reused
    assert len(tracker.metric_history(first.run_id, "pretrain/loss")) == 1

    report = run_sslctl(workdir, "report", "--format", "csv", timeout=300)
    assert report.returncode == 0, report.stderr
    rows = [r for r in csv.DictReader(io.StringIO(report.stdout)) if r.get("n")]
    ssl = [r for r in rows if "raw" not in str(r) and "random" not in str(r)]
    assert [r["n"] for r in ssl] == ["1"], rows
