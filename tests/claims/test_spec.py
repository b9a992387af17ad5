"""Claim files: the shipped ones validate; every kind of mistake is an error naming the
field, exit code 2, and nothing is run or logged."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from sslctl.claims.spec import ClaimFileError, claim_paths, load_claim, recipes
from tests.conftest import RECIPES, run_sslctl

GOOD = {
    "title": "variance term",
    "statement": {"text": "t", "paper": "p", "section": "s", "quoted": False},
    "kind": "pipeline",
    "scales": {"quick": {"base": str(RECIPES / "vicreg.yaml"), "set": ["optim.epochs=2"]}},
    "arms": {"no-variance": ["method.std_coeff=0"], "default": []},
    "compare": {"treatment": ["no-variance"], "control": "default"},
    "measure": "spectrum/rankme",
    "test": "paired-difference",
    "direction": "decrease",
    "seeds": 2,
}


def write(tmp_path: Path, **changes: object) -> Path:
    data = {**GOOD, **changes}
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def problems(tmp_path: Path, override: int | None = None, **changes: object) -> str:
    with pytest.raises(ClaimFileError) as err:
        load_claim(str(write(tmp_path, **changes)), override)
    return str(err.value)


def test_shipped_claims_validate_and_build_their_recipes() -> None:
    paths = claim_paths()
    assert len(paths) >= 7
    for path in paths:
        claim = load_claim(str(path))
        assert claim.statement.text and claim.statement.section
        if claim.kind == "pipeline":
            assert len(recipes(claim, "quick")) >= 2 * claim.seeds


def test_good_claim_builds_one_recipe_per_arm_and_seed(tmp_path: Path) -> None:
    built = recipes(load_claim(str(write(tmp_path))), "quick")
    assert [(label, seed) for label, _, seed, _ in built] == [
        ("no-variance", 0),
        ("no-variance", 1),
        ("default", 0),
        ("default", 1),
    ]
    assert built[0][3].method.params()["std_coeff"] == 0
    assert built[2][3].method.params()["std_coeff"] == 25


def test_unknown_metric(tmp_path: Path) -> None:
    assert "measure: unknown metric 'indep/hsci'" in problems(tmp_path, measure="indep/hsci")


def test_unknown_recipe_field_names_the_arm(tmp_path: Path) -> None:
    text = problems(tmp_path, arms={"no-variance": ["projector.widht=8"], "default": []})
    assert "arms.no-variance" in text and "widht" in text and "width" in text


def test_unknown_claim_field(tmp_path: Path) -> None:
    assert "mesure" in problems(tmp_path, mesure="x")


def test_unknown_test(tmp_path: Path) -> None:
    assert "test: got 't-test'" in problems(tmp_path, test="t-test")


def test_direction_must_be_increase_or_decrease(tmp_path: Path) -> None:
    assert "direction: got 'up'" in problems(tmp_path, direction="up")


def test_too_few_seeds_for_the_test(tmp_path: Path) -> None:
    text = problems(tmp_path, seeds=1)
    assert "seeds: got 1; test paired-difference needs at least 2 seeds" in text
    assert "--seeds: got 1" in problems(tmp_path, 1)  # the command-line override is named


def test_sweep_not_found(tmp_path: Path) -> None:
    text = problems(tmp_path, scales={"quick": {"sweep": "no-such-sweep"}})
    assert "scales.quick.sweep" in text and "no-such-sweep" in text


def test_compare_names_known_arms(tmp_path: Path) -> None:
    text = problems(tmp_path, compare={"treatment": ["nope"], "control": "default"})
    assert "compare: arms ['nope']" in text


def test_cli_bad_claim_exits_2_and_runs_nothing(tmp_path: Path) -> None:
    path = write(tmp_path, direction="sideways")
    result = run_sslctl(tmp_path, "claims", "check", str(path))
    assert result.returncode == 2
    assert "direction: got 'sideways'" in result.stderr
    assert not (tmp_path / "mlflow.db").exists()
    result = run_sslctl(tmp_path, "claims", "check", str(write(tmp_path)), "--seeds", "1")
    assert result.returncode == 2 and "--seeds: got 1" in result.stderr
    assert not (tmp_path / "mlflow.db").exists()


def test_a_claim_over_a_sweep_builds_the_sweeps_own_recipes() -> None:
    """Varying a field the scale's sweep sweeps carries the sweep's links (out_dim, the
    projector lr table), so the recipes hash like the sweep's and its runs are reused."""
    from sslctl.recipe import recipe_hash
    from sslctl.sweep.spec import load_sweep

    claim = load_claim("projector-width-independence")
    sweep = load_sweep("projector-width")
    built = recipes(claim, "quick")
    assert {v for _, v, _, _ in built} == set(sweep.space["projector.width"])
    for _, width, seed, recipe in built:
        assert recipe.projector.out_dim == width
        assert recipe.projector.lr_scale == min(1.0, 1024 / width)
        expected = sweep.recipe_for({"projector.width": width}, seed)
        assert recipe_hash(recipe) == recipe_hash(expected)
