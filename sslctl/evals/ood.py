"""Out-of-domain evaluation: the in-domain linear head applied unchanged to shifted data.

Image-set keys come from :func:`sslctl.data.oodsets.load_sets`: ``<set>`` or
``<suite>/<corruption>/<severity>``. Corruption suites are reported per corruption and
severity, per corruption (mean over severities: ``<suite>/<corruption>/top1``), per
severity (mean over corruptions: ``<suite>/all/<severity>/top1``) and as one mean over
everything (``<suite>/top1``).
"""

from __future__ import annotations

from collections import defaultdict
from statistics import mean

import torch

from sslctl.evals.linear import LinearProbe


def ood_metrics(
    probe: LinearProbe, features: dict[str, tuple[torch.Tensor, torch.Tensor]]
) -> dict[str, float]:
    """``{set key: (features, labels)}`` -> ``{"<key>/top1": accuracy, aggregates...}``."""
    metrics: dict[str, float] = {}
    per_corruption: dict[str, list[float]] = defaultdict(list)
    per_suite: dict[str, list[float]] = defaultdict(list)
    per_severity: dict[str, list[float]] = defaultdict(list)
    for key, (feats, labels) in features.items():
        acc = probe.top1(feats, labels)
        metrics[f"{key}/top1"] = acc
        parts = key.split("/")
        if len(parts) == 3:
            suite, corruption, severity = parts
            per_corruption[f"{suite}/{corruption}"].append(acc)
            per_severity[f"{suite}/all/{severity}"].append(acc)
            per_suite[suite].append(acc)
    for key, values in per_corruption.items():
        metrics[f"{key}/top1"] = mean(values)
    for key, values in per_severity.items():
        metrics[f"{key}/top1"] = mean(values)
    for key, values in per_suite.items():
        metrics[f"{key}/top1"] = mean(values)
    return metrics


def headline(metrics: dict[str, float]) -> dict[str, float]:
    """The OOD numbers worth a summary column: one per set or suite, i.e. ``ood/<set>/top1``
    (no per-corruption or per-severity rows)."""
    return {k: v for k, v in metrics.items() if k.startswith("ood/") and k.count("/") == 2}
