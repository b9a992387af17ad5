"""ST: spectral transformation (Weng et al., "Modulate Your Spectrum in Self-Supervised
Learning", ICLR 2024, https://arxiv.org/abs/2305.16789, Section 3).

The paper frames whitening losses as one instance of a spectral transformation: each
view's centred embedding is multiplied by ``Phi = U g(Lambda) U^T``, where ``Sigma = U
Lambda U^T`` is its covariance, and the loss is the normalised MSE ``2 - 2 cos`` between
the transformed views. With ``g(lambda) = lambda^-power``, ``power = 0.5`` is whitening
(as W-MSE, but with the symmetric ``Sigma^-1/2`` instead of a Cholesky factor, and on the
whole batch) and the paper shows that other powers also avoid collapse; INTL (IterNorm +
trace loss, :mod:`sslctl.methods.intl`) is the practical member of this family and the
default recipe, ST the exact-eigendecomposition member used to study ``power``.

The official repository (winci-ai/INTL) ships no ST code, so this follows the paper's
definition: ``axis = 1`` (default) transforms the D x D feature covariance, ``axis = 0``
the N x N sample Gram matrix, centred as INTL's axis 0 for comparison with INTL. The
eigendecomposition runs in float64 with an exact backward pass that stays finite for
repeated eigenvalues (see :mod:`sslctl.methods.whitening`). For ``power != 0`` the matrix
must be non-singular: batch > dim for axis 1, dim > batch for axis 0 (else ``ValueError``),
and a numerically singular matrix raises ``NumericalError``.
"""

from __future__ import annotations

import math
from typing import Literal

from torch import Tensor

from sslctl.methods._common import at_least_fp32, check_pair, full_precision, normalized_mse
from sslctl.methods.facts import MethodFacts
from sslctl.methods.whitening import spectral_transform

FACTS = MethodFacts(
    name="st",
    loss="st_loss",
    gathers=True,
    whitening="eigh",
    official="the paper's definition (winci-ai/INTL ships no ST code; gathered as INTL)",
)


def st_loss(
    z1: Tensor, z2: Tensor, *, power: float = 0.5, axis: Literal[0, 1] = 1
) -> dict[str, Tensor]:
    """Spectral-transformation loss of two views' embeddings ``z1``, ``z2`` [batch, dim].

    Args:
        z1, z2: the projector outputs of the two views, same shape.
        power: p in ``g(lambda) = lambda^-p``; 0.5 whitens, 0 leaves the spectrum as is.
        axis: 1 transforms the D x D feature covariance, 0 the N x N sample Gram matrix.

    Returns:
        ``{"loss", "alignment"}`` (the same value: ST has a single term).
    """
    check_pair(z1, z2, "st", min_batch=2)
    if axis not in (0, 1):
        raise ValueError(f"st: axis must be 0 (sample Gram) or 1 (feature covariance), got {axis}")
    if not math.isfinite(power):
        raise ValueError(f"st: power must be finite, got {power}")
    batch, dim = z1.shape
    observations, variables = (dim, batch) if axis == 0 else (batch, dim)
    if power != 0 and observations <= variables:
        matrix, need = (
            ("N x N sample Gram matrix (axis 0)", "dim > batch")
            if axis == 0
            else ("D x D feature covariance (axis 1)", "batch > dim")
        )
        raise ValueError(
            f"st: with power={power} the {matrix} must be invertible, which needs {need}; "
            f"got embeddings of shape {tuple(z1.shape)}"
        )
    with full_precision(z1.device):
        z1, z2 = at_least_fp32(z1, z2)
        t1 = spectral_transform(z1, power=power, axis=axis)
        t2 = spectral_transform(z2, power=power, axis=axis)
        loss = normalized_mse(t1, t2)
    return {"loss": loss, "alignment": loss}
