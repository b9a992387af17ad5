"""Per-method facts: declared once in each method's file, read from its source without
importing it, and consistent with the imported loss."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pytest

import sslctl.methods as methods_pkg
from sslctl.methods import available, facts, hyperparameters, loss_function
from sslctl.methods.facts import DeclarationError, MethodFacts, read_declaration

PACKAGE = Path(methods_pkg.__file__).parent


def _loss_modules() -> list[Path]:
    """Modules defining a public ``*_loss(z1, z2, *, ...)`` function: the method files."""
    found = []
    for path in sorted(PACKAGE.glob("*.py")):
        tree = ast.parse(path.read_text())
        for node in tree.body:
            if (
                isinstance(node, ast.FunctionDef)
                and node.name.endswith("_loss")
                and [a.arg for a in node.args.args[:2]] == ["z1", "z2"]
            ):
                found.append(path)
                break
    return found


def test_every_loss_module_declares_its_facts() -> None:
    """A module with a loss function and no FACTS would be invisible to the registry (and so
    train per GPU under DDP, unvalidated): every one declares them."""
    modules = _loss_modules()
    assert len(modules) == len(available()) == 7
    for path in modules:
        assert read_declaration(path) is not None, f"{path.name} declares no FACTS"


@pytest.mark.parametrize("name", available())
def test_source_declaration_matches_the_imported_module(name: str) -> None:
    """The torch-free reading equals what importing the module gives: the FACTS object and
    the loss signature's keyword-only parameters (names, defaults, annotations)."""
    fn = loss_function(name)
    module = inspect.getmodule(fn)
    assert facts(name) == module.FACTS
    signature = inspect.signature(fn, eval_str=True)
    imported = {
        p.name: (p.default, p.annotation)
        for p in signature.parameters.values()
        if p.kind is inspect.Parameter.KEYWORD_ONLY
    }
    read = {k: (p.default, p.annotation) for k, p in hyperparameters(name).items()}
    assert read == imported


def test_the_gathering_facts_follow_the_official_code() -> None:
    """Only W-MSE computes its loss per GPU (htdt/self-supervised whitens each GPU's batch);
    the whitening methods say which whitening they contain."""
    assert {n for n in available() if not facts(n).gathers} == {"wmse"}
    assert {n: facts(n).whitening for n in available() if facts(n).whitening != "none"} == {
        "wmse": "cholesky",
        "intl": "iternorm",
        "st": "eigh",
    }


def test_a_malformed_declaration_is_named_with_its_file(tmp_path: Path) -> None:
    """Non-literal values, a missing loss function and an unknown whitening are errors that
    name the file."""
    bad = tmp_path / "bad.py"
    bad.write_text("FACTS = MethodFacts(name='x', loss=make(), gathers=True)\n")
    with pytest.raises(DeclarationError, match="bad.py"):
        read_declaration(bad)
    bad.write_text(
        "FACTS = MethodFacts(name='x', loss='x_loss', gathers=True, whitening='none', "
        "official='o')\n"
    )
    with pytest.raises(DeclarationError, match="bad.py: FACTS names loss 'x_loss'"):
        read_declaration(bad)
    with pytest.raises(ValueError, match="whitening 'pca'"):
        MethodFacts(name="x", loss="x_loss", gathers=True, whitening="pca", official="o")


def test_a_new_method_file_is_all_it_takes(tmp_path: Path) -> None:
    """A declaration with a simple signature is read completely from the file alone."""
    new = tmp_path / "mine.py"
    new.write_text(
        "from typing import Literal\n"
        "FACTS = MethodFacts(name='mine', loss='mine_loss', gathers=False, whitening='none',"
        " official='none')\n"
        "def mine_loss(z1, z2, *, scale: float = 2.0, mode: Literal['a', 'b'] = 'a'):\n"
        "    return {}\n"
    )
    declared, params = read_declaration(new)
    assert declared.name == "mine" and declared.gathers is False
    assert {k: p.default for k, p in params.items()} == {"scale": 2.0, "mode": "a"}
