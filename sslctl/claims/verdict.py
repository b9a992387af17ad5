"""From measured trials to a claim's verdict: the effect, its 95% interval, n, the runs.

A *trial* is one measured unit (a pipeline run, or one method x seed row of a study): its
label (the arm, or the varied point), the varied value, the seed, an id and its metrics.
The functions here are pure; :mod:`sslctl.claims.run` measures the trials.
"""

from __future__ import annotations

import fnmatch
import math
from dataclasses import asdict, dataclass, field
from typing import Any

from sslctl.claims.spec import Claim
from sslctl.claims.stats import (
    Interval,
    Verdict,
    combine,
    log_ratio_interval,
    paired_difference,
    spearman_bootstrap,
    verdict,
)


@dataclass
class Trial:
    label: str
    value: Any
    seed: int
    run_id: str
    metrics: dict[str, float]
    error: str = ""  # why the run did not finish (it then has no metrics)


@dataclass
class Comparison:
    """One tested effect (one per treatment arm, or per metric a glob matched)."""

    label: str
    effect: str  # what the number is, e.g. "Spearman rho(projector.width, indep/nhsic)"
    estimate: float
    low: float
    high: float
    n: int
    p: float | None
    verdict: Verdict


@dataclass
class ClaimResult:
    name: str
    title: str
    scale: str
    test: str
    direction: str
    null: float
    verdict: Verdict
    comparisons: list[Comparison]
    run_ids: list[str]
    seeds: int
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def metric_names(pattern: str, trials: list[Trial]) -> list[str]:
    """The logged metrics that ``pattern`` (a glob within ``/`` segments) matches."""
    found = sorted({k for t in trials for k in t.metrics})
    return [
        k for k in found if k.count("/") == pattern.count("/") and fnmatch.fnmatchcase(k, pattern)
    ]


def _values(trials: list[Trial], metric: str) -> dict[int, float]:
    return {
        t.seed: t.metrics[metric]
        for t in trials
        if metric in t.metrics and math.isfinite(t.metrics[metric])
    }


def _comparison(label: str, effect: str, ci: Interval, claim: Claim) -> Comparison:
    return Comparison(
        label,
        effect,
        ci.estimate,
        ci.low,
        ci.high,
        ci.n,
        ci.p,
        verdict(ci, claim.direction, claim.threshold),  # type: ignore[arg-type]
    )


def rank_correlation(claim: Claim, trials: list[Trial], metric: str) -> Comparison:
    """Spearman rho between the varied value (or ``x_metric``) and ``metric`` over every
    run, bootstrap interval resampling seeds within each point."""
    xs, ys, groups = [], [], []
    for t in trials:
        x = t.metrics.get(claim.x_metric) if claim.x_metric else t.value
        y = t.metrics.get(metric)
        if x is None or y is None or not (math.isfinite(float(x)) and math.isfinite(y)):
            continue
        xs.append(float(x))
        ys.append(y)
        groups.append(t.label)
    x_name = claim.x_metric or (claim.vary.field if claim.vary else "x")
    ci = spearman_bootstrap(xs, ys, groups=groups)
    return _comparison(metric, f"Spearman rho({x_name}, {metric})", ci, claim)


def paired(claim: Claim, trials: list[Trial], metric: str, treatment: str) -> Comparison:
    """The treatment arm against the control arm, paired by seed."""
    assert claim.compare is not None
    a = _values([t for t in trials if t.label == treatment], metric)
    b = _values([t for t in trials if t.label == claim.compare.control], metric)
    seeds = sorted(set(a) & set(b))
    ta, tb = [a[s] for s in seeds], [b[s] for s in seeds]
    if claim.test == "paired-ratio":
        ci = log_ratio_interval(ta, tb)
        effect = f"{metric} ratio {treatment} / {claim.compare.control} (geometric mean)"
    else:
        ci = paired_difference(ta, tb)
        effect = f"{metric} difference {treatment} - {claim.compare.control}"
    return _comparison(treatment, effect, ci, claim)


def evaluate(claim: Claim, trials: list[Trial], scale: str) -> ClaimResult:
    """Every comparison of the claim, and the combined verdict (contradicted if any is,
    supported only if all are). A comparison that cannot be computed (too few finite
    values) or a run that did not finish (left out of the tests) is recorded as a note and
    makes a claim that would be supported inconclusive."""
    comparisons: list[Comparison] = []
    notes = [
        f"{t.label} seed {t.seed}: run {t.run_id or '-'} did not finish, left out of the "
        f"test: {t.error}"
        for t in trials
        if t.error
    ]
    metrics = metric_names(claim.measure, trials) or [claim.measure]
    for metric in metrics:
        targets = [None] if claim.test == "rank-correlation" else claim.compare.treatment  # type: ignore[union-attr]
        for target in targets:
            try:
                if target is None:
                    comparisons.append(rank_correlation(claim, trials, metric))
                else:
                    comparisons.append(paired(claim, trials, metric, target))
            except ValueError as err:
                notes.append(f"{metric} {target or ''}: not computed ({err})")
    # not supported while a comparison could not be made or a run did not finish (a run
    # that diverged may be the effect itself); a contradiction still shows
    verdicts = [c.verdict for c in comparisons]
    overall = combine(verdicts) if not notes else combine([*verdicts, "inconclusive"])
    return ClaimResult(
        claim.name,
        claim.title,
        scale,
        claim.test,
        claim.direction,
        claim.threshold,
        overall,
        comparisons,
        sorted({t.run_id for t in trials}),
        claim.seeds,
        notes,
    )
