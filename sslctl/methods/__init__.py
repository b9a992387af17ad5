"""The method library: one pure loss per module, ``(z1, z2, *, hyper-parameters) -> dict``.

Every loss takes the two views' embeddings [batch, dim] (all-gathered across ranks in
distributed training: the losses are pure functions of the full batch, with no hidden
state) and returns ``{"loss": scalar, <named terms>...}``. Its keyword-only
hyper-parameters, with the papers' defaults and simple annotations, are exactly the keys
of a recipe's ``method:`` block.

This module does not import torch (the CLI must start fast): :data:`REGISTRY` maps each
name to ``"module:function"`` and the loss module is imported on first use.

Example::

    loss_fn = build_loss("vicreg", sim_coeff=10.0)
    out = loss_fn(z1, z2)  # {"loss", "invariance", "variance", "covariance"}
"""

from __future__ import annotations

import difflib
import functools
import importlib
import inspect
from collections.abc import Callable
from typing import Any

REGISTRY: dict[str, str] = {
    "vicreg": "sslctl.methods.vicreg:vicreg_loss",
    "vcreg": "sslctl.methods.vcreg:vcreg_loss",
    "barlow": "sslctl.methods.barlow:barlow_loss",
    "wmse": "sslctl.methods.wmse:wmse_loss",
    "intl": "sslctl.methods.intl:intl_loss",
    "simclr": "sslctl.methods.simclr:simclr_loss",
    "st": "sslctl.methods.spectral:st_loss",
}

__all__ = ["REGISTRY", "available", "build_loss", "hyperparameters", "loss_function"]


def available() -> list[str]:
    """Names of the registered methods, in registry order."""
    return list(REGISTRY)


def _suggestion(word: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def loss_function(name: str) -> Callable[..., Any]:
    """The raw loss function of method ``name`` (for signature inspection)."""
    if name not in REGISTRY:
        raise ValueError(
            f"unknown method {name!r}{_suggestion(name, available())}; "
            f"available: {', '.join(available())}"
        )
    module, attr = REGISTRY[name].split(":")
    return getattr(importlib.import_module(module), attr)


def hyperparameters(name: str) -> dict[str, inspect.Parameter]:
    """The keyword-only hyper-parameters of method ``name``, in signature order, with their
    defaults and (evaluated) annotations."""
    signature = inspect.signature(loss_function(name), eval_str=True)
    return {
        p.name: p for p in signature.parameters.values() if p.kind is inspect.Parameter.KEYWORD_ONLY
    }


def build_loss(name: str, **params: Any) -> Callable[..., dict[str, Any]]:
    """``(z1, z2) -> {"loss": ..., terms...}`` for method ``name`` with ``params`` bound.

    Parameter names are checked against the loss signature (values are checked by the
    recipe validator and by the loss itself); an unknown method or parameter is a
    ``ValueError`` with a close-match suggestion.
    """
    fn = loss_function(name)
    known = list(hyperparameters(name))
    unknown = [key for key in params if key not in known]
    if unknown:
        problems = "; ".join(f"{key!r}{_suggestion(key, known)}" for key in unknown)
        raise ValueError(
            f"unknown hyper-parameter(s) of method {name!r}: {problems}; "
            f"expected: {', '.join(known)}"
        )
    return functools.partial(fn, **params)
