"""Reading recipes: YAML (safe loading), ``extends:`` composition, ``--set`` overrides,
validation with errors that name the field, the value and what was expected."""

from __future__ import annotations

import difflib
import hashlib
import json
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError, create_model

from sslctl.errors import RecipeError
from sslctl.recipe.checks import check_plain, check_size
from sslctl.recipe.schema import MethodConfig, Recipe
from sslctl.recipe.yaml_io import UnsafeYAML, read_yaml, safe_load, yaml_problem

# where a run executes, and where its data sits, do not change what it computes; the
# evaluation settings do not change the trained weights (they have their own hashes,
# sslctl.evaluate.settings_hash), so changing only eval.* re-evaluates a finished run
HASH_EXCLUDED = ("launcher", "runtime.data_on_device", "eval")
# fields added after stores existed: left out of the hash at their default, so the runs
# trained before them keep their hash (their value was that default)
HASH_OMITTED_AT = {"data.decode": "workers"}
MAX_EXTENDS = 16  # recipes a chain of extends: may pass through


def compose(path: Path, _seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    """Read ``path`` and merge it over the recipes it ``extends`` (paths relative to it)."""
    given = path
    try:
        path = path.resolve()
    except (OSError, RuntimeError) as err:  # a symlink loop
        raise RecipeError(str(path), [f"cannot resolve {path}: {err}"]) from None
    if len(_seen) >= MAX_EXTENDS:
        raise RecipeError(str(path), [f"extends: chain longer than {MAX_EXTENDS} recipes"])
    if path in _seen:
        chain = " -> ".join(str(p) for p in (*_seen, path))
        raise RecipeError(str(path), [f"extends: cycle {chain}"])
    try:
        data = read_yaml(path)
    except RecipeError as err:  # name the file as the user wrote it (/proc/self/mem)
        if str(given) == str(path):
            raise
        problems = [p.replace(str(path), str(given)) for p in err.problems]
        raise RecipeError(str(given), problems) from None
    parents = data.pop("extends", None)
    if parents is None:
        return data
    if isinstance(parents, str):
        parents = [parents]
    if not isinstance(parents, list) or not all(isinstance(p, str) for p in parents):
        raise RecipeError(str(path), [f"extends: got {parents!r}; expected a path or a list"])
    merged: dict[str, Any] = {}
    for parent in parents:
        merged = deep_merge(merged, compose(path.parent / parent, (*_seen, path)))
    return deep_merge(merged, data)


def deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """Recursively merge ``over`` into a copy of ``base`` (mappings merge, the rest replaces)."""
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def parse_override(text: str) -> tuple[list[str], Any]:
    """``"a.b=value"`` -> (["a", "b"], value parsed as YAML)."""
    if "=" not in text:
        raise RecipeError("--set", [f"{text!r}: expected PATH=VALUE, e.g. projector.width=4096"])
    path, raw = text.split("=", 1)
    keys = path.strip().split(".")
    if not all(keys):
        raise RecipeError("--set", [f"{text!r}: empty field name in path {path!r}"])
    try:
        value = safe_load(raw) if raw.strip() else raw
    except UnsafeYAML as err:
        raise RecipeError("--set", [f"{path}: {yaml_problem(err)}"]) from None
    except yaml.YAMLError:
        value = raw
    return keys, value


def apply_overrides(data: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Apply ``--set`` overrides (``PATH=VALUE`` text, the value parsed as YAML); a path
    that the schema does not have is an error."""
    parsed = [parse_override(text) for text in overrides]
    return set_values(data, [(".".join(keys), value) for keys, value in parsed], "--set")


def set_values(
    data: dict[str, Any], values: list[tuple[str, Any]], where: str = "--set"
) -> dict[str, Any]:
    """A copy of ``data`` with each dotted path set to its value, in order (structured
    values: a sweep point, a claim's arm); a path the schema does not have is an error
    from ``where``."""
    out = json.loads(json.dumps(data, default=list))  # deep copy of plain data
    for path, value in values:
        keys = path.split(".")
        _check_schema_path(keys, f"{path}={value!r}", out, where)
        node = out
        for key in keys[:-1]:
            if not isinstance(node.get(key), dict):
                node[key] = {}
            node = node[key]
        node[keys[-1]] = value
    return out


def _check_schema_path(
    keys: list[str], text: str, data: dict[str, Any], where: str = "--set"
) -> None:
    model: type[BaseModel] = Recipe
    for depth, key in enumerate(keys):
        prefix = ".".join(keys[:depth]) or "the recipe"
        if model is MethodConfig:
            allowed = ["name", *_method_fields(_method_name(data))]
        else:
            allowed = list(model.model_fields)
        if key not in allowed:
            hint = _suggest(key, allowed)
            raise RecipeError(
                where, [f"{text!r}: {prefix} has no field {key!r}{hint}; fields: {allowed}"]
            )
        if model is MethodConfig:
            return
        annotation = model.model_fields[key].annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            model = annotation
        elif depth < len(keys) - 1:
            raise RecipeError(where, [f"{text!r}: {'.'.join(keys[: depth + 1])} is not a block"])


def _method_name(data: dict[str, Any]) -> str:
    method = data.get("method")
    name = method.get("name") if isinstance(method, dict) else None
    return name if isinstance(name, str) else MethodConfig().name


def _method_fields(name: str) -> list[str]:
    from sslctl.methods import available, hyperparameters

    return list(hyperparameters(name)) if name in available() else []


def _suggest(word: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _kind(value: Any) -> str:
    return type(value).__name__


def validate(data: dict[str, Any], source: str) -> Recipe:
    """Validate plain data into a :class:`Recipe` with every default filled in."""
    check_plain(data, source)
    try:
        recipe = Recipe.model_validate(data)
    except ValidationError as err:
        raise RecipeError(source, [_describe(e) for e in err.errors()]) from None
    recipe.method = resolve_method(recipe.method, source)
    check_size(recipe, source)
    return recipe


def _describe(error: Any) -> str:
    loc = [str(p) for p in error["loc"]]
    path = ".".join(loc) or "recipe"
    value = error.get("input")
    if error["type"] == "extra_forbidden":
        allowed = _fields_at(loc[:-1])
        return f"{path}: unknown key{_suggest(loc[-1], allowed)}; expected one of {allowed}"
    msg = error["msg"].removeprefix("Value error, ")
    if not loc or isinstance(value, dict):  # a check across fields names them itself
        return msg if not loc else f"{path}: {msg}"
    return f"{path}: got {_short(value)} ({_kind(value)}); {msg}"


def _short(value: Any, limit: int = 200) -> str:
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


def _fields_at(loc: list[str]) -> list[str]:
    model: Any = Recipe
    for key in loc:
        field = model.model_fields.get(key) if hasattr(model, "model_fields") else None
        if field is None:
            return []
        model = field.annotation
    return list(model.model_fields) if hasattr(model, "model_fields") else []


def resolve_method(method: MethodConfig, source: str) -> MethodConfig:
    """Check the method's hyper-parameters against its loss signature; fill in defaults."""
    from sslctl.methods import hyperparameters

    params = hyperparameters(method.name)
    fields = {
        name: (p.annotation if p.annotation is not p.empty else Any, p.default)
        for name, p in params.items()
    }
    model = create_model(
        f"{method.name}_params",
        __config__={"extra": "forbid", "strict": False, "allow_inf_nan": False},
        **fields,
    )
    given = method.params()
    try:
        resolved = model.model_validate(given)
    except ValidationError as err:
        problems = []
        for e in err.errors():
            key = ".".join(str(p) for p in e["loc"])
            if e["type"] == "extra_forbidden":
                hint = _suggest(key, list(params))
                problems.append(
                    f"method.{key}: unknown hyper-parameter of {method.name!r}{hint}; "
                    f"expected one of {list(params)}"
                )
            else:
                problems.append(f"method.{key}: got {_short(e.get('input'))}; {e['msg']}")
        raise RecipeError(source, problems) from None
    return MethodConfig(name=method.name, **resolved.model_dump())


def load_recipe(path: str | Path, overrides: list[str] | None = None) -> Recipe:
    """Read, compose, override and validate a recipe file."""
    data = compose(Path(path))
    data = apply_overrides(data, overrides or [])
    return validate(data, str(path))


def to_dict(recipe: Recipe) -> dict[str, Any]:
    """Plain, JSON-compatible data of a resolved recipe (tuples become lists)."""
    return json.loads(recipe.model_dump_json())


def recipe_hash(recipe: Recipe) -> str:
    """The pretraining identity: a content hash of everything that changes the trained
    weights (``launcher``, ``runtime.data_on_device`` and ``eval`` excluded). It keys the
    MLflow run (tag ``sslctl.recipe_hash``) and the checkpoint folder."""
    data = to_dict(recipe)
    for dotted in HASH_EXCLUDED + tuple(HASH_OMITTED_AT):
        *parents, key = dotted.split(".")
        block = data
        for parent in parents:
            block = block[parent]
        if dotted in HASH_EXCLUDED or block.get(key) == HASH_OMITTED_AT[dotted]:
            block.pop(key, None)
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def to_yaml(recipe: Recipe) -> str:
    """The resolved recipe as YAML, loadable again by :func:`load_recipe`."""
    return yaml.safe_dump(to_dict(recipe), sort_keys=False)


def flatten(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"a": {"b": 1}}`` -> ``{"a.b": 1}`` (lists kept as values)."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flatten(value, f"{name}."))
        else:
            out[name] = value
    return out
