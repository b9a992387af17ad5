"""Which metric names a recipe's pipeline logs, so that a sweep's objective can be checked
before anything runs (a typo such as ``linaer/top1`` used to train every point, fail them
all and exit 0). The names follow ``sslctl.stages`` and ``sslctl.evals``."""

from __future__ import annotations

import difflib
from typing import Any

# families whose members depend on the data or the method (loss terms, spectra, HSIC
# variants, per-corruption OOD numbers): accepted by prefix
FAMILIES = ("pretrain/", "indep/", "spectrum/", "baseline/", "probe/")


def headline_metrics(recipe: Any) -> list[str]:
    """The evaluation metrics this recipe's run will log under their exact names."""
    names: list[str] = []
    if recipe.eval.linear.enabled:
        for on in recipe.eval.linear.on:
            prefix = "" if on == "backbone" else "projector/"
            names.append(f"{prefix}linear/top1")
            if recipe.eval.knn.enabled:
                names.append(f"{prefix}knn/top1")
            names += [f"{prefix}ood/{name}/top1" for name in recipe.eval.ood.datasets]
    return names


def check_objective(metric: str, recipe: Any) -> str | None:
    """``None`` when ``metric`` is logged by this recipe, else the problem: what was
    given, a close name, and the names the recipe logs."""
    names = headline_metrics(recipe)
    if metric in names:
        return None
    ood = [n.rsplit("/", 1)[0] + "/" for n in names if "ood/" in n]
    if metric.startswith((*FAMILIES, *ood)) and not metric.endswith("/"):
        return None
    close = difflib.get_close_matches(metric, names, n=1, cutoff=0.6)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return (
        f"objective.metric: got {metric!r}{hint}; this recipe logs {names} "
        f"and the families {list(FAMILIES)}"
    )
