"""The evaluation chain for one frozen encoder: linear probe in-domain, then OOD transfer."""

from __future__ import annotations

from collections.abc import Callable

import torch

from sslctl.data.datasets import Dataset, ImageSet
from sslctl.evals.features import Progress, encode
from sslctl.evals.knn import knn_top1
from sslctl.evals.linear import train_probe
from sslctl.evals.ood import ood_metrics
from sslctl.recipe.schema import KNNConfig, LinearEvalConfig


def evaluate_encoder(
    encoder: Callable[[torch.Tensor], torch.Tensor],
    dataset: Dataset,
    ood_sets: dict[str, ImageSet],
    cfg: LinearEvalConfig,
    *,
    knn: KNNConfig | None = None,
    device: torch.device,
    dtype: torch.dtype | None,
    seed: int,
    progress: Progress | None = None,
) -> dict[str, float]:
    """Return ``{"linear/top1": ..., "ood/<set>/top1": ...}`` for ``encoder``; ``progress``
    hears of every feature batch (``features <split or OOD set>``) and linear epoch."""

    def feats(images: ImageSet, label: str) -> torch.Tensor:
        return encode(
            encoder,
            images.images,
            mean=dataset.mean,
            std=dataset.std,
            device=device,
            dtype=dtype,
            progress=progress,
            label=f"features {label}",
        )

    train, test = feats(dataset.train, "train"), feats(dataset.test, "test")
    probe = train_probe(
        train, dataset.train.labels, dataset.train.num_classes, cfg, seed=seed, progress=progress
    )
    metrics = {"linear/top1": probe.top1(test, dataset.test.labels)}
    if knn is not None and knn.enabled:
        metrics["knn/top1"] = knn_top1(
            train,
            dataset.train.labels,
            test,
            dataset.test.labels,
            k=knn.k,
            temperature=knn.temperature,
            num_classes=dataset.train.num_classes,
        )
    shifted = {key: (feats(s, f"ood {key}"), s.labels) for key, s in ood_sets.items()}
    metrics.update({f"ood/{k}": v for k, v in ood_metrics(probe, shifted).items()})
    return metrics
