"""One PNG per claim: the measured quantity against the varied one, the mean over seeds
with its 95% t interval (seeds as dots), the verdict in the title."""

from __future__ import annotations

import math
from collections import defaultdict
from pathlib import Path

from sslctl.claims.spec import Claim
from sslctl.claims.stats import t_interval
from sslctl.claims.verdict import ClaimResult, Trial, metric_names


def _mean_ci(values: list[float]) -> tuple[float, float, float]:
    if len(values) < 2:
        v = values[0] if values else float("nan")
        return v, v, v
    ci = t_interval(values)
    return ci.estimate, ci.low, ci.high


def _by_label(trials: list[Trial], metric: str) -> dict[str, list[float]]:
    out: dict[str, list[float]] = defaultdict(list)
    for t in trials:
        value = t.metrics.get(metric)
        if value is not None and math.isfinite(value):
            out[t.label].append(value)
    return out


def plot_claim(claim: Claim, trials: list[Trial], result: ClaimResult, out: Path) -> Path:
    """Write the claim's plot to ``out`` (PNG) and return the path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    metric = (metric_names(claim.measure, trials) or [claim.measure])[0]
    fig, ax = plt.subplots(figsize=(6, 4))
    if claim.x_metric:
        for label, group in _group(trials).items():
            pts = [(t.metrics.get(claim.x_metric), t.metrics.get(metric)) for t in group]
            pts = [(x, y) for x, y in pts if x is not None and y is not None]
            ax.scatter([p[0] for p in pts], [p[1] for p in pts], label=label, s=18)
        ax.set_xlabel(claim.x_metric)
        ax.legend(fontsize=7)
    else:
        values = _by_label(trials, metric)
        labels = list(dict.fromkeys(t.label for t in trials))
        xs = _positions(claim, trials, labels)
        stats = [_mean_ci(values.get(lab, [])) for lab in labels]
        ax.errorbar(
            xs,
            [s[0] for s in stats],
            yerr=[[s[0] - s[1] for s in stats], [s[2] - s[0] for s in stats]],
            fmt="o-" if claim.vary else "o",
            capsize=4,
            label="mean, 95% t interval",
        )
        for x, lab in zip(xs, labels, strict=True):
            ys = values.get(lab, [])
            ax.scatter([x] * len(ys), ys, s=10, color="grey", alpha=0.6)
        if claim.vary is not None:
            ax.set_xlabel(claim.vary.field)
            if all(isinstance(x, int | float) and x > 0 for x in xs) and max(xs) / min(xs) >= 8:
                ax.set_xscale("log", base=2)
        else:
            ax.set_xticks(xs, labels, rotation=20, fontsize=8)
        ys_all = [y for v in values.values() for y in v]
        if ys_all and min(ys_all) > 0 and max(ys_all) / min(ys_all) > 100:
            ax.set_yscale("log")
        ax.legend(fontsize=7)
    ax.set_ylabel(metric)
    ax.set_title(f"{claim.name} ({result.scale}): {result.verdict}", fontsize=10)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def _group(trials: list[Trial]) -> dict[str, list[Trial]]:
    out: dict[str, list[Trial]] = defaultdict(list)
    for t in trials:
        out[t.label].append(t)
    return out


def _positions(claim: Claim, trials: list[Trial], labels: list[str]) -> list[float]:
    if claim.vary is None:
        return list(range(len(labels)))
    value = {t.label: t.value for t in trials}
    try:
        return [float(value[lab]) for lab in labels]
    except (TypeError, ValueError):
        return list(range(len(labels)))
