"""The statistics of claim verdicts and report intervals: small pure functions over plain
sequences of floats (one value per seed or per run), built on scipy.stats where scipy has
the function.

Every interval is two-sided at ``level`` (0.95 by default). The verdict rule
(:func:`verdict`) reads only an interval, the claimed direction and the value the effect
is compared to (0 for a difference or a correlation).

References: Student's t interval and paired t test (e.g. Wasserman, *All of Statistics*,
Sec. 10.1 and 10.7; ``scipy.stats.ttest_rel``); the bootstrap percentile interval (Efron &
Tibshirani, *An Introduction to the Bootstrap*, 1993, Ch. 13; ``scipy.stats.bootstrap``);
Spearman's rank correlation (Spearman 1904; ``scipy.stats.spearmanr``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

Direction = Literal["increase", "decrease"]
Verdict = Literal["supported", "contradicted", "inconclusive"]


@dataclass(frozen=True)
class Interval:
    """An estimate with its two-sided interval over ``n`` values (``p``: a p-value where
    the test has one, else None)."""

    estimate: float
    low: float
    high: float
    n: int
    p: float | None = None

    def overlaps(self, other: Interval) -> bool:
        """Whether the two intervals share any point (a "tie" in a ranking)."""
        return self.low <= other.high and other.low <= self.high


def _finite(values: Sequence[float], name: str, at_least: int) -> np.ndarray:
    arr = np.asarray(values, dtype=float)
    if arr.ndim != 1 or len(arr) < at_least:
        raise ValueError(f"{name}: need at least {at_least} values, got {len(arr)}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name}: values must be finite, got {arr.tolist()}")
    return arr


def t_interval(values: Sequence[float], level: float = 0.95) -> Interval:
    """Student's t interval of a mean: mean ± t_{(1+level)/2, n-1} · s / sqrt(n), with s
    the sample standard deviation (ddof 1). Needs n >= 2. Assumes the values are
    independent draws from a distribution close enough to normal for the mean."""
    from scipy import stats

    x = _finite(values, "t interval", 2)
    mean = float(x.mean())
    half = (
        float(stats.t.ppf((1 + level) / 2, len(x) - 1)) * float(x.std(ddof=1)) / math.sqrt(len(x))
    )
    return Interval(mean, mean - half, mean + half, len(x))


def paired_difference(
    treatment: Sequence[float], control: Sequence[float], level: float = 0.95
) -> Interval:
    """Mean of the paired differences treatment_i - control_i (the same seed i in both),
    its t interval and the two-sided p-value of the paired t test (``ttest_rel``). Needs at
    least 2 pairs. Assumes the differences are independent and roughly normal."""
    from scipy import stats

    a = _finite(treatment, "paired difference (treatment)", 2)
    b = _finite(control, "paired difference (control)", 2)
    if len(a) != len(b):
        raise ValueError(f"paired difference: {len(a)} treatment values vs {len(b)} control")
    d = a - b
    ci = t_interval(d, level)
    if float(d.std(ddof=1)) <= 1e-12 * max(1.0, abs(ci.estimate)):  # all pairs differ alike
        p = 1.0 if ci.estimate == 0.0 else 0.0
    else:
        p = float(stats.ttest_rel(a, b).pvalue)
    return Interval(ci.estimate, ci.low, ci.high, ci.n, p)


def bootstrap_interval(
    values: Sequence[float],
    statistic: Callable[[np.ndarray], float] = np.mean,
    *,
    level: float = 0.95,
    resamples: int = 2000,
    seed: int = 0,
) -> Interval:
    """Percentile bootstrap interval of ``statistic`` (``scipy.stats.bootstrap``, method
    ``percentile``, seeded, so the same inputs give the same interval). Assumes the
    values are i.i.d.; with few values the interval is too narrow (it cannot see beyond
    the observed range)."""
    from scipy import stats

    x = _finite(values, "bootstrap", 2)
    if float(np.ptp(x)) == 0.0:  # every resample is the sample itself
        value = float(statistic(x))
        return Interval(value, value, value, len(x))
    res = stats.bootstrap(
        (x,),
        lambda s, axis=-1: np.apply_along_axis(statistic, axis, s),
        n_resamples=resamples,
        confidence_level=level,
        method="percentile",
        rng=np.random.default_rng(seed),
    )
    ci = res.confidence_interval
    return Interval(float(statistic(x)), float(ci.low), float(ci.high), len(x))


def spearman(x: Sequence[float], y: Sequence[float]) -> float:
    """Spearman's rank correlation (ties get average ranks); nan when either side is
    constant."""
    from scipy import stats

    a = _finite(x, "spearman (x)", 2)
    b = _finite(y, "spearman (y)", 2)
    if len(a) != len(b):
        raise ValueError(f"spearman: {len(a)} x values vs {len(b)} y values")
    if float(np.ptp(a)) == 0.0 or float(np.ptp(b)) == 0.0:
        return float("nan")
    return float(stats.spearmanr(a, b).statistic)


def spearman_bootstrap(
    x: Sequence[float],
    y: Sequence[float],
    *,
    groups: Sequence[object] | None = None,
    level: float = 0.95,
    resamples: int = 2000,
    seed: int = 0,
) -> Interval:
    """Spearman's rho of (x, y) with a percentile bootstrap interval over runs.

    ``groups`` (e.g. the swept value of each run): runs are resampled *within* each group
    (stratified: the seeds of a point are resampled, every point stays), so the design of
    the sweep is kept; without groups, runs are resampled as pairs. Resamples whose x or y
    are constant (rho undefined) are dropped. Assumes runs are exchangeable within a group;
    with 3 seeds per point the interval reflects seed noise only, not other data sets.
    """
    a = _finite(x, "spearman (x)", 3)
    b = _finite(y, "spearman (y)", 3)
    rho = spearman(a, b)
    keys = list(groups) if groups is not None else list(range(len(a)))
    if len(keys) != len(a):
        raise ValueError(f"spearman bootstrap: {len(keys)} groups for {len(a)} runs")
    strata = [np.flatnonzero([k == g for k in keys]) for g in dict.fromkeys(keys)]
    if groups is None:
        strata = [np.arange(len(a))]
    rng = np.random.default_rng(seed)
    draws = []
    for _ in range(resamples):
        idx = np.concatenate([rng.choice(s, size=len(s), replace=True) for s in strata])
        value = spearman(a[idx], b[idx])
        if math.isfinite(value):
            draws.append(value)
    if not draws:
        return Interval(rho, float("nan"), float("nan"), len(a))
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(draws, [tail, 100 - tail])
    return Interval(rho, float(low), float(high), len(a))


def log_ratio_interval(
    treatment: Sequence[float], control: Sequence[float], level: float = 0.95
) -> Interval:
    """Geometric-mean ratio treatment/control over paired values and its interval: the t
    interval of log(treatment_i / control_i), exponentiated. Needs positive values.
    Assumes the log ratios are independent and roughly normal."""
    a = _finite(treatment, "ratio (treatment)", 2)
    b = _finite(control, "ratio (control)", 2)
    if np.any(a <= 0) or np.any(b <= 0):
        raise ValueError("ratio: values must be positive")
    ci = paired_difference(np.log(a), np.log(b), level)
    return Interval(math.exp(ci.estimate), math.exp(ci.low), math.exp(ci.high), ci.n, ci.p)


def verdict(interval: Interval, direction: Direction, null: float = 0.0) -> Verdict:
    """``supported`` when the interval excludes ``null`` on the claimed side (entirely
    above it for ``increase``, below for ``decrease``), ``contradicted`` when it excludes
    it on the other side, else ``inconclusive`` (also when the interval is undefined)."""
    if direction not in ("increase", "decrease"):
        raise ValueError(f"direction: got {direction!r}; expected 'increase' or 'decrease'")
    low, high = interval.low, interval.high
    if not (math.isfinite(low) and math.isfinite(high)):
        return "inconclusive"
    above, below = low > null, high < null
    if (above and direction == "increase") or (below and direction == "decrease"):
        return "supported"
    if above or below:
        return "contradicted"
    return "inconclusive"


def combine(verdicts: Sequence[Verdict]) -> Verdict:
    """One verdict for a claim with several comparisons: contradicted if any is, supported
    only if all are, else inconclusive."""
    if not verdicts:
        return "inconclusive"
    if "contradicted" in verdicts:
        return "contradicted"
    if all(v == "supported" for v in verdicts):
        return "supported"
    return "inconclusive"
