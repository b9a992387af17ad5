"""Reading YAML that a user (or anyone) wrote, defensively.

* Safe loading only (no Python objects), with libyaml's C parser when PyYAML has it
  (a 24 MB file takes over a minute with the pure-Python parser).
* YAML 1.2 scalars: only ``true``/``false`` are booleans (``on:`` stays a key) and dates
  stay strings (``seed: 2001-12-14`` is a wrong type, not a ``datetime.date``).
* Refused, with the line: aliases (``*name``; nested aliases expand a 500-byte file to
  gigabytes, and recipes compose with ``extends:`` instead), nesting deeper than
  :data:`MAX_DEPTH`, scalars longer than :data:`MAX_SCALAR` characters (a 100,000-digit
  integer, a 5,000-character path), duplicate keys (the last would win silently).
* Files: regular files only, at most :data:`MAX_BYTES`, UTF-8 text without NUL bytes;
  an unreadable file is an error naming it.
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path
from typing import Any

import yaml

from sslctl.errors import RecipeError

MAX_BYTES = 1_000_000
MAX_DEPTH = 32
MAX_SCALAR = 4096  # PATH_MAX on Linux; longer than any recipe value

_Base: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_Base):  # type: ignore[misc, valid-type]
    """Safe loading with YAML 1.2 booleans and no timestamps; duplicate keys refused."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
            if key is None:
                continue
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None,
                    None,
                    f"duplicate key {key!r} (first at line {seen[key] + 1}); "
                    "the last would win silently",
                    key_node.start_mark,
                )
            seen[key] = key_node.start_mark.line
        return super().construct_mapping(node, deep)


_Loader.yaml_implicit_resolvers = {
    first: [
        (tag, regexp)
        for tag, regexp in resolvers
        if tag not in ("tag:yaml.org,2002:bool", "tag:yaml.org,2002:timestamp")
    ]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool",
    re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
    list("tTfF"),
)
_Loader.add_constructor(
    "tag:yaml.org,2002:timestamp", yaml.SafeLoader.construct_yaml_str
)  # an explicit !!timestamp stays text as well


class UnsafeYAML(yaml.YAMLError):
    """A YAML construct sslctl refuses (alias, deep nesting, huge scalar), with its line."""

    def __init__(self, line: int, problem: str) -> None:
        self.line = line
        self.problem = problem
        super().__init__(f"line {line}: {problem}")


def _check_events(text: str) -> None:
    """One pass over the parser's events: refuse aliases, deep nesting, huge scalars."""
    depth = 0
    for event in yaml.parse(text, Loader=_Loader):
        line = event.start_mark.line + 1
        if isinstance(event, yaml.AliasEvent):
            raise UnsafeYAML(
                line,
                f"YAML alias *{event.anchor} is not allowed (aliases can expand to gigabytes;"
                " compose recipes with extends: instead)",
            )
        if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
            depth += 1
            if depth > MAX_DEPTH:
                raise UnsafeYAML(line, f"nested deeper than {MAX_DEPTH} levels")
        elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
            depth -= 1
        elif isinstance(event, yaml.ScalarEvent) and len(event.value) > MAX_SCALAR:
            raise UnsafeYAML(
                line, f"a value of {len(event.value)} characters; at most {MAX_SCALAR}"
            )


def safe_load(text: str) -> Any:
    """Parse YAML text with the checks above; raises a ``yaml.YAMLError``."""
    _check_events(text)
    try:
        return yaml.load(text, Loader=_Loader)
    except (ValueError, RecursionError, OverflowError) as err:  # defence in depth
        raise yaml.YAMLError(str(err)[:200]) from None


def yaml_problem(err: yaml.YAMLError) -> str:
    """``malformed YAML at line 3, column 5: ...`` or the refusal with its line."""
    if isinstance(err, UnsafeYAML):
        return f"line {err.line}: {err.problem}"
    mark = getattr(err, "problem_mark", None)
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
    problem = getattr(err, "problem", None) or str(err)
    return f"malformed YAML{where}: {problem}"


def read_text(path: Path) -> str:
    """The UTF-8 text of a regular file of at most :data:`MAX_BYTES`, or a RecipeError
    naming the file and what is wrong with it."""
    name = str(path)
    try:
        info = path.stat()
    except FileNotFoundError:
        raise RecipeError(name, [f"file not found: {path}"]) from None
    except (OSError, RuntimeError) as err:  # symlink loop, name too long, no permission
        raise RecipeError(name, [f"cannot read {path}: {_reason(err)}"]) from None
    if not stat.S_ISREG(info.st_mode):
        raise RecipeError(name, [f"not a regular file: {path}"])
    if info.st_size > MAX_BYTES:
        raise RecipeError(name, [f"file of {info.st_size:,} bytes; at most {MAX_BYTES:,}"])
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_BYTES + 1)
    except OSError as err:
        raise RecipeError(name, [f"cannot read {path}: {_reason(err)}"]) from None
    if len(data) > MAX_BYTES:
        raise RecipeError(name, [f"file larger than {MAX_BYTES:,} bytes"])
    nul = data.find(b"\0")
    if nul >= 0:
        raise RecipeError(name, [f"binary file (NUL byte at offset {nul})"])
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise RecipeError(
            name, [f"not UTF-8 text (byte 0x{data[err.start]:02x} at offset {err.start})"]
        ) from None


def _reason(err: BaseException) -> str:
    if isinstance(err, OSError) and err.errno is not None:
        return os.strerror(err.errno)
    return str(err) or type(err).__name__


def read_yaml(path: Path) -> dict[str, Any]:
    """Parse one YAML file into a non-empty mapping, with clear errors for the usual
    mistakes (an empty or comment-only file is one: it would silently run all defaults)."""
    text = read_text(path)
    try:
        data = safe_load(text)
    except yaml.YAMLError as err:
        raise RecipeError(str(path), [yaml_problem(err)]) from None
    if data is None or data == {}:
        raise RecipeError(
            str(path), ["empty file (no fields); write the fields to set, or extends: a recipe"]
        )
    if not isinstance(data, dict):
        raise RecipeError(
            str(path), [f"expected a mapping at the top level, got {type(data).__name__}"]
        )
    return data
