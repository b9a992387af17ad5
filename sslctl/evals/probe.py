"""The probe run during pretraining (learning curves; the value sweeps prune on): the
current backbone's cached, unaugmented features, scored by a short linear probe
(DESIGN.md: pruning on an intermediate linear-probe accuracy) or by a weighted kNN."""

from __future__ import annotations

import torch

from sslctl.evals.knn import knn_top1
from sslctl.evals.linear import train_probe
from sslctl.recipe.schema import LinearEvalConfig, ProbeConfig


def probe_top1(
    train: torch.Tensor,
    train_labels: torch.Tensor,
    test: torch.Tensor,
    test_labels: torch.Tensor,
    *,
    num_classes: int,
    cfg: ProbeConfig,
    linear: LinearEvalConfig,
    temperature: float = 0.07,
    seed: int = 0,
) -> float:
    """Top-1 (%) on ``test``: ``kind: linear`` trains the cached-feature linear probe of
    ``eval.linear`` (its lr, weight decay, batch) for ``cfg.epochs`` epochs; ``kind: knn``
    is the weighted kNN with ``cfg.k`` neighbours and ``temperature`` (``eval.knn``'s)."""
    if cfg.kind == "knn":
        return knn_top1(
            train,
            train_labels,
            test,
            test_labels,
            k=cfg.k,
            temperature=temperature,
            num_classes=num_classes,
        )
    short = linear.model_copy(update={"epochs": cfg.epochs})
    probe = train_probe(train, train_labels, num_classes, short, seed=seed)
    return probe.top1(test, test_labels)


def protocol(cfg: ProbeConfig, linear: LinearEvalConfig) -> str:
    """One line that says how ``probe/top1`` was obtained."""
    if cfg.kind == "knn":
        return f"kNN probe (k={cfg.k}) of the backbone during pretraining, every {cfg.every} epochs"
    return (
        f"linear probe of the backbone during pretraining, every {cfg.every} epochs: cached "
        f"features, AdamW lr={linear.lr:g} wd={linear.weight_decay:g}, {cfg.epochs} epochs"
    )
