"""Grouping and aggregating runs: one row per recipe configuration, seeds aggregated as
mean ± std with the count n; metric columns from globs; sorting; baselines; pivots."""

from __future__ import annotations

import fnmatch
import math
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from sslctl.errors import SslctlError
from sslctl.evals.health import FLAG
from sslctl.report.protocols import protocol_of, protocols
from sslctl.report.query import RunRow
from sslctl.report.select import as_number, known_fields, resolve_field

DEFAULT_METRICS = (
    "linear/top1",
    "projector/linear/top1",
    "knn/top1",
    "ood/*/top1",
    "indep/nhsic",
    "spectrum/rankme",
)
# never grouping fields by default: the seed (aggregated over) and where a run executed
IGNORED_FIELDS = {"seed", "data.root", "data.download", "runtime.threads"}
IGNORED_PREFIXES = ("launcher.", "runtime.checkpoint")
SECTION_ORDER = ("method", "projector", "model", "data", "optim", "augment", "eval", "runtime")
LOWER_IS_BETTER = {"loss", "hsic", "nhsic", "dhsic", "condition", "collapsed"}
BASELINES = (("raw", "raw pixels"), ("random", "random init"))
# recipe fields a baseline's numbers depend on (raw pixels; the random init adds model.*)
BASELINE_SETTING = ("seed", "data.", "eval.linear.", "eval.knn.", "eval.ood.")


@dataclass
class Cell:
    """A metric over the runs of one row: mean, sample std (nan when n < 2), count; with
    ``report --ci`` also the interval of the mean and whether it ties with the leader."""

    mean: float
    std: float
    n: int
    low: float | None = None  # 95% interval of the mean (report --ci)
    high: float | None = None
    tie: bool = False  # its interval overlaps the leading row's (report --ci)


@dataclass
class Group:
    """One row of a report: the values of the grouping fields and the aggregated metrics."""

    key: tuple[str, ...]
    cells: dict[str, Cell]
    run_ids: list[str] = field(default_factory=list)

    @property
    def n(self) -> int:
        return len(self.run_ids) or max((c.n for c in self.cells.values()), default=0)


@dataclass
class Report:
    fields: list[str]
    metrics: list[str]
    groups: list[Group]
    baselines: list[Group]
    protocols: dict[str, str]  # metric -> how it was measured
    excluded: dict[str, int]  # status -> runs left out
    included: dict[str, int] = field(default_factory=dict)  # non-complete runs shown (--all)
    sort: str = ""  # how the rows are ordered, in words
    together: dict[str, list[str]] = field(default_factory=dict)  # column -> fields it implies
    flagged: list[str] = field(default_factory=list)  # runs that did not train, with why


@dataclass
class Pivot:
    row_field: str
    col_field: str
    metric: str
    rows: list[str]
    cols: list[str]
    cells: dict[tuple[str, str], Cell]
    protocol: str | None


def aggregate(values: Iterable[float]) -> Cell:
    """Mean, sample standard deviation and count of the finite values."""
    finite = [v for v in values if math.isfinite(v)]
    if not finite:
        return Cell(math.nan, math.nan, 0)
    std = statistics.stdev(finite) if len(finite) > 1 else math.nan
    return Cell(statistics.fmean(finite), std, len(finite))


def glob_match(name: str, pattern: str) -> bool:
    """Shell-style match where ``*`` stays within one ``/`` segment (``**`` crosses them):
    ``ood/*/top1`` matches ``ood/digits/top1`` but not ``ood/mnist5k-c/noise/top1``."""
    if "**" in pattern:
        return fnmatch.fnmatchcase(name, pattern.replace("**", "*"))
    parts, pats = name.split("/"), pattern.split("/")
    return len(parts) == len(pats) and all(
        fnmatch.fnmatchcase(a, b) for a, b in zip(parts, pats, strict=True)
    )


def metric_columns(
    rows: list[RunRow],
    patterns: list[str] | None,
    lead: str | None = None,
    logged: list[str] | None = None,
) -> list[str]:
    """Logged metric names matching the globs, in pattern order (baselines are a section
    of their own, never a column); by default DEFAULT_METRICS after ``lead``. An explicit
    pattern that matches nothing is an error (listing ``logged``, the store's metrics)."""
    names = sorted({k for r in rows for k in r.metrics if not k.startswith("baseline/")})
    out: list[str] = []
    for pattern in patterns or [*([lead] if lead else []), *DEFAULT_METRICS]:
        hits = [n for n in names if glob_match(n, pattern) and n not in out]
        if patterns and not hits and rows:
            sample = logged_sample(logged or names)
            raise SslctlError(
                f"--metrics: {pattern!r} matches no logged metric (globs: * within one "
                f"/ segment, ** across); logged: {sample}"
            )
        out += hits
    return out


def logged_sample(names: list[str], limit: int = 15) -> str:
    """A few logged metric names for an error message (baselines left out)."""
    names = [n for n in names if not n.startswith("baseline/")]
    return ", ".join(names[:limit]) + (", ..." if len(names) > limit else "")


def default_fields(
    rows: list[RunRow], prefer: list[str] | None = None
) -> tuple[list[str], dict[str, list[str]]]:
    """``method.name`` plus every recipe field that varies among the runs (the seed and
    where-it-ran fields aside), and the fields left out because they vary together with a
    kept one (same partition of the runs): ``{kept: [left out, ...]}``. A method
    hyper-parameter counts only if it varies among runs of the same method, not merely
    because another method has no such field. Of fields that vary together, the one in
    ``prefer`` (a sweep's swept paths) is kept."""
    keys = {k for r in rows for k in r.params} - {"method.name"}
    keys = {k for k in keys if k not in IGNORED_FIELDS and not k.startswith(IGNORED_PREFIXES)}
    by_method: dict[str | None, list[RunRow]] = defaultdict(list)
    for r in rows:
        by_method[r.params.get("method.name")].append(r)

    def varies(key: str) -> bool:
        if key.startswith("method."):
            return any(len({r.params.get(key) for r in runs}) > 1 for runs in by_method.values())
        return len({r.params.get(key) for r in rows}) > 1

    kept: list[str] = ["method.name"]
    together: dict[str, list[str]] = {}
    chosen = prefer or []
    for key in sorted(
        (k for k in keys if varies(k)), key=lambda k: (k not in chosen, field_priority(k))
    ):
        twin = next((f for f in kept if same_partition(rows, f, key)), None)
        if twin is None:
            kept.append(key)
        else:
            together.setdefault(twin, []).append(key)
    return kept, together


def field_priority(name: str) -> tuple[int, str]:
    """Recipe sections in the order a reader looks for them, then alphabetical."""
    section = name.split(".", 1)[0]
    return (SECTION_ORDER.index(section) if section in SECTION_ORDER else len(SECTION_ORDER), name)


def same_partition(rows: list[RunRow], a: str, b: str) -> bool:
    """``a`` and ``b`` determine each other over ``rows`` (one-to-one values)."""
    pairs = {(r.params.get(a), r.params.get(b)) for r in rows}
    return len(pairs) == len({p[0] for p in pairs}) == len({p[1] for p in pairs})


def group(rows: list[RunRow], fields: list[str], metrics: list[str]) -> list[Group]:
    """One group per distinct value of ``fields``; each metric aggregated over its runs."""
    buckets: dict[tuple[str, ...], list[RunRow]] = defaultdict(list)
    for r in rows:
        buckets[tuple(str(r.field(f)) for f in fields)].append(r)
    return [
        Group(
            key,
            {m: aggregate(r.metrics[m] for r in runs if m in r.metrics) for m in metrics},
            [r.run_id for r in runs],
        )
        for key, runs in buckets.items()
    ]


def lower_is_better(metric: str) -> bool:
    """Losses, HSIC (dependence) and spectrum condition/collapse: smaller is better."""
    leaf = metric.rsplit("/", 1)[-1]
    return leaf in LOWER_IS_BETTER or leaf.endswith("_loss")


def sort_groups(groups: list[Group], fields: list[str], spec: str, rows: list[RunRow]) -> str:
    """Sort ``groups`` in place by ``spec`` = ``NAME[:asc|:desc]``, NAME a metric (best
    first by default) or a grouping field (ascending); missing values last. Returns the
    order in words."""
    name, _, direction = spec.partition(":")
    if direction not in ("", "asc", "desc"):
        raise SslctlError(f"--sort: got {spec!r}; expected NAME, NAME:asc or NAME:desc")
    if name not in fields and f"{name}.name" in fields:
        name = f"{name}.name"
    if name in fields:
        i = fields.index(name)
        groups.sort(key=lambda g: order_key(g.key[i]), reverse=direction == "desc")
        return f"{name} {'descending' if direction == 'desc' else 'ascending'}"
    if not any(name in r.metrics for r in rows):
        known = ", ".join(fields + sorted({m for g in groups for m in g.cells}))
        raise SslctlError(f"--sort: {name!r} is neither a logged metric nor a row field ({known})")
    descending = direction == "desc" or (not direction and not lower_is_better(name))
    by_id = {r.run_id: r for r in rows}

    def value(g: Group) -> float:
        cell = g.cells.get(name) or aggregate(
            by_id[i].metrics[name] for i in g.run_ids if name in by_id[i].metrics
        )
        return cell.mean

    sign = -1.0 if descending else 1.0

    def key(g: Group) -> tuple[bool, float, tuple[int, float, str]]:
        v = value(g)
        return (math.isnan(v), 0.0 if math.isnan(v) else sign * v, order_key(",".join(g.key)))

    groups.sort(key=key)
    return f"{name} {'descending' if descending else 'ascending'}"


def order_key(value: str) -> tuple[int, float, str]:
    """Numbers in numeric order before text in alphabetical order."""
    number = as_number(value)
    return (0, number, value) if number is not None and math.isfinite(number) else (1, 0.0, value)


def baseline_setting(r: RunRow, kind: str) -> tuple[tuple[str, str], ...]:
    """What a baseline's numbers depend on: the data, the evaluation protocol and the seed
    (+ the backbone for the random init), never the pretraining. Runs that share it
    computed the same numbers, which count once."""
    prefixes = BASELINE_SETTING + (("model.",) if kind == "random" else ())
    return tuple(sorted((k, v) for k, v in r.params.items() if k.startswith(prefixes)))


def distinct_settings(runs: list[RunRow], kind: str) -> list[RunRow]:
    """One run per distinct baseline setting (the first), in the given order."""
    seen: dict[tuple[tuple[str, str], ...], RunRow] = {}
    for r in runs:
        seen.setdefault(baseline_setting(r, kind), r)
    return list(seen.values())


def baselines(rows: list[RunRow], metrics: list[str]) -> list[Group]:
    """Raw pixels and random-init backbone rows for the data of the report: raw pixels per
    dataset, random init per dataset and backbone (where the backbone varies); each
    distinct data, evaluation and seed setting counted once (n = distinct settings)."""
    models = {(r.params.get("model.backbone"), r.params.get("model.width")) for r in rows}
    out = []
    for kind, label in BASELINES:
        buckets: dict[str, list[RunRow]] = defaultdict(list)
        for r in rows:
            where = r.params.get("data.name", "?")
            if kind == "random" and len(models) > 1:
                where += f", {r.params.get('model.backbone')} w{r.params.get('model.width')}"
            buckets[where].append(r)
        for where, every in sorted(buckets.items()):
            runs = distinct_settings(every, kind)
            cells = {
                m: aggregate(
                    r.metrics[f"baseline/{kind}/{m}"]
                    for r in runs
                    if f"baseline/{kind}/{m}" in r.metrics
                )
                for m in metrics
            }
            if any(c.n for c in cells.values()):
                out.append(Group((f"{label} ({where})",), cells, [r.run_id for r in runs]))
    return out


def flagged_runs(rows: list[RunRow], fields: list[str]) -> list[str]:
    """One line per run that did not train: its row's fields, run id and the reason."""
    return [
        f"{', '.join(f'{f}={r.field(f)}' for f in fields if f != 'health')} "
        f"(run {r.run_id[:8]}): {r.health_reason}"
        for r in rows
        if r.health == FLAG
    ]


def build_report(
    rows: list[RunRow],
    *,
    by: list[str] | None = None,
    metrics: list[str] | None = None,
    sort: str | None = None,
    excluded: dict[str, int] | None = None,
    lead: str | None = None,
    logged: list[str] | None = None,
    prefer: list[str] | None = None,
) -> Report:
    """Group by ``by`` (default: every recipe field that varies), seeds aggregated; sort
    by ``sort`` (default: the first metric column, best first); ``lead``: a metric to put
    first among the default columns (a sweep's objective); ``prefer``: fields kept over
    those that vary together with them (a sweep's swept paths)."""
    together: dict[str, list[str]] = {}
    if by:
        fields = [resolve_field(f, known_fields(rows), "--by") for f in by] if rows else by
    else:
        fields, together = default_fields(rows, prefer)
    if any(not r.complete for r in rows) and "status" not in fields:
        fields = [*fields, "status"]  # --all: unfinished runs never share a row with finished
    if any(r.health == FLAG for r in rows) and "health" not in fields:
        fields = [*fields, "health"]  # runs that did not train never averaged with results
    columns = metric_columns(rows, metrics, lead, logged)
    groups = group(rows, fields, columns)
    spec = sort or (columns[0] if columns else fields[0])
    order = sort_groups(groups, fields, spec, rows) if rows else ""
    states = Counter(r.state for r in rows if not r.complete)
    return Report(
        fields,
        columns,
        groups,
        baselines(rows, columns),
        protocols(rows, columns),
        excluded or {},
        dict(sorted(states.items())),
        order,
        together,
        flagged_runs(rows, fields),
    )


def pivot(
    rows: list[RunRow],
    row_field: str,
    col_field: str,
    metric: str,
    logged: list[str] | None = None,
) -> Pivot:
    """Paper-style table: ``row_field`` x ``col_field`` cells of ``metric`` (mean ± std)."""
    if not rows:
        return Pivot(row_field, col_field, metric, [], [], {}, None)
    known = known_fields(rows)
    row_field = resolve_field(row_field, known, "--pivot")
    col_field = resolve_field(col_field, known, "--pivot")
    if not any(metric in r.metrics for r in rows):
        names = logged or sorted({k for r in rows for k in r.metrics})
        raise SslctlError(f"--pivot: no run logged metric {metric!r} ({logged_sample(names)})")
    cells = {g.key: g.cells[metric] for g in group(rows, [row_field, col_field], [metric])}
    return Pivot(
        row_field,
        col_field,
        metric,
        sorted({k[0] for k in cells}, key=order_key),
        sorted({k[1] for k in cells}, key=order_key),
        cells,
        protocol_of(metric, rows),
    )
