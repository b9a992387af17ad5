"""Sweep files (``sweeps/NAME.yaml``): a base recipe, a search space over dotted recipe
paths, linked paths that take a swept path's value, the sampler, pruner, objective,
budget and seeds. Validated completely (every grid value and range end is tried against
the recipe schema) before anything exists."""

from __future__ import annotations

import itertools
import math
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, model_validator

from sslctl.errors import RecipeError, SslctlError
from sslctl.recipe import Recipe, validate
from sslctl.recipe.checks import check_plain
from sslctl.recipe.load import apply_overrides, compose, read_yaml, set_values
from sslctl.sweep.objective import check_objective


class Range(BaseModel):
    """A numeric range: ``{low, high}`` (+ ``log``, ``step``, ``type: int|float``)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    low: float
    high: float
    log: bool = False
    step: float | None = None
    type: Literal["int", "float"] = "float"

    @model_validator(mode="after")
    def _ordered(self) -> Range:
        if self.low >= self.high:
            raise ValueError(f"range needs low < high, got low={self.low}, high={self.high}")
        if self.log and self.low <= 0:
            raise ValueError(f"a log range needs low > 0, got low={self.low}")
        if self.step is not None and self.step <= 0:
            raise ValueError(f"step must be > 0, got {self.step}")
        return self

    def ends(self) -> list[Any]:
        cast = int if self.type == "int" else float
        return [cast(self.low), cast(self.high)]


class Choices(BaseModel):
    """A categorical dimension: ``{choices: [...]}``."""

    model_config = ConfigDict(extra="forbid")

    choices: Annotated[list[Any], Field(min_length=1)]


Dimension = list[Any] | Range | Choices


class Objective(BaseModel):
    model_config = ConfigDict(extra="forbid")

    metric: str = "linear/top1"
    direction: Literal["maximize", "minimize"] = "maximize"


MAX_GRID = 10_000  # points; a larger grid would enqueue for hours before anything runs
SAFE_NAME = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$"  # used in file names and MLflow tags


class SweepSpec(BaseModel):
    """One sweep definition."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    name: Annotated[str, Field(pattern=SAFE_NAME)] = Field(
        description="letters, digits, '.', '_' and '-' (it names files under sweeps/)"
    )
    base: str = Field(description="base recipe, relative to the sweep file")
    set: list[str] = Field(default_factory=list, description="overrides applied to the base")
    space: dict[str, Dimension]
    link: dict[str, str | dict[str, dict[Any, Any]]] = Field(
        default_factory=dict,
        description="PATH: SWEPT_PATH, PATH takes the swept path's value at every point "
        "(projector.out_dim: projector.width varies the projector's dimension throughout); "
        "PATH: {SWEPT_PATH: {value: PATH's value, ...}}, one value per grid value (a "
        "per-width learning rate)",
    )
    sampler: Literal["grid", "tpe", "random"] = "grid"
    pruner: Literal["median", "hyperband", "none"] = "none"
    objective: Objective = Objective()
    trials: Annotated[int, Field(gt=0)] | None = None
    seeds: Annotated[list[Annotated[int, Field(ge=0)]], Field(min_length=1)] = [0]
    workers: Annotated[int, Field(gt=0)] = 1
    launcher: Literal["local", "slurm"] = Field(
        "local", description="local: worker processes here; slurm: one worker per array task"
    )
    array_parallelism: Annotated[int, Field(gt=0)] | None = Field(
        None, description="SLURM array tasks running at once (default: workers)"
    )
    probe_every: Annotated[int, Field(gt=0)] = 2
    path: Path | None = None
    _base_data: dict[str, Any] | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _grid_needs_lists(self) -> SweepSpec:
        if not self.space:
            raise ValueError("space: empty; expected at least one dotted recipe path")
        for key, dim in self.space.items():
            if isinstance(dim, list) and not dim:
                raise ValueError(f"space.{key}: empty grid; expected a non-empty list")
        if ".." in self.name:
            raise ValueError(f"name: got {self.name!r}; '..' is not allowed in a sweep name")
        if self.sampler == "grid":
            bad = [k for k, d in self.space.items() if isinstance(d, Range)]
            if bad:
                raise ValueError(f"sampler grid needs lists or choices; {bad} are ranges")
            size = self.grid_size()
            if size > MAX_GRID:
                raise ValueError(
                    f"space: a grid of {size:,} points ({' x '.join(self._lengths())}); "
                    f"at most {MAX_GRID:,}: use sampler tpe or random with a trials budget"
                )
        elif self.trials is None:
            raise ValueError(f"trials: required for sampler {self.sampler!r}")
        for target, rule in self.link.items():
            _check_link(target, rule, self.space)
        return self

    def base_path(self) -> Path:
        return ((self.path.parent if self.path else Path.cwd()) / self.base).resolve()

    def _lengths(self) -> list[str]:
        return [
            str(len(d.choices if isinstance(d, Choices) else d))
            for d in self.space.values()
            if not isinstance(d, Range)
        ]

    def grid_size(self) -> int:
        """Points of the grid, counted without building it."""
        return math.prod(int(n) for n in self._lengths())

    def grid(self) -> list[dict[str, Any]]:
        """Every point of a grid sweep, in a fixed order."""
        keys = list(self.space)
        values = [d.choices if isinstance(d, Choices) else d for d in self.space.values()]
        return [dict(zip(keys, combo, strict=True)) for combo in itertools.product(*values)]

    def linked(self, point: dict[str, Any]) -> dict[str, Any]:
        """The point with every linked path set from its swept path's value (the value
        itself, or the value the link's table gives for it)."""
        extra = {}
        for target, rule in self.link.items():
            source, table = (rule, None) if isinstance(rule, str) else next(iter(rule.items()))
            if source in point:
                extra[target] = point[source] if table is None else table[point[source]]
        return {**point, **extra}

    def recipe_for(self, point: dict[str, Any], seed: int) -> Recipe:
        """The base recipe with the sweep's overrides, this point (linked paths included)
        and this seed. A point that changes ``method.name`` starts from that method's
        defaults."""
        if self._base_data is None:  # the base recipe is read once per sweep
            self._base_data = apply_overrides(compose(self.base_path()), self.set)
        data = self._base_data
        if "method.name" in point:
            data = {**data, "method": {"name": point["method.name"]}}
        values = [*self.linked(point).items(), ("seed", seed)]
        return validate(set_values(data, values, f"sweep {self.name}"), str(self.base_path()))


def _check_link(target: str, rule: str | dict[str, dict[Any, Any]], space: dict) -> None:
    """A link names one swept path; a table link has a value for each of its grid values."""
    if target in space:
        raise ValueError(f"link.{target}: {target!r} is swept itself; link or sweep it")
    if isinstance(rule, dict) and len(rule) != 1:
        raise ValueError(f"link.{target}: a table link names one swept path, got {list(rule)}")
    source = rule if isinstance(rule, str) else next(iter(rule))
    if source not in space:
        raise ValueError(f"link.{target}: got {source!r}; expected a swept path ({list(space)})")
    if isinstance(rule, dict):
        dim = space[source]
        if isinstance(dim, Range):
            raise ValueError(f"link.{target}: a table link needs a grid or choices, not a range")
        values = dim.choices if isinstance(dim, Choices) else dim
        missing = [v for v in values if v not in rule[source]]
        if missing:
            raise ValueError(f"link.{target}: no value for {source} = {missing}")


def worker_command(spec: SweepSpec, storage: str, parent_run_id: str) -> list[str]:
    """The command line of one sweep worker (a local process or a SLURM array task):
    ``python -m sslctl.sweep.worker SWEEP --storage URL --parent-run ID``, paths absolute."""
    import sys

    assert spec.path is not None
    if "://" not in storage:
        storage = str(Path(storage).resolve())
    return [
        sys.executable,
        "-m",
        "sslctl.sweep.worker",
        str(Path(spec.path).resolve()),
        "--storage",
        storage,
        "--parent-run",
        parent_run_id,
    ]


def find_sweep(name_or_path: str) -> Path:
    """``projector-width`` -> ``sweeps/projector-width.yaml``; a path is used as is."""
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml") or path.exists():
        candidates = [path]
    else:
        candidates = [
            Path("sweeps") / f"{name_or_path}.yaml",
            Path(__file__).resolve().parents[2] / "sweeps" / f"{name_or_path}.yaml",
        ]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise SslctlError(
        f"sweep {name_or_path!r} not found; looked for {[str(c) for c in candidates]}"
    )


def load_sweep(name_or_path: str) -> SweepSpec:
    """Read and fully validate a sweep file (each grid value and range end is tried)."""
    path = find_sweep(name_or_path)
    data = read_yaml(path)
    data.setdefault("name", path.stem)
    check_plain(data, str(path))
    try:
        spec = SweepSpec.model_validate({**data, "path": path})
    except ValidationError as err:
        raise RecipeError(str(path), [_problem(e) for e in err.errors()]) from None
    _check_space(spec, str(path))
    return spec


def _problem(error: Any) -> str:
    where = ".".join(str(p) for p in error["loc"]) or "sweep"
    msg = error["msg"].removeprefix("Value error, ")
    value = error.get("input")
    if isinstance(value, (str, int, float)) and error["loc"]:
        return f"{where}: got {str(value)[:200]!r}; {msg}"
    return f"{where}: {msg}"


def _check_space(spec: SweepSpec, source: str) -> None:
    problems: list[str] = []
    try:
        spec.recipe_for({}, spec.seeds[0])
    except RecipeError as err:
        raise RecipeError(source, [f"base {spec.base}: {p}" for p in err.problems]) from None
    for key, dim in spec.space.items():
        values = (
            dim.choices
            if isinstance(dim, Choices)
            else (dim.ends() if isinstance(dim, Range) else dim)
        )
        for value in values:
            try:
                spec.recipe_for({key: value}, spec.seeds[0])
            except RecipeError as err:
                problems.extend(f"space.{key}={value!r}: {p}" for p in err.problems)
    base = spec.recipe_for({}, spec.seeds[0])
    wrong = check_objective(spec.objective.metric, base)
    if wrong:
        problems.append(wrong)
    if problems:
        raise RecipeError(source, problems)
