"""The method library: one pure loss per file, ``(z1, z2, *, hyper-parameters) -> dict``.

Every loss returns ``{"loss": scalar, <named terms>...}``; its keyword-only
hyper-parameters (with the papers' defaults) are exactly the keys of a recipe's
``method:`` block. This module does not import torch (the CLI must start fast): the
loss modules are imported on first use.
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


def available() -> list[str]:
    """Names of the registered methods."""
    return list(REGISTRY)


def _unknown(kind: str, name: str, choices: list[str]) -> ValueError:
    close = difflib.get_close_matches(name, choices, n=1, cutoff=0.5)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return ValueError(f"unknown {kind} {name!r}{hint}; expected one of {choices}")


def loss_function(name: str) -> Callable[..., Any]:
    """The raw loss function of method ``name``."""
    if name not in REGISTRY:
        raise _unknown("method", name, available())
    module, attr = REGISTRY[name].split(":")
    return getattr(importlib.import_module(module), attr)


def hyperparameters(name: str) -> dict[str, inspect.Parameter]:
    """The keyword-only hyper-parameters of method ``name``, in signature order."""
    params = inspect.signature(loss_function(name), eval_str=True).parameters.values()
    return {p.name: p for p in params if p.kind is inspect.Parameter.KEYWORD_ONLY}


def build_loss(name: str, **params: Any) -> Callable[..., dict[str, Any]]:
    """``(z1, z2) -> {"loss": ..., terms...}`` with ``params`` bound (checked by name)."""
    fn = loss_function(name)
    known = hyperparameters(name)
    for key in params:
        if key not in known:
            raise _unknown(f"hyper-parameter of {name}", key, list(known))
    return functools.partial(fn, **params)
