"""Choosing the runs of a report: experiment, sweep, ``--filter`` conditions, and the
exclusion (and counting) of runs that did not complete."""

from __future__ import annotations

import difflib
import operator
import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from sslctl.errors import SslctlError
from sslctl.report.query import SPECIAL_FIELDS, RunRow
from sslctl.vocabulary import Tag

FILTER = re.compile(r"^\s*([\w.\-/]+?)\s*(!=|>=|<=|=|>|<)\s*(.*?)\s*$")
ORDER: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
}


@dataclass(frozen=True)
class Condition:
    """``field op value``; ``=`` and ``!=`` take comma-separated alternatives."""

    field: str
    op: str
    value: str

    def holds(self, run: RunRow) -> bool:
        got = run.field(self.field)
        if self.op in ORDER:
            x, y = as_number(got), as_number(self.value)
            return x is not None and y is not None and ORDER[self.op](x, y)
        hit = any(same(got, v) for v in self.value.split(","))
        return hit if self.op == "=" else not hit


def parse_filter(text: str) -> Condition:
    """``'method.name=vicreg'``, ``'projector.width>=1024'``, ``'method.name!=simclr,wmse'``."""
    match = FILTER.match(text)
    if not match or not match.group(3):
        raise SslctlError(
            f"--filter: got {text!r}; expected FIELD=VALUE, FIELD!=VALUE or FIELD>=NUMBER "
            "(also >, <, <=), e.g. method.name=vicreg or projector.width>=1024"
        )
    cond = Condition(*match.groups())
    if cond.op in ORDER and as_number(cond.value) is None:
        raise SslctlError(
            f"--filter: {text!r} compares with {cond.op}, so the value must be a number"
        )
    return cond


def as_number(text: str | None) -> float | None:
    try:
        return float(text) if text is not None else None
    except ValueError:
        return None


def same(got: str | None, wanted: str) -> bool:
    """Equal as text, or as numbers (``0.002`` matches ``2e-3``)."""
    if got is None:
        return wanted in ("None", "")
    if got == wanted:
        return True
    x, y = as_number(got), as_number(wanted)
    return x is not None and x == y


def known_fields(rows: Iterable[RunRow]) -> set[str]:
    """Every name ``RunRow.field`` answers for at least one of ``rows``."""
    out = set(SPECIAL_FIELDS)
    for r in rows:
        out.update(r.params)
        out.update(r.metrics)
        out.update(f"tags.{t}" for t in r.tags)
    return out


def resolve_field(name: str, known: set[str], option: str) -> str:
    """``name`` itself, or ``name.name`` (``method`` -> ``method.name``), or an error that
    names the closest known fields."""
    if name in known:
        return name
    if f"{name}.name" in known:
        return f"{name}.name"
    close = difflib.get_close_matches(name, sorted(known), n=3, cutoff=0.6)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    raise SslctlError(
        f"{option}: unknown field {name!r}{hint} (recipe fields look like method.name, "
        "projector.width; tags as tags.NAME)"
    )


def select(
    rows: list[RunRow],
    *,
    experiment: str | None = None,
    sweep: str | None = None,
    filters: Iterable[str] = (),
    include_all: bool = False,
) -> tuple[list[RunRow], dict[str, int]]:
    """Pipeline runs (those with a recipe hash; sweep parents left out) matching the
    options, and the count per status of those left out for not being complete (none
    are left out with ``include_all``)."""
    pipeline_runs = [
        r for r in rows if Tag.RECIPE_HASH in r.tags and not r.tags.get(Tag.SWEEP_PARENT)
    ]
    if experiment is not None:
        _must_exist("--experiment", experiment, {r.experiment for r in rows})
        pipeline_runs = [r for r in pipeline_runs if r.experiment == experiment]
    if sweep is not None:
        sweeps = {r.tags[Tag.SWEEP] for r in rows if Tag.SWEEP in r.tags}
        _must_exist("--sweep", sweep, sweeps)
        pipeline_runs = [r for r in pipeline_runs if r.tags.get(Tag.SWEEP) == sweep]
    known = known_fields(pipeline_runs)
    conditions = [parse_filter(text) for text in filters]
    if pipeline_runs:
        conditions = [
            Condition(resolve_field(c.field, known, "--filter"), c.op, c.value) for c in conditions
        ]
    matching = [r for r in pipeline_runs if all(c.holds(r) for c in conditions)]
    if include_all:
        return matching, {}
    excluded = Counter(r.state for r in matching if not r.complete)
    return [r for r in matching if r.complete], dict(sorted(excluded.items()))


def _must_exist(option: str, name: str, names: set[str]) -> None:
    if name not in names:
        listed = ", ".join(sorted(names)) or "none"
        raise SslctlError(
            f"{option}: no {option[2:]} named {name!r} in the store (there: {listed})"
        )
