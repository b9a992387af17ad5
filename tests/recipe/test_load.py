"""Recipe loading: composition, overrides, and errors that name field, value and expectation."""

from __future__ import annotations

from pathlib import Path

import pytest

from sslctl.errors import RecipeError
from sslctl.recipe import load_recipe, recipe_hash, to_yaml
from tests.conftest import RECIPES


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def problems(path: Path, overrides: list[str] | None = None) -> str:
    with pytest.raises(RecipeError) as info:
        load_recipe(path, overrides)
    return str(info.value)


def test_shipped_recipes_validate(tmp_path: Path) -> None:
    """Every recipe in recipes/ resolves and fills in method defaults; those that stream a
    packed dataset (ImageNet, STL-10) are validated against a small packed set, as a user
    does with --set data.name=shards:<their path>."""
    from sslctl.data.stream.pack import pack_imagefolder
    from sslctl.recipe.load import compose
    from tests.data.stream.conftest import small_folder

    packed = tmp_path / "packed"
    pack_imagefolder(small_folder(tmp_path / "src", train_per_class=1, val_per_class=1), packed)
    for path in sorted(RECIPES.glob("**/*.yaml")):
        streamed = str(compose(path).get("data", {}).get("name", "")).startswith("shards:")
        recipe = load_recipe(path, [f"data.name=shards:{packed}"] if streamed else [])
        assert recipe.method.params() or recipe.method.name, path


def test_extends_merges_blocks_and_child_wins(tmp_path: Path) -> None:
    """A child recipe overrides single keys of its parent's blocks and keeps the rest."""
    write(tmp_path / "base.yaml", "seed: 3\nprojector: {depth: 2, width: 64, out_dim: 32}\n")
    child = write(tmp_path / "child.yaml", "extends: base.yaml\nprojector: {width: 128}\n")
    recipe = load_recipe(child)
    assert (recipe.seed, recipe.projector.depth, recipe.projector.width) == (3, 2, 128)
    assert recipe.projector.out_dim == 32


def test_extends_cycle_is_an_error(tmp_path: Path) -> None:
    """Recipes that extend each other are reported, not recursed forever."""
    write(tmp_path / "a.yaml", "extends: b.yaml\n")
    write(tmp_path / "b.yaml", "extends: a.yaml\n")
    assert "cycle" in problems(tmp_path / "a.yaml")


def test_set_overrides_parse_yaml_values(tmp_path: Path) -> None:
    """--set values are typed as YAML: numbers, booleans, lists."""
    path = write(tmp_path / "r.yaml", "method: {name: vicreg}\n")
    recipe = load_recipe(
        path,
        [
            "projector.width=4096",
            "projector.batchnorm=false",
            "augment.crop_scale=[0.5, 1.0]",
            "method.sim_coeff=10",
        ],
    )
    assert recipe.projector.width == 4096 and recipe.projector.batchnorm is False
    assert recipe.augment.crop_scale == (0.5, 1.0)
    assert recipe.method.params()["sim_coeff"] == 10.0


def test_hash_ignores_launcher_but_not_seed(tmp_path: Path) -> None:
    """The cache key changes with what is computed (seed, precision), not with where it
    runs or where its data sits (launcher, runtime.data_on_device)."""
    path = write(tmp_path / "r.yaml", "method: {name: vicreg}\n")
    base = recipe_hash(load_recipe(path))
    assert recipe_hash(load_recipe(path, ["launcher.kind=slurm"])) == base
    assert recipe_hash(load_recipe(path, ["runtime.data_on_device=never"])) == base
    assert recipe_hash(load_recipe(path, ["seed=1"])) != base
    assert recipe_hash(load_recipe(path, ["runtime.precision=fp32"])) != base


def test_hash_is_the_pretraining_identity_without_evaluation_settings(tmp_path: Path) -> None:
    """Evaluation settings do not change the trained weights, so they leave the hash (the
    key of the run and of the checkpoint folder) alone; a pretraining field changes it."""
    path = tmp_path / "r.yaml"
    path.write_text("method: {name: vicreg}\n")
    base = recipe_hash(load_recipe(path))
    for change in ("eval.linear.epochs=7", "eval.ood.datasets=[digits]", "eval.baselines=false"):
        assert recipe_hash(load_recipe(path, [change])) == base, change
    assert recipe_hash(load_recipe(path, ["optim.epochs=3"])) != base


def test_resolved_yaml_round_trips(tmp_path: Path) -> None:
    """The resolved recipe printed by `validate` loads back to the same recipe."""
    recipe = load_recipe(RECIPES / "intl.yaml")
    out = write(tmp_path / "resolved.yaml", to_yaml(recipe))
    assert recipe_hash(load_recipe(out)) == recipe_hash(recipe)


@pytest.mark.parametrize(
    ("text", "overrides", "expected"),
    [
        ("projector: {widht: 10}\n", [], ["projector.widht", "did you mean 'width'"]),
        ("seed: abc\n", [], ["seed", "'abc'", "integer"]),
        ("projector: {width: -5}\n", [], ["projector.width", "-5", "greater than 0"]),
        ("projector: {depth: 0, frozen: true}\n", [], ["projector.depth", "got 0"]),
        (
            "projector: {depth: 0}\neval: {linear: {on: [projector]}}\n",
            [],
            ["projector.depth", "eval.linear.on"],
        ),
        ("method: {name: vicrge}\n", [], ["method.name", "'vicrge'", "vicreg"]),
        ("method: {name: vicreg, sim_coef: 3}\n", [], ["method.sim_coef", "'sim_coeff'"]),
        ("data: {name: imagenet9}\n", [], ["data.name", "'imagenet9'", "mnist5k"]),
        ("projector: [1, 2\n", [], ["malformed YAML", "line"]),
        ("- 1\n- 2\n", [], ["expected a mapping"]),
        ("seed: 1\n", ["projector.widht=3"], ["projector", "'widht'", "did you mean 'width'"]),
        ("seed: 1\n", ["nosuch.key=3"], ["no field 'nosuch'"]),
        ("seed: 1\n", ["seed"], ["expected PATH=VALUE"]),
        ("optim: {epochs: 2, warmup_epochs: 5}\n", [], ["warmup_epochs", "5"]),
    ],
)
def test_bad_input_names_field_value_and_expectation(
    tmp_path: Path, text: str, overrides: list[str], expected: list[str]
) -> None:
    """Each kind of bad input gives a RecipeError whose message names the field and value."""
    message = problems(write(tmp_path / "bad.yaml", text), overrides)
    for fragment in expected:
        assert fragment in message, (fragment, message)


def test_missing_file(tmp_path: Path) -> None:
    """A recipe path that does not exist is named in the error."""
    assert "file not found" in problems(tmp_path / "nope.yaml")
