"""Whitening and spectral transformations shared by INTL, W-MSE and ST.

* :func:`iternorm` — IterNorm (Huang et al., CVPR 2019) as used by INTL (winci-ai/INTL
  ``methods/whitening.py``): Newton iterations towards ``Sigma^-1/2`` of the
  trace-normalised covariance, along ``axis`` 0 (the N x N sample Gram matrix) or 1 (the
  D x D feature covariance).
* :func:`cholesky_whiten` — W-MSE's whitening (htdt/self-supervised ``Whitening2d``):
  ``(z - mu) L^-T`` with ``Sigma = L L^T``; the output covariance is the identity.
* :func:`spectral_transform` — the spectral transformation of Weng et al. (ICLR 2024),
  ``(z - mu) U g(Lambda) U^T`` with ``g(lambda) = lambda^-power``, by a float64
  eigendecomposition with an exact (Daleckii-Krein) backward pass.

All matrix work runs with autocast disabled, in float32 (IterNorm, Cholesky) or float64
(eigh), whatever the surrounding precision. A singular or non-finite matrix raises
:class:`~sslctl.errors.NumericalError` naming the step, never a raw LAPACK error. Each
check costs one host-device synchronisation per call.
"""

from __future__ import annotations

import torch
from torch import Tensor

from sslctl.errors import NumericalError
from sslctl.methods._common import at_least_fp32, full_precision

#: ST refuses covariances whose smallest eigenvalue is below this fraction of the largest
#: (for power > 0 the transform and its gradient blow up there).
ST_RELATIVE_FLOOR = 1e-10
#: Cholesky whitening refuses pivots below this many machine epsilons (relative to the
#: variance): such a dimension is a linear combination of the others up to rounding.
PIVOT_TOLERANCE = 10.0
#: Embeddings count as collapsed when their centred energy is below this many squared
#: machine epsilons of their raw energy: what is left is the rounding error of the mean.
COLLAPSE_TOLERANCE = 1e3


def _check_axis(axis: int) -> None:
    if axis not in (0, 1):
        raise ValueError(f"axis must be 0 (N x N sample Gram) or 1 (D x D covariance), got {axis}")


def _check_matrix(z: Tensor, step: str) -> None:
    if z.ndim != 2:
        raise ValueError(f"{step}: expected embeddings [batch, dim], got shape {tuple(z.shape)}")


def _observations(x: Tensor, axis: int, step: str) -> Tensor:
    """Rows are the observations, columns the variables to decorrelate, centred per column.

    axis 1: variables are the D features, observed over the batch (centred over the batch);
    axis 0: variables are the N samples, observed over the features (each sample centred
    over its own features), as in the official INTL code."""
    rows = x.T if axis == 0 else x
    if rows.shape[0] < 2:
        what = "dim" if axis == 0 else "batch"
        raise ValueError(f"{step} along axis {axis} needs {what} >= 2, got shape {tuple(x.shape)}")
    return rows - rows.mean(dim=0, keepdim=True)


def _collapsed(x: Tensor, xc: Tensor, dtype: torch.dtype | None = None) -> Tensor:
    """Whether the centred ``xc`` is rounding noise of ``x`` (per trailing [n, d] matrix), at
    the precision of ``dtype`` (default ``x``'s)."""
    tiny = COLLAPSE_TOLERANCE * torch.finfo(dtype or x.dtype).eps ** 2
    return xc.pow(2).sum(dim=(-2, -1)) <= tiny * x.pow(2).sum(dim=(-2, -1))


def _what(axis: int) -> str:
    return "N x N sample Gram matrix" if axis == 0 else "D x D feature covariance"


def iternorm(z: Tensor, *, iters: int = 4, axis: int = 0) -> Tensor:
    """IterNorm of embeddings ``z`` [batch, dim], returned as float32 (or float64) [batch, dim].

    Following winci-ai/INTL ``Whitening2dIterNorm``: ``Sigma`` is the covariance of the
    centred observations (normalised by the number of observations minus one), ``S =
    Sigma / tr(Sigma)``, ``P_0 = I``, ``P_{k+1} = 1.5 P_k - 0.5 P_k^3 S`` for ``iters``
    steps, and the output is ``x_c P_T / sqrt(tr(Sigma))``. ``P_T`` tends to ``S^-1/2``
    but with T=4 the output is *not* white: its covariance is ``P_T S P_T``, whose
    eigenvalues are ``lambda f_T(lambda)^2`` for the eigenvalues ``lambda`` of ``S`` (see
    :func:`newton_eigen_map`).
    """
    _check_matrix(z, "IterNorm")
    _check_axis(axis)
    if iters < 0:
        raise ValueError(f"IterNorm: iters must be >= 0, got {iters}")
    with full_precision(z.device):
        (x,) = at_least_fp32(z)
        rows = x.T if axis == 0 else x
        xc = _observations(x, axis, "IterNorm")
        sigma = xc.T @ xc / (xc.shape[0] - 1)
        trace = sigma.diagonal().sum()
        if not bool(torch.isfinite(trace) & ~_collapsed(rows, xc)):  # NaN/Inf: trace NaN
            cause = (
                "the input contains NaN or Inf"
                if not bool(torch.isfinite(trace))
                else "the embeddings have collapsed to a constant"
            )
            raise NumericalError(
                f"IterNorm (axis={axis}): the trace of the {_what(axis)} is {float(trace)}: "
                f"{cause} (shape {tuple(z.shape)})"
            )
        s = sigma / trace
        eye = torch.eye(s.shape[0], dtype=s.dtype, device=s.device)
        p = eye
        for step in range(iters):
            # P_0 = I, so the first step is 1.5 I - 0.5 S (saves three matmuls).
            p = 1.5 * eye - 0.5 * s if step == 0 else 1.5 * p - 0.5 * (p @ p @ p) @ s
        out = (xc @ p) * trace.rsqrt()
        return out.T if axis == 0 else out


def newton_eigen_map(lam: Tensor, iters: int) -> Tensor:
    """The scalar IterNorm recursion on the eigenvalues ``lam`` of the trace-normalised
    covariance: ``f_0 = 1``, ``f <- 1.5 f - 0.5 f^3 lam``. IterNorm's output covariance has
    the eigenvalues ``lam * f_T(lam)^2``."""
    f = torch.ones_like(lam)
    for _ in range(iters):
        f = 1.5 * f - 0.5 * f**3 * lam
    return f


def cholesky_whiten(
    z: Tensor, *, eps: float = 0.0, label: str = "Cholesky whitening", size_name: str = "batch"
) -> Tensor:
    """Cholesky whitening of ``z`` [..., n, d] (leading dims are independent sub-batches).

    Following htdt/self-supervised ``Whitening2d`` (training mode, no running statistics):
    centre over the n samples, ``Sigma = x_c^T x_c / (n - 1)``, shrink
    ``(1 - eps) Sigma + eps I``, factor ``Sigma = L L^T`` and return ``x_c L^-T``, whose
    covariance is the identity. Gradients flow through the factorisation.
    """
    if z.ndim < 2:
        raise ValueError(f"{label}: expected embeddings [..., n, d], got shape {tuple(z.shape)}")
    n, d = z.shape[-2:]
    if n < 2:
        raise ValueError(f"{label}: needs at least 2 samples, got shape {tuple(z.shape)}")
    with full_precision(z.device):
        (x,) = at_least_fp32(z)
        xc = x - x.mean(dim=-2, keepdim=True)
        cov = xc.mT @ xc / (n - 1)
        if eps:
            eye = torch.eye(d, dtype=cov.dtype, device=cov.device)
            cov = (1 - eps) * cov + eps * eye
        chol, info = torch.linalg.cholesky_ex(cov)
        finite = torch.isfinite(cov).all()
        # A pivot L_ii^2 (the variance of dimension i not explained by the previous ones)
        # at rounding level relative to Sigma_ii: numerically singular even if LAPACK went on.
        pivots = chol.diagonal(dim1=-2, dim2=-1).pow(2) / cov.diagonal(dim1=-2, dim2=-1)
        tolerance = PIVOT_TOLERANCE * torch.finfo(cov.dtype).eps
        collapsed = _collapsed(x, xc)
        if not bool(finite & (info == 0).all() & (pivots > tolerance).all() & ~collapsed.any()):
            if not bool(finite):
                reason = "the input contains NaN or Inf"
            elif bool(collapsed.any()):
                reason = "the embeddings have collapsed to a constant"
            elif n <= d and not eps:
                reason = f"matrix not positive definite: {n} samples cannot span {d} dimensions"
            else:
                reason = "matrix not positive definite (collapsed or linearly dependent dimensions)"
            raise NumericalError(f"{label} failed: {reason} ({size_name}={n}, dim={d})")
        # x_c L^-T: solve X L^T = x_c with the upper-triangular L^T.
        return torch.linalg.solve_triangular(chol.mT, xc, upper=True, left=False)


class _SpectralPower(torch.autograd.Function):
    """``Sigma -> U diag(lambda^-p) U^T`` for a symmetric positive-definite ``Sigma``.

    The backward pass uses the Daleckii-Krein formula ``dPhi = U (K o (U^T dSigma U)) U^T``
    with ``K_ij = (g_i - g_j) / (lambda_i - lambda_j)`` (``g'(lambda_i)`` for (nearly) equal
    eigenvalues), which stays finite for repeated eigenvalues, unlike autograd through
    ``torch.linalg.eigh`` (whose backward divides by eigenvalue gaps).
    """

    @staticmethod
    def forward(
        ctx: torch.autograd.function.FunctionCtx, sigma: Tensor, power: float, label: str
    ) -> Tensor:
        try:
            lam, u = torch.linalg.eigh(sigma)
        except RuntimeError as err:  # LAPACK / cuSOLVER failed to converge
            raise NumericalError(f"{label}: eigendecomposition failed ({err})") from None
        if not bool(lam[0] > ST_RELATIVE_FLOOR * lam[-1]):
            raise NumericalError(
                f"{label}: matrix singular (eigenvalues {float(lam[0]):.3g} .. "
                f"{float(lam[-1]):.3g}), lambda^-{power} is undefined there: the embeddings "
                "have collapsed or have fewer observations than variables"
            )
        g = lam.pow(-power)
        ctx.save_for_backward(lam, u, g)
        ctx.power = power
        return (u * g) @ u.mT

    @staticmethod
    def backward(
        ctx: torch.autograd.function.FunctionCtx, grad: Tensor
    ) -> tuple[Tensor, None, None]:
        lam, u, g = ctx.saved_tensors
        gap = lam[:, None] - lam[None, :]
        close = gap.abs() <= 1e-6 * torch.maximum(lam[:, None], lam[None, :])
        mid = (lam[:, None] + lam[None, :]) / 2
        derivative = -ctx.power * mid.pow(-ctx.power - 1)
        divided = (g[:, None] - g[None, :]) / torch.where(close, torch.ones_like(gap), gap)
        kernel = torch.where(close, derivative, divided)
        return u @ (kernel * (u.mT @ grad @ u)) @ u.mT, None, None


def spectral_transform(z: Tensor, *, power: float = 0.5, axis: int = 1) -> Tensor:
    """Spectral transformation of ``z`` [batch, dim] (Weng et al., ICLR 2024).

    Centre the observations along ``axis`` (as :func:`iternorm`), eigendecompose their
    covariance ``Sigma = U diag(lambda) U^T`` in float64 and return ``x_c U diag(g(lambda))
    U^T`` with ``g(lambda) = lambda^-power``: ``power = 0.5`` whitens (identity covariance),
    ``power = 0`` only centres, and in general the covariance eigenvalues become
    ``lambda^(1 - 2 power)``. Returned in float32 (float64 for float64 input).
    """
    _check_matrix(z, "spectral transform")
    _check_axis(axis)
    out_dtype = torch.promote_types(z.dtype, torch.float32)
    with full_precision(z.device):
        x = z.double()
        xc = _observations(x, axis, "spectral transform")
        sigma = xc.T @ xc / (xc.shape[0] - 1)
        finite = torch.isfinite(sigma).all()
        collapsed = _collapsed(x, xc, out_dtype) if power != 0 else torch.zeros((), dtype=bool)
        if not bool(finite & ~collapsed.to(finite.device)):
            cause = (
                "the input contains NaN or Inf"
                if not bool(finite)
                else "the embeddings have collapsed to a constant"
            )
            raise NumericalError(
                f"spectral transform (axis={axis}, power={power}) of the {_what(axis)}: "
                f"{cause} (shape {tuple(z.shape)})"
            )
        if power != 0:
            label = f"spectral transform (axis={axis}, power={power}) of the {_what(axis)}"
            xc = xc @ _SpectralPower.apply(sigma, float(power), label)
        out = xc.to(out_dtype)
        return out.T if axis == 0 else out
