"""Whitening and spectral transformations shared by INTL, W-MSE and ST.

All matrix work runs in float32 (eigendecompositions in float64) with autocast disabled,
whatever the surrounding precision; a singular or non-finite matrix raises
:class:`~sslctl.errors.NumericalError` naming the step instead of a LAPACK error.
"""

from __future__ import annotations

import torch

from sslctl.errors import NumericalError


def _fp32(z: torch.Tensor) -> torch.Tensor:
    """At least float32 (half precision is promoted; float64 stays)."""
    return z.to(torch.promote_types(z.dtype, torch.float32))


def _check_finite(t: torch.Tensor, step: str) -> None:
    if not torch.isfinite(t).all():
        raise NumericalError(f"{step}: input contains NaN or Inf")


def iternorm(z: torch.Tensor, *, iters: int = 4, axis: int = 0, eps: float = 0.0) -> torch.Tensor:
    """IterNorm (Huang et al., CVPR 2019) as used by INTL (winci-ai/INTL ``whitening.py``).

    ``axis=1`` whitens the D x D feature covariance (features centred over the batch);
    ``axis=0`` — the official default — whitens the N x N sample Gram matrix (each sample
    centred over its features, normalised by D - 1). The covariance is divided by its trace,
    ``iters`` Newton steps ``P <- 1.5 P - 0.5 P^3 S`` approximate ``S^-1/2``, and the result
    is rescaled by ``trace^-1/2``. With T=4 the output is *not* exactly white: each
    eigenvalue lambda of the (trace-normalised) covariance becomes lambda * f_T(lambda)^2.
    """
    if axis not in (0, 1):
        raise ValueError(f"axis must be 0 (sample Gram) or 1 (feature covariance), got {axis}")
    if z.ndim != 2:
        raise ValueError(f"expected embeddings [batch, dim], got shape {tuple(z.shape)}")
    with torch.autocast(z.device.type, enabled=False):
        x = _fp32(z)
        _check_finite(x, "IterNorm")
        x = x.T if axis == 0 else x  # rows are the samples of the covariance
        xc = x - x.mean(0, keepdim=True)
        n = xc.shape[0]
        eye = torch.eye(xc.shape[1], device=z.device, dtype=x.dtype)
        sigma = (1 - eps) * (xc.T @ xc) / (n - 1) + eps * eye
        trace = sigma.diagonal().sum()
        if not torch.isfinite(trace) or trace <= 0:
            raise NumericalError(f"IterNorm: covariance trace is {float(trace)} (collapsed input)")
        s = sigma / trace
        p = eye
        for _ in range(iters):
            p = 1.5 * p - 0.5 * torch.linalg.matrix_power(p, 3) @ s
        out = xc @ (p / trace.sqrt())
        return out.T if axis == 0 else out


def newton_eigen_map(lam: torch.Tensor, iters: int) -> torch.Tensor:
    """Scalar IterNorm recursion: f_0 = 1, f <- 1.5 f - 0.5 f^3 lam on trace-normalised
    eigenvalues; the whitened covariance has eigenvalues lam * f_T(lam)^2 (before the
    trace rescaling)."""
    f = torch.ones_like(lam)
    for _ in range(iters):
        f = 1.5 * f - 0.5 * f**3 * lam
    return f


def cholesky_whiten(z: torch.Tensor, *, eps: float = 0.0) -> torch.Tensor:
    """W-MSE's whitening (htdt/self-supervised ``Whitening2d``): centre, covariance
    Sigma = L L^T by Cholesky, output (z - mu) L^-T, whose covariance is the identity."""
    if z.ndim != 2:
        raise ValueError(f"expected embeddings [batch, dim], got shape {tuple(z.shape)}")
    with torch.autocast(z.device.type, enabled=False):
        x = _fp32(z)
        _check_finite(x, "Cholesky whitening")
        n, d = x.shape
        xc = x - x.mean(0, keepdim=True)
        eye = torch.eye(d, device=z.device, dtype=x.dtype)
        cov = (1 - eps) * (xc.T @ xc) / (n - 1) + eps * eye
        chol, info = torch.linalg.cholesky_ex(cov)
        if int(info) != 0:
            raise NumericalError(
                f"Cholesky whitening: covariance not positive definite (sub-batch {n}, dim {d}); "
                "use a larger w_size than the embedding dim, or eps > 0"
            )
        inv = torch.linalg.solve_triangular(chol, eye, upper=False)
        return xc @ inv.T


def spectral_transform(z: torch.Tensor, *, power: float = 0.5, eps: float = 1e-8) -> torch.Tensor:
    """Spectral transformation (INTL paper, Weng et al.): centre, eigendecompose the feature
    covariance Sigma = U diag(lambda) U^T in float64, output (z - mu) U diag(g(lambda)) U^T with
    g(lambda) = lambda^-power. power = 0.5 is whitening, power = 0 leaves z centred."""
    if z.ndim != 2:
        raise ValueError(f"expected embeddings [batch, dim], got shape {tuple(z.shape)}")
    with torch.autocast(z.device.type, enabled=False):
        x = z.double()
        _check_finite(x, "spectral transform")
        xc = x - x.mean(0, keepdim=True)
        cov = xc.T @ xc / (x.shape[0] - 1)
        try:
            lam, u = torch.linalg.eigh(cov)
        except RuntimeError as err:  # LAPACK failed to converge
            raise NumericalError(f"spectral transform: eigendecomposition failed ({err})") from None
        g = lam.clamp_min(eps).pow(-power)
        return (xc @ (u * g) @ u.T).to(torch.promote_types(z.dtype, torch.float32))
