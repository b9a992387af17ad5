"""Intervals in reports: ``sslctl report --ci`` (95% interval of each row's mean over its
runs; ties with the leading row) and ``--compare FIELD=A FIELD=B`` (the paired difference
across seeds). The statistics are :mod:`sslctl.claims.stats`."""

from __future__ import annotations

import math
import statistics
from collections import defaultdict

from sslctl.claims.stats import Interval, bootstrap_interval, paired_difference, t_interval
from sslctl.errors import SslctlError
from sslctl.report.aggregate import Report
from sslctl.report.query import RunRow
from sslctl.report.select import known_fields, resolve_field
from sslctl.report.sheet import Line, Sheet


def interval(values: list[float], kind: str) -> Interval | None:
    """95% t interval (``t``) or seeded percentile bootstrap (``bootstrap``) of the mean;
    None below 2 finite values."""
    finite = [v for v in values if math.isfinite(v)]
    if len(finite) < 2:
        return None
    return bootstrap_interval(finite) if kind == "bootstrap" else t_interval(finite)


def add_intervals(report: Report, rows: list[RunRow], kind: str = "t") -> None:
    """Fill ``low``/``high`` of every cell of the report's rows (not the baselines), and
    mark as ``tie`` the rows whose interval on the leading column overlaps the first
    row's (the report is sorted best first on that column)."""
    if kind not in ("t", "bootstrap"):
        raise SslctlError(f"--ci: got {kind!r}; expected t or bootstrap")
    by_id = {r.run_id: r for r in rows}
    for g in report.groups:
        for metric, cell in g.cells.items():
            values = [by_id[i].metrics[metric] for i in g.run_ids if metric in by_id[i].metrics]
            ci = interval(values, kind)
            if ci is not None:
                cell.low, cell.high = ci.low, ci.high
    lead = report.metrics[0] if report.metrics else None
    if lead is None or len(report.groups) < 2:
        return
    first = report.groups[0].cells.get(lead)
    if first is None or first.low is None:
        return
    for g in report.groups[1:]:
        cell = g.cells.get(lead)
        if cell is not None and cell.low is not None:
            cell.tie = cell.low <= first.high and first.low <= cell.high


def _side(text: str, known: list[str]) -> tuple[str, str]:
    field, eq, value = text.partition("=")
    if not eq or not field or not value:
        raise SslctlError(f"--compare: got {text!r}; expected FIELD=VALUE")
    return resolve_field(field, known, "--compare"), value


def _per_seed(rows: list[RunRow], field: str, value: str, metric: str) -> dict[str, float]:
    """Mean of ``metric`` per seed over the runs with ``field == value``."""
    buckets: dict[str, list[float]] = defaultdict(list)
    for r in rows:
        if str(r.field(field)) == value and metric in r.metrics:
            buckets[str(r.params.get("seed"))].append(r.metrics[metric])
    return {s: statistics.fmean(v) for s, v in buckets.items()}


def compare_sheet(rows: list[RunRow], metrics: list[str], a: str, b: str) -> Sheet:
    """One line per metric: mean of A, mean of B over the seeds both have, and the paired
    difference B - A with its 95% t interval and p-value (paired t test)."""
    known = known_fields(rows) if rows else []
    (fa, va), (fb, vb) = _side(a, known), _side(b, known)
    lines = []
    for metric in metrics:
        sa, sb = _per_seed(rows, fa, va, metric), _per_seed(rows, fb, vb, metric)
        seeds = sorted(set(sa) & set(sb))
        if not seeds:
            continue
        xa, xb = [sa[s] for s in seeds], [sb[s] for s in seeds]
        mean_a, mean_b = statistics.fmean(xa), statistics.fmean(xb)
        if len(seeds) >= 2:
            ci = paired_difference(xb, xa)
            diff = f"{ci.estimate:+.4g} [{ci.low:+.4g}, {ci.high:+.4g}]"
            p = f"{ci.p:.3g}"
        else:
            diff, p = f"{mean_b - mean_a:+.4g} (one seed: no interval)", "-"
        lines.append(Line([metric, f"{mean_a:.4g}", f"{mean_b:.4g}", diff, p, str(len(seeds))], []))
    if not lines:
        raise SslctlError(
            f"--compare: no seed has runs with both {a} and {b} (runs are paired by seed)"
        )
    return Sheet(
        f"sslctl report: {b} vs {a}, paired by seed",
        ["metric", a, b, "difference (B - A) [95% CI]", "p", "seeds"],
        [],
        {"runs": lines},
        [
            "A, B: means over the seeds both sides have; difference: mean of the per-seed "
            "differences with its 95% t interval; p: two-sided paired t test",
            "a seed with several runs on one side counts with their mean",
        ],
        {"compare": [a, b]},
        count=False,
    )
