"""VCReg: variance-covariance regularisation (Mialon, Balestriero, LeCun, "Variance
Covariance Regularization Enforces Pairwise Independence in Self-Supervised
Representations", https://arxiv.org/abs/2209.14905).

VICReg's variance and covariance terms (the helpers of :mod:`sslctl.methods.vicreg`, with
the official VICReg conventions: variance averaged over the two branches, covariance
summed) applied to the projector output, without the invariance term by default
(``sim_coeff = 0``): the paper's object of study, which with an MLP projector enforces
pairwise independence of the representation's features and, on its own, solves linear
ICA. A positive ``sim_coeff`` adds VICReg's invariance term (``sim_coeff = 25`` gives
exactly VICReg).

Defaults: the paper builds on VICReg and its SSL experiments keep VICReg's coefficients,
so ``std_coeff = 25`` and ``cov_coeff = 1`` (we could not find a different setting stated
for VCReg alone; set them in the recipe to change them).

For ICA (one set of observations, no views) pass the same tensor twice: the variance term
is then that tensor's hinge and the covariance term twice its covariance penalty.
"""

from __future__ import annotations

from torch import Tensor

from sslctl.methods._common import at_least_fp32, check_pair, full_precision
from sslctl.methods.facts import MethodFacts
from sslctl.methods.vicreg import covariance_term, invariance_term, variance_term

FACTS = MethodFacts(
    name="vcreg",
    loss="vcreg_loss",
    gathers=True,
    whitening="none",
    official="VICReg's terms without invariance (Mialon et al.; gathered as VICReg)",
)


def vcreg_loss(
    z1: Tensor,
    z2: Tensor,
    *,
    std_coeff: float = 25.0,
    cov_coeff: float = 1.0,
    sim_coeff: float = 0.0,
    eps: float = 1e-4,
) -> dict[str, Tensor]:
    """Variance + covariance regularisation (+ optional invariance) of two views [batch, dim].

    Returns ``{"loss", "variance", "covariance", "invariance"}`` (the invariance is
    reported even when ``sim_coeff = 0``, for monitoring).
    """
    check_pair(z1, z2, "vcreg")
    with full_precision(z1.device):
        z1, z2 = at_least_fp32(z1, z2)
        variance = variance_term(z1, eps) / 2 + variance_term(z2, eps) / 2
        covariance = covariance_term(z1) + covariance_term(z2)
        invariance = invariance_term(z1, z2)
        loss = std_coeff * variance + cov_coeff * covariance
        if sim_coeff:
            loss = loss + sim_coeff * invariance
    return {"loss": loss, "variance": variance, "covariance": covariance, "invariance": invariance}
