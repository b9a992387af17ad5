"""The method library: one pure loss per module, ``(z1, z2, *, hyper-parameters) -> dict``.

Every loss takes the two views' embeddings [batch, dim] (all-gathered across ranks in
distributed training: the losses are pure functions of the full batch, with no hidden
state) and returns ``{"loss": scalar, <named terms>...}``. Its keyword-only
hyper-parameters, with the papers' defaults and simple annotations, are exactly the keys
of a recipe's ``method:`` block.

This module does not import torch (the CLI must start fast): each loss module declares its
:class:`~sslctl.methods.facts.MethodFacts` (``FACTS = MethodFacts(...)``), which is read
from the module's source together with the loss signature; the module itself is imported
on first use. Adding a loss is adding one file.

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
from pathlib import Path
from typing import Any, NamedTuple

from sslctl.methods.facts import DeclarationError, MethodFacts, read_declaration

__all__ = ["available", "build_loss", "facts", "hyperparameters", "loss_function"]


class _Declared(NamedTuple):
    facts: MethodFacts
    hyperparameters: dict[str, inspect.Parameter]
    module: str


@functools.cache
def _declarations() -> dict[str, _Declared]:
    """Every method declared in this package, by name (sorted), read without importing."""
    found: dict[str, _Declared] = {}
    for path in sorted(Path(__file__).parent.glob("*.py")):
        declared = read_declaration(path)
        if declared is None:
            continue
        name = declared[0].name
        if name in found:
            raise DeclarationError(f"{path}: method {name!r} is declared twice")
        found[name] = _Declared(*declared, module=f"{__name__}.{path.stem}")
    return dict(sorted(found.items()))


def available() -> list[str]:
    """Names of the declared methods, sorted."""
    return list(_declarations())


def _suggestion(word: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _declared(name: str) -> _Declared:
    declarations = _declarations()
    if name not in declarations:
        raise ValueError(
            f"unknown method {name!r}{_suggestion(name, available())}; "
            f"available: {', '.join(available())}"
        )
    return declarations[name]


def facts(name: str) -> MethodFacts:
    """The declared facts of method ``name`` (torch-free)."""
    return _declared(name).facts


def loss_function(name: str) -> Callable[..., Any]:
    """The raw loss function of method ``name`` (imports its module)."""
    declared = _declared(name)
    return getattr(importlib.import_module(declared.module), declared.facts.loss)


def hyperparameters(name: str) -> dict[str, inspect.Parameter]:
    """The keyword-only hyper-parameters of method ``name``, in signature order, with their
    defaults and (evaluated) annotations, read from the source (torch-free)."""
    return dict(_declared(name).hyperparameters)


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
