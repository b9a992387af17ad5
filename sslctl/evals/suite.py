"""The evaluation chain for one frozen encoder: linear probe in-domain, then OOD transfer."""

from __future__ import annotations

from collections.abc import Callable

import torch

from sslctl.data.datasets import Dataset, ImageSet
from sslctl.evals.features import encode
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
) -> dict[str, float]:
    """Return ``{"linear/top1": ..., "ood/<set>/top1": ...}`` for ``encoder``."""

    def feats(images: ImageSet) -> torch.Tensor:
        return encode(
            encoder, images.images, mean=dataset.mean, std=dataset.std, device=device, dtype=dtype
        )

    train, test = feats(dataset.train), feats(dataset.test)
    probe = train_probe(train, dataset.train.labels, dataset.train.num_classes, cfg, seed=seed)
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
    shifted = {key: (feats(s), s.labels) for key, s in ood_sets.items()}
    metrics.update({f"ood/{k}": v for k, v in ood_metrics(probe, shifted).items()})
    return metrics
