"""Claims checked end to end on tiny settings: runs measured (and reused on a second
check), a verdict with its interval, a parent MLflow run linking the runs, a PNG, the
report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from sslctl.claims.check import check_claim, latest_checks
from sslctl.claims.run import _largest_first, run_all_missing
from sslctl.claims.spec import load_claim
from sslctl.recipe import load_recipe
from sslctl.tracking import Tracker
from tests.conftest import LEAN, RECIPES, run_sslctl

STATEMENT = {"text": "t", "paper": "p", "section": "s", "quoted": False}


def write(folder: Path, name: str, data: dict) -> Path:
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


ICA = {
    "title": "ica",
    "statement": STATEMENT,
    "kind": "study-ica",
    "scales": {"quick": {"options": {"sources": [3], "samples": 300, "width": 32, "steps": 30}}},
    "compare": {"treatment": ["vcreg"], "control": "fastica"},
    "measure": "amari",
    "test": "paired-ratio",
    "direction": "decrease",
    "threshold": 2.0,
    "seeds": 2,
}


def test_study_claim_end_to_end(workdir: Path) -> None:
    """A tiny ICA claim: both methods on the same seeds, a ratio verdict, a logged check."""
    path = write(workdir, "ica", ICA)
    result, parent, png = check_claim(load_claim(str(path)), "quick", plot_dir=workdir / "out")
    (comparison,) = result.comparisons
    assert comparison.n == 2 and comparison.low <= comparison.estimate <= comparison.high
    assert result.verdict in ("supported", "contradicted", "inconclusive")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    run = Tracker().get(parent)
    assert run.tags["sslctl.claim_verdict"] == result.verdict
    assert run.tags["sslctl.claim_runs"] == result.run_ids[0]
    (logged,) = latest_checks()
    assert logged["name"] == "ica" and logged["check_run_id"] == parent


@pytest.mark.slow
def test_pipeline_claim_runs_once_and_reuses(workdir: Path) -> None:
    """Two arms x 2 seeds of tiny pipelines, for two claims that share them, and a study
    claim (as `claims check --all` runs them: one pool of 2 processes first): each of the 4
    runs once, the study's trials come back from the pool, both checks use the same runs,
    and a later check finds all 4 by recipe hash."""
    spec = {
        "title": "variance",
        "statement": STATEMENT,
        "kind": "pipeline",
        "scales": {
            "quick": {
                "base": str(RECIPES / "vicreg.yaml"),
                "set": [*LEAN, "experiment=claims-test"],
            }
        },
        "arms": {"no-variance": ["method.std_coeff=0"], "default": []},
        "compare": {"treatment": ["no-variance"], "control": "default"},
        "measure": "spectrum/rankme",
        "test": "paired-difference",
        "direction": "decrease",
        "seeds": 2,
    }
    claim = load_claim(str(write(workdir, "variance", spec)))
    twin = load_claim(str(write(workdir, "variance-twin", spec)))
    study = load_claim(str(write(workdir, "ica", ICA)))
    said: list[str] = []
    studied = run_all_missing([claim, twin, study], "quick", workers=2, say=said.append)
    assert "4 runs missing across 3 claims" in said[0]
    assert sum(": run " in line for line in said) == 4 and "  claim ica: study done" in said
    assert sorted(studied) == ["ica"] and {t.seed for t in studied["ica"]} == {0, 1}
    ica, _, _ = check_claim(study, "quick", plot_dir=workdir / "out", trials=studied["ica"])
    assert ica.comparisons[0].n == 2
    said.clear()
    first, _, _ = check_claim(claim, "quick", plot_dir=workdir / "out", run=False, say=said.append)
    other, _, _ = check_claim(twin, "quick", plot_dir=workdir / "out", run=False, say=said.append)
    assert "4 finished, 0 did not finish" in said[0]
    assert len(first.run_ids) == 4 and first.comparisons[0].n == 2
    assert other.run_ids == first.run_ids
    said.clear()
    again, _, _ = check_claim(claim, "quick", plot_dir=workdir / "out", say=said.append)
    assert "4 already finished" in said[0] and "0 to run" in said[0]
    assert again.run_ids == first.run_ids
    assert again.comparisons[0].estimate == first.comparisons[0].estimate
    report = run_sslctl(workdir, "claims", "report", "--format", "json")
    assert report.returncode == 0, report.stderr
    rows = {row["name"]: row for row in json.loads(report.stdout)}
    assert sorted(rows) == ["ica", "variance", "variance-twin"]
    assert rows["variance"]["verdict"] == rows["variance-twin"]["verdict"] == again.verdict


def test_runs_are_ordered_largest_first() -> None:
    """Longest-processing-time first: the widest projector (most parameters x epochs)
    leads, a longer run of equal size before a shorter one, ties keep their order."""

    def item(name: str, *overrides: str) -> tuple[str, tuple]:
        recipe = load_recipe(str(RECIPES / "vicreg.yaml"), list(overrides))
        return ("c", (name, None, 0, recipe))

    items = [
        item("narrow", "projector.width=64", "projector.out_dim=64"),
        item("default"),
        item("wide", "projector.width=4096", "projector.out_dim=4096"),
        item("default-long", "optim.epochs=80"),
        item("default-again"),
    ]
    order = [label for _, (label, *_) in _largest_first(items)]
    assert order == ["wide", "default-long", "default", "default-again", "narrow"]
