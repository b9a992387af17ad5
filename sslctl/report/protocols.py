"""The protocol behind each metric column: how the number was obtained.

Evaluations that log a ``sslctl.protocol.<name>`` tag (linear, kNN, OOD) are described by
that tag; diagnostics are described from the recipe fields (params) that set them up.
Where runs of one report disagree, every distinct description is listed.
"""

from __future__ import annotations

from collections.abc import Callable

from sslctl.report.query import RunRow
from sslctl.vocabulary import protocol_tag

Describe = Callable[[RunRow], str | None]

# the baseline rows: the same protocols (sslctl.evals.linear.robust_std standardisation)
BASELINE_PROTOCOL = (
    "baselines: the same evaluations on raw pixels (normalised, flattened) and on a "
    "random-init backbone, same data; features standardised robustly (constant ones "
    "dropped, std floored at the median std), so corruptions that shift the background "
    "do not blow up near-constant pixels"
)


def _tag(name: str) -> Describe:
    return lambda r: r.tags.get(protocol_tag(name))


def _knn(r: RunRow) -> str | None:
    if protocol_tag("knn") in r.tags:
        return r.tags[protocol_tag("knn")]
    k = r.params.get("eval.knn.k")
    return f"weighted kNN k={k} on the cached features" if k else None


def _indep(r: RunRow) -> str:
    pairs = r.params.get("eval.independence.pairs", "?")
    samples = r.params.get("eval.independence.samples", "?")
    return (
        f"pairwise HSIC, Gaussian kernels (median heuristic), mean over {pairs} random "
        f"feature pairs of {samples} held-out test images; lower = more independent"
    )


def _spectrum(r: RunRow) -> str:
    return (
        "covariance spectrum of held-out test features: rankme = effective rank, "
        "condition = largest / smallest non-collapsed eigenvalue, collapsed = fraction"
    )


def _probe(r: RunRow) -> str:
    logged = r.tags.get(protocol_tag("probe"))
    if logged is None:  # runs from before eval.probe.kind existed probed with kNN
        k = r.params.get("eval.probe.k", "?")
        logged = f"kNN probe of the backbone during pretraining (k={k})"
    return f"{logged}; value at the last probe"


def _pretrain(r: RunRow) -> str:
    return "training value at the last pretraining epoch (augmented views)"


FAMILIES: tuple[tuple[str, Describe], ...] = (
    ("linear/", _tag("linear")),
    ("knn/", _knn),
    ("ood/", _tag("ood")),
    ("indep/", _indep),
    ("spectrum/", _spectrum),
    ("probe/", _probe),
    ("pretrain/", _pretrain),
)


def protocol_of(metric: str, rows: list[RunRow]) -> str | None:
    """The description of ``metric`` over the runs that logged it (None if unknown)."""
    on_projector = metric.startswith("projector/")
    name = metric.removeprefix("projector/")
    describe = next((d for prefix, d in FAMILIES if name.startswith(prefix)), None)
    if describe is None:
        return None
    texts = sorted({t for r in rows if metric in r.metrics and (t := describe(r))})
    if not texts:
        return None
    text = texts[0] if len(texts) == 1 else "varies: " + " | ".join(texts)
    return f"projector output; {text}" if on_projector else text


def protocols(rows: list[RunRow], metrics: list[str]) -> dict[str, str]:
    """``{metric: protocol}`` for the metrics that have one."""
    return {m: p for m in metrics if (p := protocol_of(m, rows)) is not None}


def protocol_notes(by_metric: dict[str, str]) -> list[str]:
    """One line per distinct protocol: ``'linear/top1, projector/linear/top1: ...'``."""
    grouped: dict[str, list[str]] = {}
    for metric, text in by_metric.items():
        grouped.setdefault(text, []).append(metric)
    return [f"{', '.join(metrics)}: {text}" for text, metrics in grouped.items()]
