"""Weighted kNN classification on frozen features (Wu et al., 2018, "Unsupervised Feature
Learning via Non-Parametric Instance Discrimination"; as in DINO's ``eval_knn``): cosine
similarity to the k nearest training features, votes weighted by exp(sim / T)."""

from __future__ import annotations

import torch
import torch.nn.functional as F


@torch.no_grad()
def knn_predict(
    train: torch.Tensor,
    train_labels: torch.Tensor,
    test: torch.Tensor,
    *,
    k: int = 20,
    temperature: float = 0.07,
    num_classes: int,
    chunk: int = 1024,
) -> torch.Tensor:
    """Predicted labels of ``test`` [M, D] from ``train`` [N, D]; memory O(chunk * N)."""
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    k = min(k, len(train))
    bank = F.normalize(train.float(), dim=1)
    preds = []
    for start in range(0, len(test), chunk):
        query = F.normalize(test[start : start + chunk].float(), dim=1)
        sims, idx = (query @ bank.T).topk(k, dim=1)
        weights = (sims / temperature).exp()
        votes = torch.zeros(len(query), num_classes, device=query.device)
        votes.scatter_add_(1, train_labels[idx], weights)
        preds.append(votes.argmax(1))
    return torch.cat(preds)


def knn_top1(
    train: torch.Tensor,
    train_labels: torch.Tensor,
    test: torch.Tensor,
    test_labels: torch.Tensor,
    *,
    k: int = 20,
    temperature: float = 0.07,
    num_classes: int,
) -> float:
    """Top-1 accuracy (percent) of the weighted kNN classifier."""
    pred = knn_predict(
        train, train_labels, test, k=k, temperature=temperature, num_classes=num_classes
    )
    return 100.0 * float((pred == test_labels).float().mean())
