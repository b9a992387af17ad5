"""The evaluation chain for one frozen encoder: linear probe in-domain, then OOD transfer."""

from __future__ import annotations

from collections.abc import Callable

import torch

from sslctl.data.datasets import Dataset, ImageSet
from sslctl.evals.features import encode
from sslctl.evals.linear import train_probe
from sslctl.evals.ood import ood_metrics
from sslctl.recipe.schema import LinearEvalConfig


def evaluate_encoder(
    encoder: Callable[[torch.Tensor], torch.Tensor],
    dataset: Dataset,
    ood_sets: dict[str, ImageSet],
    cfg: LinearEvalConfig,
    *,
    device: torch.device,
    dtype: torch.dtype | None,
    seed: int,
) -> dict[str, float]:
    """Return ``{"linear/top1": ..., "ood/<set>/top1": ...}`` for ``encoder``."""

    def feats(images: ImageSet) -> torch.Tensor:
        return encode(
            encoder, images.images, mean=dataset.mean, std=dataset.std, device=device, dtype=dtype
        )

    probe = train_probe(
        feats(dataset.train), dataset.train.labels, dataset.train.num_classes, cfg, seed=seed
    )
    metrics = {"linear/top1": probe.top1(feats(dataset.test), dataset.test.labels)}
    shifted = {key: (feats(s), s.labels) for key, s in ood_sets.items()}
    metrics.update({f"ood/{k}": v for k, v in ood_metrics(probe, shifted).items()})
    return metrics
