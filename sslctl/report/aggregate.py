"""Selecting, grouping and aggregating runs: mean ± std over seeds, n, baselines, pivots."""

from __future__ import annotations

import fnmatch
import math
import re
import statistics
from collections import defaultdict
from dataclasses import dataclass, field

from sslctl.errors import SslctlError
from sslctl.report.query import RunRow

DEFAULT_METRICS = ("linear/top1", "knn/top1", "ood/*/top1", "indep/nhsic", "spectrum/rankme")
IGNORED_FIELDS = {"seed"}
PROTOCOL_TAGS = {
    "linear/": "linear",
    "projector/": "linear",
    "knn/": "knn",
    "ood/": "ood",
    "indep/": "independence",
    "spectrum/": "spectrum",
    "probe/": "knn",
}
FILTER = re.compile(r"^\s*([\w.\-/]+)\s*(!=|=)\s*(.*?)\s*$")


@dataclass
class Cell:
    mean: float
    std: float
    n: int


@dataclass
class Group:
    """One row of a report: the values of the grouping fields and aggregated metrics."""

    key: tuple[str, ...]
    cells: dict[str, Cell]
    run_ids: list[str] = field(default_factory=list)


@dataclass
class Report:
    fields: list[str]
    metrics: list[str]
    groups: list[Group]
    baselines: list[Group]
    protocols: dict[str, str]
    excluded: dict[str, int]


def parse_filter(text: str) -> tuple[str, str, str]:
    """``'method.name=vicreg'`` -> (field, op, value); ``!=`` negates."""
    match = FILTER.match(text)
    if not match:
        raise SslctlError(
            f"--filter: got {text!r}; expected FIELD=VALUE or FIELD!=VALUE, e.g. method.name=vicreg"
        )
    return match.group(1), match.group(2), match.group(3)


def select(
    rows: list[RunRow],
    *,
    experiment: str | None = None,
    sweep: str | None = None,
    filters: list[str] = (),
    include_all: bool = False,
) -> tuple[list[RunRow], dict[str, int]]:
    """Pipeline runs matching the options; non-complete runs are excluded (and counted)
    unless ``include_all``."""
    conditions = [parse_filter(f) for f in filters]
    kept, excluded = [], defaultdict(int)
    for r in rows:
        if r.tags.get("sslctl.sweep_parent") or "sslctl.recipe_hash" not in r.tags:
            continue
        if experiment and r.experiment != experiment:
            continue
        if sweep and r.tags.get("sslctl.sweep") != sweep:
            continue
        if not all((r.field(f) == v) == (op == "=") for f, op, v in conditions):
            continue
        if not r.complete and not include_all:
            excluded[r.tags.get("sslctl.status", r.status.lower())] += 1
            continue
        kept.append(r)
    return kept, dict(excluded)


def metric_columns(rows: list[RunRow], patterns: list[str] | None) -> list[str]:
    """Metric names matching the glob patterns, in pattern order (baselines excluded)."""
    names = sorted({k for r in rows for k in r.metrics if not k.startswith("baseline/")})
    out: list[str] = []
    for pattern in patterns or DEFAULT_METRICS:
        hits = [n for n in names if glob_match(n, pattern) and n not in out]
        if not hits and patterns:
            raise SslctlError(
                f"--metrics: {pattern!r} matches no logged metric; some that exist: {names[:12]}"
            )
        out += hits
    return out


def glob_match(name: str, pattern: str) -> bool:
    """Shell-style match where ``*`` stays within one ``/`` segment (``**`` crosses them):
    ``ood/*/top1`` matches ``ood/digits/top1`` but not ``ood/mnist5k-c/noise/top1``."""
    if "**" in pattern:
        return fnmatch.fnmatchcase(name, pattern.replace("**", "*"))
    parts, pats = name.split("/"), pattern.split("/")
    return len(parts) == len(pats) and all(
        fnmatch.fnmatchcase(a, b) for a, b in zip(parts, pats, strict=True)
    )


def aggregate(values: list[float]) -> Cell:
    finite = [v for v in values if math.isfinite(v)]
    if not finite:
        return Cell(math.nan, math.nan, 0)
    std = statistics.stdev(finite) if len(finite) > 1 else 0.0
    return Cell(statistics.fmean(finite), std, len(finite))


def _default_fields(rows: list[RunRow]) -> list[str]:
    """``method.name`` plus every recipe field that varies; a method hyper-parameter
    counts only if it varies among runs of the same method (not merely because another
    method lacks it)."""
    keys = sorted({k for r in rows for k in r.params} - IGNORED_FIELDS - {"method.name"})
    by_method: dict[str | None, list[RunRow]] = defaultdict(list)
    for r in rows:
        by_method[r.params.get("method.name")].append(r)

    def varies(key: str) -> bool:
        if key.startswith("method."):
            return any(len({r.params.get(key) for r in runs}) > 1 for runs in by_method.values())
        return len({r.params.get(key) for r in rows}) > 1

    return ["method.name", *(k for k in keys if varies(k))]


def group(rows: list[RunRow], fields: list[str], metrics: list[str]) -> list[Group]:
    buckets: dict[tuple[str, ...], list[RunRow]] = defaultdict(list)
    for r in rows:
        buckets[tuple(str(r.field(f)) for f in fields)].append(r)
    return [
        Group(
            key,
            {m: aggregate([r.metrics[m] for r in runs if m in r.metrics]) for m in metrics},
            [r.run_id for r in runs],
        )
        for key, runs in buckets.items()
    ]


def build_report(
    rows: list[RunRow],
    *,
    by: list[str] | None,
    metrics: list[str] | None,
    sort: str | None,
    excluded: dict[str, int],
) -> Report:
    """Group (by ``by`` or by every recipe field that varies, seeds aggregated) and sort."""
    fields = by or _default_fields(rows)
    known = {k for r in rows for k in r.params} | {"run_id", "experiment", "status"}
    unknown = [f for f in fields if f not in known and not f.startswith("tags.")]
    if rows and unknown:
        raise SslctlError(
            f"--by: unknown field(s) {unknown}; recipe fields look like "
            "method.name, projector.width"
        )
    columns = metric_columns(rows, metrics)
    groups = group(rows, fields, columns)
    key = sort or (columns[0] if columns else None)
    if key is not None:
        groups.sort(
            key=lambda g: (
                -(
                    g.cells[key].mean
                    if key in g.cells and not math.isnan(g.cells[key].mean)
                    else -math.inf
                )
            )
        )
    baselines = []
    for data, runs in _by_data(rows).items():
        for kind, label in (("raw", "raw pixels"), ("random", "random init")):
            cells = {
                m: aggregate(
                    [
                        r.metrics[f"baseline/{kind}/{m}"]
                        for r in runs
                        if f"baseline/{kind}/{m}" in r.metrics
                    ]
                )
                for m in columns
            }
            if any(c.n for c in cells.values()):
                baselines.append(Group((f"{label} ({data})",), cells))
    return Report(fields, columns, groups, baselines, protocols(rows, columns), excluded)


def _by_data(rows: list[RunRow]) -> dict[str, list[RunRow]]:
    out: dict[str, list[RunRow]] = defaultdict(list)
    for r in rows:
        out[r.params.get("data.name", "?")].append(r)
    return out


def protocols(rows: list[RunRow], metrics: list[str]) -> dict[str, str]:
    """The protocol of each metric family shown (``linear/*``, ``ood/*``, ...), from the
    runs' ``sslctl.protocol.*`` tags."""
    out = {}
    for m in metrics:
        prefix, tag = next(
            ((p, t) for p, t in PROTOCOL_TAGS.items() if m.startswith(p)), (None, None)
        )
        key = f"sslctl.protocol.{tag}"
        text = next((r.tags[key] for r in rows if key in r.tags), None)
        if text and prefix:
            out[f"{prefix}*"] = text
    return out


def pivot(
    rows: list[RunRow], row_field: str, col_field: str, metric: str
) -> tuple[list[str], list[str], dict[tuple[str, str], Cell]]:
    """Paper-style table: ``row_field`` x ``col_field`` cells of ``metric`` (mean ± std)."""
    if rows and not any(metric in r.metrics for r in rows):
        raise SslctlError(f"--pivot: no run logged metric {metric!r}")
    for f in (row_field, col_field):
        if rows and all(r.field(f) is None for r in rows):
            raise SslctlError(f"--pivot: unknown field {f!r}")
    cells = {g.key: g.cells[metric] for g in group(rows, [row_field, col_field], [metric])}
    return (_sorted({k[0] for k in cells}), _sorted({k[1] for k in cells}), cells)


def _sorted(values: set[str]) -> list[str]:
    def key(v: str) -> tuple[int, float, str]:
        try:
            return (0, float(v), v)
        except ValueError:
            return (1, 0.0, v)

    return sorted(values, key=key)
