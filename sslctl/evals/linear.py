"""Linear evaluation on frozen, cached, standardised features.

Features are computed once (no augmentation), standardised with the training set's
mean and std, and a linear classifier is trained on them with AdamW and a cosine
schedule. This is orders of magnitude cheaper than re-encoding augmented images every
epoch (solo-learn's ``main_linear``); the protocol string logged with the number says so.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from sslctl.evals.features import Progress
from sslctl.evals.health import CHANCE_FACTOR
from sslctl.recipe.schema import LinearEvalConfig

STD_FLOOR = 1.0  # fraction of the median feature std below which a std is floored
CONSTANT = 1e-6  # relative to the largest std: a feature this flat is constant (dropped)


@dataclass
class LinearProbe:
    """A trained linear head together with the standardisation it expects."""

    mean: torch.Tensor
    std: torch.Tensor
    head: nn.Linear

    @torch.no_grad()
    def predict(self, features: torch.Tensor) -> torch.Tensor:
        return self.head((features - self.mean) / self.std).argmax(1)

    def top1(self, features: torch.Tensor, labels: torch.Tensor) -> float:
        """Top-1 accuracy in percent."""
        return 100.0 * (self.predict(features) == labels).float().mean().item()


def protocol(cfg: LinearEvalConfig) -> str:
    """One line that says how the linear numbers were obtained."""
    return (
        f"linear probe on frozen cached features (no augmentation; standardised with the "
        f"train split's mean and std, constant features dropped, std floored at "
        f"{STD_FLOOR:g} x the median std), "
        f"AdamW lr={cfg.lr:g} wd={cfg.weight_decay:g}, {cfg.epochs} epochs, batch {cfg.batch_size}"
    )


def fit_head(
    batch_features: Callable[[torch.Tensor], torch.Tensor],
    labels: torch.Tensor,
    num_classes: int,
    cfg: LinearEvalConfig,
    mean: torch.Tensor,
    std: torch.Tensor,
    *,
    seed: int = 0,
    progress: Progress | None = None,
) -> LinearProbe:
    """Train a linear head on standardised features, ``(batch_features(idx) - mean) / std``
    for each batch of sample indices ``idx`` (float32, CPU), with AdamW and a cosine
    schedule; the batch order and the initialisation come from ``seed``;
    ``progress("linear epochs", epoch, epochs)`` after each epoch."""
    gen = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        head = nn.Linear(mean.numel(), num_classes)
    opt = torch.optim.AdamW(head.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    steps_per_epoch = math.ceil(len(labels) / cfg.batch_size)
    total = cfg.epochs * steps_per_epoch
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, total)
    loss_fn = nn.CrossEntropyLoss()
    for epoch in range(cfg.epochs):
        order = torch.randperm(len(labels), generator=gen)
        for i in range(steps_per_epoch):
            idx = order[i * cfg.batch_size : (i + 1) * cfg.batch_size]
            loss = loss_fn(head((batch_features(idx) - mean) / std), labels[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
        if progress is not None:
            progress("linear epochs", epoch + 1, cfg.epochs)
    head.requires_grad_(False)
    return LinearProbe(mean, std, head)


def train_probe(
    features: torch.Tensor,
    labels: torch.Tensor,
    num_classes: int,
    cfg: LinearEvalConfig,
    *,
    seed: int = 0,
    progress: Progress | None = None,
) -> LinearProbe:
    """Fit a linear classifier on cached ``features`` [N, D] (float32, CPU), standardised
    robustly with their own statistics (:func:`robust_std`)."""
    mean, std = features.mean(0), robust_std(features)
    return fit_head(
        lambda idx: features[idx], labels, num_classes, cfg, mean, std, seed=seed, progress=progress
    )


def robust_std(features: torch.Tensor, floor: float = STD_FLOOR) -> torch.Tensor:
    """Per-feature scale for standardisation that a shifted test set cannot blow up.

    A feature constant on the training set (a border pixel that is never inked, a dead
    ReLU unit) gets an infinite scale, i.e. it is dropped: whatever value it takes on
    shifted data, it contributes 0. Every other feature's std is floored at ``floor``
    times the median std of the non-constant features, so a nearly constant feature is not
    magnified 1e5-fold (with a bare clamp at 1e-6, any background change on corrupted
    MNIST sends raw pixels to chance: 10.0% on contrast/1 and gaussian_noise/1; with this
    floor 70-86%, measured in tests/evals/test_baseline.py)."""
    std = features.std(0) if len(features) > 1 else torch.zeros(features.shape[1:])
    alive = std > CONSTANT * std.abs().max().clamp_min(1e-30)
    if not alive.any():
        return torch.full_like(std, math.inf)
    scale = std.clamp_min(floor * std[alive].median())
    return torch.where(alive, scale, torch.full_like(std, math.inf))


def chance_warning(top1: float | None, num_classes: int, lr: float) -> str | None:
    """A warning when a probe's top-1 accuracy (%) is within ``CHANCE_FACTOR`` x chance (the
    health check's threshold): a probe that diverged (``eval.linear.lr`` far too high)
    reports chance accuracy, not an error."""
    chance = 100.0 / num_classes
    if top1 is None or top1 > CHANCE_FACTOR * chance:
        return None
    return (
        f"linear probe at chance level ({top1:.1f}% with {num_classes} classes, chance "
        f"{chance:.1f}%): it likely diverged or the encoder collapsed; try a lower "
        f"eval.linear.lr (now {lr:g})"
    )
