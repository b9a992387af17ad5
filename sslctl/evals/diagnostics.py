"""Representation diagnostics logged with every run: pairwise independence (HSIC) and the
embedding spectrum, of the backbone output and, where asked, the projector output."""

from __future__ import annotations

import torch

from sslctl.data.datasets import Dataset
from sslctl.evals.features import encode
from sslctl.evals.independence import pairwise_independence
from sslctl.evals.spectrum import eigenvalues, spectrum_stats
from sslctl.recipe.schema import IndependenceConfig

PREFIX = {"backbone": "", "projector": "projector/"}


def held_out_features(
    model: torch.nn.Module,
    dataset: Dataset,
    on: list[str],
    device: torch.device,
    dtype: torch.dtype | None,
) -> dict[str, torch.Tensor]:
    """Features of the test split (not used for training): ``backbone`` and/or
    ``projector`` (the embedding the loss sees)."""
    encoders = {"backbone": model.backbone, "projector": model}
    out = {
        name: encode(
            encoders[name],
            dataset.test.images,
            mean=dataset.mean,
            std=dataset.std,
            device=device,
            dtype=dtype,
        )
        for name in on
    }
    model.train()
    return out


def independence_metrics(
    features: dict[str, torch.Tensor], cfg: IndependenceConfig, seed: int
) -> dict[str, float]:
    """``indep/hsic``, ``indep/nhsic``, ``indep/dhsic`` (+ ``indep/pvalue``,
    ``indep/dhsic_pvalue`` with permutations) per feature set."""
    out = {}
    for name, feats in features.items():
        values = pairwise_independence(
            feats,
            pairs=cfg.pairs,
            samples=cfg.samples,
            subset=cfg.subset,
            permutations=cfg.permutations,
            seed=seed if cfg.seed is None else cfg.seed,
        )
        out.update({f"indep/{PREFIX[name]}{k}": v for k, v in values.items()})
    return out


def spectrum_metrics(features: dict[str, torch.Tensor]) -> dict[str, float]:
    """``spectrum/rankme``, ``spectrum/condition``, ``spectrum/collapsed`` per feature set."""
    return {
        f"spectrum/{PREFIX[name]}{k}": v
        for name, feats in features.items()
        for k, v in spectrum_stats(feats).items()
    }


def spectrum_of(features: dict[str, torch.Tensor]) -> list[float]:
    """Eigenvalues of the last feature set given (the embedding when the projector is on)."""
    return eigenvalues(next(reversed(features.values()))).tolist()
