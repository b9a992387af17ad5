"""External checkpoints: a backbone's state dict from elsewhere (torchvision, solo-learn,
another sslctl store) evaluated with sslctl's protocols into a run of its own, so that
published weights sit in the same tables as sslctl's runs.

Accepted layouts (``torch.load(weights_only=True)``): a bare state dict; Lightning's
``{"state_dict": ...}`` (solo-learn), whose ``backbone.`` keys are the backbone; sslctl's
own ``{"backbone": ..., "projector": ...}``; ``module.`` (DataParallel) prefixes are
stripped, and a torchvision classifier (``fc.*``) is dropped (sslctl's backbones end at
the pooled features). The weights must fit the recipe's ``model`` block exactly.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import torch
from torch import nn

from sslctl.errors import SslctlError
from sslctl.recipe import Recipe, flatten, to_dict, to_yaml
from sslctl.tracking import Tracker, git_state
from sslctl.vocabulary import StageState, Tag, stage_tag


def state_dict_of(obj: Any) -> dict[str, torch.Tensor]:
    """The backbone's tensors from the accepted checkpoint layouts, prefixes stripped."""
    if isinstance(obj, dict) and isinstance(obj.get("state_dict"), dict):
        obj = obj["state_dict"]
    if isinstance(obj, dict) and isinstance(obj.get("backbone"), dict):
        obj = obj["backbone"]
    if not isinstance(obj, dict):
        raise ValueError(f"expected a state dict (a mapping of tensors), got {type(obj).__name__}")
    state = {k: v for k, v in obj.items() if isinstance(v, torch.Tensor)}
    state = {k.removeprefix("module."): v for k, v in state.items()}
    if any(k.startswith("backbone.") for k in state):
        state = {k[9:]: v for k, v in state.items() if k.startswith("backbone.")}
    return {k: v for k, v in state.items() if not k.startswith("fc.")}


def load_backbone(path: Path, recipe: Recipe, in_channels: int) -> tuple[nn.Module, int]:
    """The recipe's backbone with the weights of ``path``; an error names the file and
    every mismatch (missing and unexpected keys, shapes) when they do not fit."""
    from sslctl.models.backbones import build_backbone

    if not path.is_file():
        raise SslctlError(f"checkpoint {path}: file not found")
    try:
        state = state_dict_of(torch.load(path, map_location="cpu", weights_only=True))
    except Exception as err:  # unpickling errors come in many types
        raise SslctlError(
            f"checkpoint {path}: not a state dict readable with torch.load(weights_only=True): "
            f"{err}"
        ) from None
    m = recipe.model
    backbone, dim = build_backbone(
        m.backbone, in_channels=in_channels, width=m.width, cifar_stem=m.cifar_stem
    )
    problems = mismatches(backbone.state_dict(), state)
    if problems:
        raise SslctlError(
            f"checkpoint {path}: does not fit model.backbone {m.backbone!r} (width {m.width}, "
            f"cifar_stem {m.cifar_stem}, {in_channels} input channel(s) of "
            f"{recipe.data.name}): " + "; ".join(problems)
        )
    backbone.load_state_dict(state)
    return backbone, dim


def mismatches(expected: dict[str, torch.Tensor], got: dict[str, torch.Tensor]) -> list[str]:
    """Missing keys, unexpected keys and shape differences, a few of each."""

    def few(keys: list[str]) -> str:
        return ", ".join(keys[:4]) + (f" (+{len(keys) - 4} more)" if len(keys) > 4 else "")

    missing = [k for k in expected if k not in got]
    unexpected = [k for k in got if k not in expected]
    shapes = [
        f"{k}: got {tuple(got[k].shape)}, expected {tuple(v.shape)}"
        for k, v in expected.items()
        if k in got and got[k].shape != v.shape
    ]
    out = []
    if missing:
        out.append(f"missing keys {few(missing)}")
    if unexpected:
        out.append(f"unexpected keys {few(unexpected)}")
    if shapes:
        out.append(f"shape mismatch {few(shapes)}")
    return out


def external_recipe(recipe: Recipe) -> Recipe:
    """The recipe as evaluated for a bare backbone: no projector, backbone features only."""
    out = recipe.model_copy(deep=True)
    out.eval.linear.on = ["backbone"]
    out.eval.independence.on = ["backbone"]
    out.projector.frozen = False
    out.projector.depth = 0
    return out


def external_hash(path: Path, recipe: Recipe) -> str:
    """The identity of an external pretraining: the file's bytes, the backbone block and
    the data it is evaluated on."""
    digest = hashlib.sha256(path.read_bytes())
    ident = {"model": to_dict(recipe)["model"], "data": to_dict(recipe)["data"]}
    digest.update(json.dumps(ident, sort_keys=True).encode())
    return "ext-" + digest.hexdigest()[:12]


def external_run(
    tracker: Tracker, recipe: Recipe, path: Path, rhash: str
) -> tuple[str, dict[str, str]]:
    """The run of this checkpoint (found by its hash), or a new one: recipe fields of the
    data, model and evaluation as params, ``method.name`` ``external-<file stem>``."""
    found = tracker.find(recipe.experiment, rhash)
    if found:
        return found[0].run_id, found[0].tags
    from sslctl import __version__

    name = f"external-{path.stem}"
    data = to_dict(recipe)
    params = flatten({k: data[k] for k in ("seed", "data", "model", "eval")})
    params.update({"method.name": name, "checkpoint": path.name})
    tags = {
        Tag.RECIPE_HASH: rhash,
        Tag.RECIPE: str(path),
        Tag.CHECKPOINT: str(path.resolve()),
        Tag.VERSION: __version__,
        Tag.METHOD: name,
        Tag.SEED: str(recipe.seed),
        stage_tag("pretrain"): StageState.EXTERNAL,
        **git_state(),
    }
    run_id = tracker.create(tracker.experiment_id(recipe.experiment), f"{name}-{rhash[4:10]}", tags)
    tracker.log_params(run_id, params)
    tracker.log_text(run_id, to_yaml(recipe), "recipe.yaml")
    return run_id, {}
