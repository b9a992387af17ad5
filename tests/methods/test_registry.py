"""The registry: names, signatures usable by the recipe validator, build_loss errors, and
no torch import at `import sslctl.methods`."""

from __future__ import annotations

import functools
import inspect
import subprocess
import sys
import types
import typing

import pytest
from pydantic import ValidationError, create_model

from sslctl.methods import available, build_loss, hyperparameters, loss_function

PAPER_DEFAULTS = {
    "vicreg": {"sim_coeff": 25.0, "std_coeff": 25.0, "cov_coeff": 1.0, "eps": 1e-4},
    "vcreg": {"std_coeff": 25.0, "cov_coeff": 1.0, "sim_coeff": 0.0, "eps": 1e-4},
    "barlow": {"lambd": 0.0051},
    "wmse": {"w_size": 128, "w_iter": 1, "w_eps": 0.0, "norm": True},
    "intl": {"iters": 4, "axis": 0, "trace_coeff": "auto"},
    "simclr": {"temperature": 0.1, "hidden_norm": True},
    "st": {"power": 0.5, "axis": 1},
}


def test_available_lists_the_seven_methods() -> None:
    """available() names every declared method, sorted."""
    assert available() == ["barlow", "intl", "simclr", "st", "vcreg", "vicreg", "wmse"]


@pytest.mark.parametrize("name", sorted(PAPER_DEFAULTS))
def test_hyperparameters_are_keyword_only_with_the_papers_defaults(name: str) -> None:
    """Each loss is f(z1, z2, *, hyper-parameters) and the defaults are the papers'."""
    fn = loss_function(name)
    params = list(inspect.signature(fn).parameters.values())
    assert [p.name for p in params[:2]] == ["z1", "z2"]
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in params[2:])
    assert {k: p.default for k, p in hyperparameters(name).items()} == PAPER_DEFAULTS[name]


def _simple(annotation: object) -> bool:
    if annotation in (float, int, bool, str):
        return True
    origin = typing.get_origin(annotation)
    if origin is typing.Literal:
        return all(isinstance(a, (int, float, str, bool)) for a in typing.get_args(annotation))
    if origin in (typing.Union, types.UnionType):
        return all(_simple(a) for a in typing.get_args(annotation))
    return False


@pytest.mark.parametrize("name", available())
def test_signatures_build_a_pydantic_model(name: str) -> None:
    """Annotations are simple types, and a pydantic model made from the signature (as the
    recipe validator does) accepts the defaults and rejects a wrong type."""
    params = hyperparameters(name)
    assert all(_simple(p.annotation) for p in params.values()), params
    model = create_model(
        f"{name}_params",
        __config__={"extra": "forbid"},
        **{k: (p.annotation, p.default) for k, p in params.items()},
    )
    assert model().model_dump() == PAPER_DEFAULTS[name]
    first = next(iter(params))
    with pytest.raises(ValidationError):
        model(**{first: "not a number"})
    with pytest.raises(ValidationError):
        model(not_a_parameter=1)


def test_build_loss_binds_the_parameters() -> None:
    """build_loss returns a partial of the raw loss with the given keywords."""
    fn = build_loss("vicreg", sim_coeff=3.0)
    assert isinstance(fn, functools.partial)
    assert fn.func is loss_function("vicreg")
    assert fn.keywords == {"sim_coeff": 3.0}


def test_unknown_method_lists_the_available_ones_and_suggests() -> None:
    """An unknown name is a ValueError with a close match and the available names."""
    with pytest.raises(ValueError, match=r"unknown method 'vicrg' \(did you mean 'vicreg'\?\)"):
        build_loss("vicrg")
    with pytest.raises(
        ValueError, match="available: barlow, intl, simclr, st, vcreg, vicreg, wmse"
    ):
        loss_function("byol")


def test_unknown_hyperparameter_is_named_with_a_suggestion() -> None:
    """An unknown keyword is a ValueError naming it, a close match and the valid keys; the
    positional embeddings are not hyper-parameters."""
    with pytest.raises(ValueError, match=r"'sim_coef' \(did you mean 'sim_coeff'\?\)"):
        build_loss("vicreg", sim_coef=1.0)
    with pytest.raises(ValueError, match=r"'lambda_' \(did you mean 'lambd'\?\).*expected: lambd"):
        build_loss("barlow", lambda_=0.1)
    with pytest.raises(ValueError, match="'z1'"):
        build_loss("simclr", z1=None)


def test_importing_the_registry_does_not_import_torch() -> None:
    """`import sslctl.methods`, listing, facts and hyper-parameters leave torch unimported."""
    code = (
        "import sys, sslctl.methods as m; "
        "[(m.facts(n), m.hyperparameters(n)) for n in m.available()]; "
        "assert 'torch' not in sys.modules, 'torch imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
