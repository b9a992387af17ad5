"""Claim files (``claims/NAME.yaml``): a paper's statement and its source, what is varied
and measured, the statistical test and the claimed direction. Validated completely (every
recipe the claim would run is built and checked against the recipe schema) before
anything runs; every problem names its field.

Three kinds of experiment:

* ``pipeline``: runs of the sslctl pipeline, built from a base recipe (or a sweep file's
  base and overrides) with the scale's overrides, then either a ``vary`` axis (a recipe
  field and its values) or named ``arms`` (override lists), times the seeds;
* ``study-ica`` and ``study-spectral``: the exact small experiments of ``sslctl study``
  (:mod:`sslctl.studies`), whose rows are the arms (methods).
"""

from __future__ import annotations

import fnmatch
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from sslctl.errors import RecipeError, SslctlError
from sslctl.recipe import Recipe, validate
from sslctl.recipe.load import apply_overrides, compose, parse_override, read_yaml, set_values

TESTS = ("rank-correlation", "paired-difference", "paired-ratio")
MIN_SEEDS = {"rank-correlation": 2, "paired-difference": 2, "paired-ratio": 2}
PIPELINE_METRICS = (
    "linear/top1",
    "knn/top1",
    "ood/*/top1",
    "indep/hsic",
    "indep/nhsic",
    "indep/dhsic",
    "spectrum/rankme",
    "spectrum/condition",
    "spectrum/collapsed",
    "indep/projector/*",
    "spectrum/projector/*",
)
STUDY_METRICS = {
    "study-ica": ("amari", "correlation", "seconds"),
    "study-spectral": ("one_minus_cos", "mean_one_minus_cos", "loss_trained"),
}


class ClaimFileError(RecipeError):
    """A claim file is invalid; one line per problem, each naming the field."""

    def __init__(self, source: str, problems: list[str]):
        super().__init__(source, problems)
        lines = "\n".join(f"  - {p}" for p in problems)
        self.args = (f"invalid claim file {source}:\n{lines}",)


class Statement(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: Annotated[str, Field(min_length=1)]
    paper: Annotated[str, Field(min_length=1)]
    section: Annotated[str, Field(min_length=1)]
    quoted: bool = Field(description="true: the paper's words; false: a paraphrase")


class Scale(BaseModel):
    """Where a scale's recipes come from: ``base`` (a recipe) or ``sweep`` (a sweep file,
    its base and overrides), plus ``set`` overrides; for studies, ``options``."""

    model_config = ConfigDict(extra="forbid")

    base: str | None = None
    sweep: str | None = None
    set: list[str] = Field(default_factory=list)
    options: dict[str, Any] = Field(default_factory=dict)


class Vary(BaseModel):
    model_config = ConfigDict(extra="forbid")

    field: str
    values: Annotated[list[Any], Field(min_length=2)]
    tie: list[str] = Field(default_factory=list, description="fields set to the same value")


class Compare(BaseModel):
    model_config = ConfigDict(extra="forbid")

    treatment: Annotated[list[str], Field(min_length=1)]
    control: str


class Claim(BaseModel):
    """One claim file."""

    model_config = ConfigDict(extra="forbid")

    name: str
    title: Annotated[str, Field(min_length=1)]
    statement: Statement
    kind: Literal["pipeline", "study-ica", "study-spectral"]
    scales: dict[Literal["quick", "paper"], Scale]
    vary: Vary | None = None
    arms: dict[str, list[str]] = Field(default_factory=dict)
    compare: Compare | None = None
    x_metric: str | None = Field(None, description="rank-correlation against a metric")
    measure: str
    test: str
    direction: str
    threshold: float = Field(0.0, description="the value the effect is compared to")
    seeds: Annotated[int, Field(ge=1)] = 3
    path: Path | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Claim:
        if self.test not in TESTS:
            raise ValueError(f"test: got {self.test!r}; expected one of {', '.join(TESTS)}")
        if self.direction not in ("increase", "decrease"):
            raise ValueError(f"direction: got {self.direction!r}; expected increase or decrease")
        if self.seeds < MIN_SEEDS[self.test]:
            raise ValueError(
                f"seeds: got {self.seeds}; test {self.test} needs at least "
                f"{MIN_SEEDS[self.test]} seeds"
            )
        if self.test == "rank-correlation" and self.vary is None:
            raise ValueError("vary: required by test rank-correlation")
        if self.test != "rank-correlation":
            if self.compare is None:
                raise ValueError(f"compare: required by test {self.test}")
            if self.kind == "pipeline":
                names = [*self.compare.treatment, self.compare.control]
                missing = [n for n in names if n not in self.arms]
                if missing:
                    raise ValueError(f"compare: arms {missing} not in arms {list(self.arms)}")
        if self.kind != "pipeline" and (self.vary is not None or self.arms):
            raise ValueError(f"vary/arms: a {self.kind} claim compares the study's methods")
        known = PIPELINE_METRICS if self.kind == "pipeline" else STUDY_METRICS[self.kind]
        for name, metric in (("measure", self.measure), ("x_metric", self.x_metric)):
            if metric is not None and not any(fnmatch.fnmatchcase(metric, p) for p in known):
                raise ValueError(f"{name}: unknown metric {metric!r}; expected one of {known}")
        return self

    def source_dir(self) -> Path:
        return self.path.parent if self.path else Path.cwd()


def claims_dir() -> Path:
    """``./claims`` when it exists, else the repository's ``claims/``."""
    here = Path("claims")
    return here if here.is_dir() else Path(__file__).resolve().parents[2] / "claims"


def claim_paths() -> list[Path]:
    return sorted(claims_dir().glob("*.yaml"))


def find_claim(name_or_path: str) -> Path:
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml"):
        if path.is_file():
            return path
        raise SslctlError(f"claim file {name_or_path!r} not found")
    candidate = claims_dir() / f"{name_or_path}.yaml"
    if candidate.is_file():
        return candidate
    known = [p.stem for p in claim_paths()]
    raise SslctlError(f"claim {name_or_path!r} not found; known claims: {', '.join(known)}")


def load_claim(name_or_path: str, seeds: int | None = None) -> Claim:
    """Read and fully validate a claim (``seeds`` overrides the file's, as ``--seeds``)."""
    path = find_claim(name_or_path)
    data = read_yaml(path)
    data.setdefault("name", path.stem)
    if seeds is not None:
        data["seeds"] = seeds
    try:
        claim = Claim.model_validate({**data, "path": path})
    except ValidationError as err:
        problems = [
            f"{'.'.join(str(p) for p in e['loc']) or 'claim'}: "
            f"{e['msg'].removeprefix('Value error, ')}"
            for e in err.errors()
        ]
        if seeds is not None:
            problems = [p.replace("claim: seeds:", "--seeds:") for p in problems]
        raise ClaimFileError(str(path), problems) from None
    if claim.kind == "pipeline":
        for scale in claim.scales:
            check_recipes(claim, scale)
    return claim


def base_data(claim: Claim, scale: str) -> tuple[dict[str, Any], str, Any]:
    """The scale's base recipe as a dict (sweep file overrides and the scale's applied),
    its source, and the sweep file (None for a ``base`` recipe), whose links a varied
    field carries along."""
    if scale not in claim.scales:
        raise ClaimFileError(
            str(claim.path), [f"scales.{scale}: not defined; defined: {list(claim.scales)}"]
        )
    cfg = claim.scales[scale]
    if (cfg.base is None) == (cfg.sweep is None):
        raise ClaimFileError(str(claim.path), [f"scales.{scale}: give exactly one of base, sweep"])
    if cfg.sweep is not None:
        from sslctl.sweep.spec import find_sweep, load_sweep

        where = claim.source_dir() / cfg.sweep
        try:
            spec = load_sweep(str(where) if where.suffix in (".yaml", ".yml") else cfg.sweep)
            find_sweep(str(spec.path))
        except SslctlError as err:
            raise ClaimFileError(str(claim.path), [f"scales.{scale}.sweep: {err}"]) from None
        base_path, pre = spec.base_path(), spec.set
    else:
        spec, base_path, pre = None, (claim.source_dir() / cfg.base).resolve(), []
        if not base_path.is_file():
            raise ClaimFileError(
                str(claim.path), [f"scales.{scale}.base: recipe {str(base_path)!r} not found"]
            )
    data = apply_overrides(compose(base_path), [*pre, *cfg.set])
    return data, str(base_path), spec


Values = list[tuple[str, Any]]  # (dotted recipe path, value), applied in order


def build_recipe(data: dict[str, Any], values: Values, seed: int, source: str) -> Recipe:
    """The base data with ``overrides`` and the seed; a ``method.name=`` override starts
    from that method's defaults (as a sweep point does)."""
    import copy

    data = copy.deepcopy(data)
    method = next((v for path, v in values if path == "method.name"), None)
    if method is not None:
        data["method"] = {"name": method}
    rest = [(path, v) for path, v in values if path != "method.name"]
    return validate(set_values(data, [*rest, ("seed", seed)], "claim"), source)


def points(claim: Claim, sweep: Any = None) -> list[tuple[str, Any, Values]]:
    """(arm or vary label, the varied value or None, recipe values) of every point. A
    varied field that ``sweep`` (the scale's sweep file) sweeps brings its links along, so
    the claim's recipes are the sweep's own and its finished runs are reused."""
    if claim.vary is not None:
        out = []
        field = claim.vary.field
        for value in claim.vary.values:
            text = value if isinstance(value, str) else _json(value)
            values = [(f, value) for f in (field, *claim.vary.tie)]
            if sweep is not None and field in sweep.space:
                values += [(k, v) for k, v in sweep.linked({field: value}).items() if k != field]
            out.append((f"{field}={text}", value, values))
        return out
    return [
        (name, None, [(".".join(k), v) for k, v in map(parse_override, over)])
        for name, over in claim.arms.items()
    ]


def _json(value: Any) -> str:
    import json

    return json.dumps(value)


def recipes(claim: Claim, scale: str) -> list[tuple[str, Any, int, Recipe]]:
    """(label, varied value, seed, recipe) for every point and seed of a pipeline claim."""
    data, source, sweep = base_data(claim, scale)
    return [
        (label, value, seed, build_recipe(data, over, seed, source))
        for label, value, over in points(claim, sweep)
        for seed in range(claim.seeds)
    ]


def check_recipes(claim: Claim, scale: str) -> None:
    """Build every recipe of the scale once (seed 0): bad fields or values are errors that
    name the claim field they come from."""
    data, source, sweep = base_data(claim, scale)
    problems = []
    for label, _, over in points(claim, sweep):
        where = f"vary ({label})" if claim.vary is not None else f"arms.{label}"
        try:
            recipe = build_recipe(data, over, 0, source)
        except RecipeError as err:
            problems.extend(f"{where}: {p}" for p in err.problems)
            continue
        problems.extend(_metric_problems(claim, recipe))
    if problems:
        raise ClaimFileError(str(claim.path), sorted(set(problems)))


def _metric_problems(claim: Claim, recipe: Recipe) -> list[str]:
    """An ``ood/<set>/top1`` measure needs that set among the recipe's OOD data sets."""
    out = []
    for name, metric in (("measure", claim.measure), ("x_metric", claim.x_metric)):
        if metric and metric.startswith("ood/") and "*" not in metric:
            dataset = metric.split("/")[1]
            if dataset not in recipe.eval.ood.datasets:
                out.append(
                    f"{name}: {metric!r} needs {dataset!r} in eval.ood.datasets "
                    f"({recipe.eval.ood.datasets})"
                )
    return out
