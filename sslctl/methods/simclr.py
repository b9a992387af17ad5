"""SimCLR's NT-Xent loss (Chen, Kornblith, Norouzi, Hinton, ICML 2020,
https://arxiv.org/abs/2002.05709).

Follows the official code, google-research/simclr ``objective.py``
(``add_contrastive_loss``; ``tf2/objective.py`` is the same):

* the embeddings are L2-normalised (``hidden_norm=True``, the official flag default);
* ``logits_ab = h1 h2^T / temperature`` and ``logits_aa = h1 h1^T / temperature`` with each
  sample's similarity to itself masked by subtracting ``LARGE_NUM = 1e9`` (likewise
  ``logits_ba``, ``logits_bb``);
* ``loss_a`` = cross entropy of ``[logits_ab, logits_aa]`` with the positive at column i,
  ``loss_b`` likewise for view 2, each averaged over the batch;
* ``loss = loss_a + loss_b``: the two directions are **summed**, as in the official code.
  lightly's ``NTXentLoss`` and solo-learn's ``simclr_loss_func`` average over the 2N
  anchors instead, i.e. half this value (and half the gradient, which under SGD/LARS
  halves the effective learning rate); we keep the official sum.

The function default of ``temperature`` in ``objective.py`` is 1.0 but the training
flag's default, used by every official run, is 0.1 (the paper's CIFAR-10 runs use 0.5).
With several devices the official code gathers the other replicas' embeddings as extra
negatives: pass all-gathered embeddings here, which gives the same loss. Computed in
float32 under mixed precision (bf16 logits divided by 0.1 lose about two digits).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from sslctl.methods._common import at_least_fp32, check_pair, full_precision
from sslctl.methods.facts import MethodFacts

FACTS = MethodFacts(
    name="simclr",
    loss="simclr_loss",
    gathers=True,
    whitening="none",
    official="google-research/simclr objective.py (cross-replica negatives)",
)

LARGE_NUM = 1e9


def contrastive_logits(h1: Tensor, h2: Tensor, temperature: float) -> tuple[Tensor, Tensor]:
    """The [batch, 2 batch] logits of view 1 against ``[view 2, view 1]`` and of view 2
    against ``[view 1, view 2]``, self-similarities masked with ``-LARGE_NUM``."""
    n = h1.shape[0]
    mask = torch.eye(n, dtype=h1.dtype, device=h1.device) * LARGE_NUM
    logits_aa = h1 @ h1.T / temperature - mask
    logits_bb = h2 @ h2.T / temperature - mask
    logits_ab = h1 @ h2.T / temperature
    logits_ba = h2 @ h1.T / temperature
    return torch.cat([logits_ab, logits_aa], dim=1), torch.cat([logits_ba, logits_bb], dim=1)


def simclr_loss(
    z1: Tensor, z2: Tensor, *, temperature: float = 0.1, hidden_norm: bool = True
) -> dict[str, Tensor]:
    """NT-Xent of two views' embeddings ``z1``, ``z2`` [batch, dim].

    Args:
        z1, z2: the projector outputs of the two views, same shape, batch >= 2.
        temperature: softmax temperature tau (> 0).
        hidden_norm: L2-normalise the embeddings first (cosine similarity).

    Returns:
        ``{"loss", "loss_a", "loss_b"}`` with ``loss = loss_a + loss_b``.
    """
    check_pair(z1, z2, "simclr")
    if not temperature > 0:
        raise ValueError(f"simclr: temperature must be > 0, got {temperature}")
    with full_precision(z1.device):
        h1, h2 = at_least_fp32(z1, z2)
        if hidden_norm:
            h1, h2 = F.normalize(h1, dim=1), F.normalize(h2, dim=1)
        logits_a, logits_b = contrastive_logits(h1, h2, temperature)
        labels = torch.arange(h1.shape[0], device=h1.device)
        loss_a = F.cross_entropy(logits_a, labels)
        loss_b = F.cross_entropy(logits_b, labels)
    return {"loss": loss_a + loss_b, "loss_a": loss_a, "loss_b": loss_b}
