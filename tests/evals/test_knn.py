"""Weighted kNN: exact on separated clusters, matches a brute-force re-derivation."""

from __future__ import annotations

import torch

from sslctl.evals.knn import knn_predict, knn_top1


def test_knn_matches_brute_force_weighted_votes() -> None:
    """Predictions equal an explicit loop: cosine top-k, votes exp(sim/T) per class."""
    g = torch.Generator().manual_seed(0)
    train, labels = torch.randn(100, 8, generator=g), torch.randint(0, 4, (100,), generator=g)
    test = torch.randn(30, 8, generator=g)
    got = knn_predict(train, labels, test, k=7, temperature=0.1, num_classes=4, chunk=8)
    for i, q in enumerate(test):
        sims = torch.nn.functional.cosine_similarity(q[None], train)
        top = sims.argsort(descending=True)[:7]
        votes = torch.zeros(4)
        for j in top:
            votes[labels[j]] += torch.exp(sims[j] / 0.1)
        assert got[i] == votes.argmax()


def test_knn_separates_clusters() -> None:
    """Well separated clusters are classified perfectly."""
    g = torch.Generator().manual_seed(1)
    centres = torch.eye(3) * 10
    y = torch.randint(0, 3, (300,), generator=g)
    x = centres[y] + torch.randn(300, 3, generator=g)
    assert knn_top1(x[:200], y[:200], x[200:], y[200:], k=10, num_classes=3) == 100.0
