"""SimCLR's NT-Xent loss (Chen et al., ICML 2020), following google-research/simclr
``objective.py`` (``add_contrastive_loss``): embeddings are L2-normalised, similarities
divided by ``temperature``, each sample's similarity to itself is masked with a large
negative, and the cross entropy is taken in both directions (view 1 against
[view 2, view 1] and view 2 against [view 1, view 2]). The two directions are **summed**
(``loss_a + loss_b``) as in the official code, not averaged as in many re-implementations
(which halves the loss and, with SGD, the effective learning rate). The official default
temperature is 0.1 (the CIFAR-10 runs of the paper use 0.5).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from sslctl.methods._checks import check_pair

LARGE_NUM = 1e9


def simclr_loss(
    z1: torch.Tensor, z2: torch.Tensor, *, temperature: float = 0.1
) -> dict[str, torch.Tensor]:
    """NT-Xent of two views' embeddings [batch, dim]."""
    check_pair(z1, z2, "simclr")
    if temperature <= 0:
        raise ValueError(f"simclr: temperature must be > 0, got {temperature}")
    h1, h2 = F.normalize(z1, dim=1), F.normalize(z2, dim=1)
    n = h1.shape[0]
    labels = torch.arange(n, device=z1.device)
    mask = torch.eye(n, device=z1.device) * LARGE_NUM
    logits_aa = h1 @ h1.T / temperature - mask
    logits_bb = h2 @ h2.T / temperature - mask
    logits_ab = h1 @ h2.T / temperature
    logits_ba = h2 @ h1.T / temperature
    loss_a = F.cross_entropy(torch.cat([logits_ab, logits_aa], 1), labels)
    loss_b = F.cross_entropy(torch.cat([logits_ba, logits_bb], 1), labels)
    return {"loss": loss_a + loss_b, "loss_a": loss_a, "loss_b": loss_b}
