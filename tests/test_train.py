"""The pretraining loop's divergence message (sslctl.train.divergence_cause)."""

from __future__ import annotations

import torch

from sslctl.train import divergence_cause


def test_divergence_names_the_likely_cause() -> None:
    """Non-finite views point at the augmentation, non-finite embeddings at the learning
    rate, finite embeddings with a non-finite loss at the method's coefficients."""
    finite = torch.ones(4, 3)
    broken = torch.tensor([[float("inf"), 0.0, 0.0]] * 4)
    assert "augment" in divergence_cause(False, finite, finite)
    assert "optim.lr" in divergence_cause(True, broken, finite)
    assert "coefficients" in divergence_cause(True, finite, finite)
