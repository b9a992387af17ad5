"""What the rest of sslctl needs to know about a method, declared once, in the method's file.

Every loss module declares, next to its loss function::

    FACTS = MethodFacts(
        name="vicreg",
        loss="vicreg_loss",
        gathers=True,
        whitening="none",
        official="facebookresearch/vicreg main_vicreg.py",
    )

and :mod:`sslctl.methods` finds it by reading the module's source (:mod:`ast`), without
importing the module and so without importing torch: the recipe validator and the CLI learn
the method names, hyper-parameters (the loss signature's keyword-only arguments and their
defaults) and these facts in milliseconds. Adding a loss is adding one file.

The declaration must be a literal call (keyword arguments whose values are Python literals),
which the registry evaluates with :func:`ast.literal_eval`; a malformed one is an error at
discovery, named with its file.
"""

from __future__ import annotations

import ast
import inspect
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Literal

WHITENING_KINDS = ("none", "cholesky", "iternorm", "eigh")


@dataclass(frozen=True)
class MethodFacts:
    """Per-method facts used outside the loss.

    Attributes:
        name: the recipe's ``method.name``.
        loss: the name of the loss function in the same module,
            ``(z1, z2, *, hyper-parameters) -> {"loss": ..., terms...}``.
        gathers: under DDP the loss sees the embeddings all-gathered from every rank (the
            official code's all-gather or all-reduce); ``False``: each rank computes the
            loss on its own batch (W-MSE's official code whitens per GPU).
        whitening: the whitening step the loss contains (``none``, ``cholesky``,
            ``iternorm``, ``eigh``); whitening always runs in float32 or wider inside the
            loss (:func:`sslctl.methods._common.full_precision`), whatever the autocast.
        official: the reference implementation the loss follows.
    """

    name: str
    loss: str
    gathers: bool
    whitening: Literal["none", "cholesky", "iternorm", "eigh"]
    official: str

    def __post_init__(self) -> None:
        if self.whitening not in WHITENING_KINDS:
            raise ValueError(
                f"method {self.name!r}: whitening {self.whitening!r}; expected one of "
                f"{list(WHITENING_KINDS)}"
            )


# names an annotation of a loss hyper-parameter may use (simple types only: the recipe
# validator builds a pydantic model from them)
_ANNOTATION_NAMES: dict[str, Any] = {
    "float": float,
    "int": int,
    "bool": bool,
    "str": str,
    "None": None,
    "Literal": Literal,
}


class DeclarationError(ValueError):
    """A method module whose declaration cannot be read without importing it."""


def read_declaration(path: Path) -> tuple[MethodFacts, dict[str, inspect.Parameter]] | None:
    """The :class:`MethodFacts` and keyword-only hyper-parameters declared in ``path``, read
    from its source; ``None`` when the module declares no ``FACTS``."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    call = _facts_call(tree)
    if call is None:
        return None
    try:
        kwargs = {kw.arg: ast.literal_eval(kw.value) for kw in call.keywords if kw.arg}
        facts = MethodFacts(**kwargs)
    except (ValueError, TypeError) as err:
        expected = [f.name for f in fields(MethodFacts)]
        raise DeclarationError(
            f"{path}: FACTS must be MethodFacts({', '.join(expected)}) with literal values ({err})"
        ) from None
    function = next(
        (n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == facts.loss), None
    )
    if function is None:
        raise DeclarationError(f"{path}: FACTS names loss {facts.loss!r}, not defined there")
    return facts, _keyword_parameters(function, path)


def _facts_call(tree: ast.Module) -> ast.Call | None:
    for node in tree.body:
        if (
            isinstance(node, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id == "FACTS" for t in node.targets)
            and isinstance(node.value, ast.Call)
        ):
            return node.value
    return None


def _keyword_parameters(function: ast.FunctionDef, path: Path) -> dict[str, inspect.Parameter]:
    """The keyword-only parameters of ``function`` with literal defaults and evaluated simple
    annotations, as :class:`inspect.Parameter` (the same as ``inspect.signature`` gives for
    the imported function; a test checks that)."""
    args = function.args
    params = {}
    for arg, default in zip(args.kwonlyargs, args.kw_defaults, strict=True):
        if default is None:
            raise DeclarationError(f"{path}: hyper-parameter {arg.arg!r} has no default")
        annotation = inspect.Parameter.empty
        if arg.annotation is not None:
            source = ast.unparse(arg.annotation)
            try:
                annotation = eval(source, {"__builtins__": {}}, dict(_ANNOTATION_NAMES))
            except Exception as err:
                raise DeclarationError(
                    f"{path}: annotation {source!r} of {arg.arg!r} is not a simple type "
                    f"(float, int, bool, str, Literal[...] and unions of them): {err}"
                ) from None
        params[arg.arg] = inspect.Parameter(
            arg.arg,
            inspect.Parameter.KEYWORD_ONLY,
            default=ast.literal_eval(default),
            annotation=annotation,
        )
    return params
