"""Checks beyond the schema's types: values a recipe can hold but that cannot work.

* :func:`check_plain` (before validation, over the raw data): control characters in keys
  and text (they reach terminals, MLflow names and SLURM scripts), integers too large for
  any field (they overflow torch's int64 seeds and shapes), text longer than a path.
* :func:`check_size` (after validation): the model's parameter count and training
  memory, estimated from the recipe alone, against :data:`MAX_PARAMS`.
* :func:`check_device_here`: ``runtime.device: cuda`` on a machine without CUDA, where a
  run is about to start (not where a recipe is only submitted to a GPU cluster).
"""

from __future__ import annotations

import itertools
from typing import Any

from sslctl.errors import RecipeError

MAX_INT = 2**32 - 1  # seeds, sizes, epochs: every integer field fits far below this
MAX_TEXT = 4096
MAX_PARAMS = 2_000_000_000  # 8 GB of fp32 weights, 32 GB with gradients and Adam's state
# feature dimension and parameter count (without the fc head) of the torchvision backbones
TORCHVISION = {"resnet18": (512, 11_168_832), "resnet50": (2048, 23_500_352)}


def _has_control(text: str) -> bool:
    return any(ord(c) < 32 or 127 <= ord(c) < 160 for c in text)


def check_plain(data: Any, source: str, path: str = "") -> None:
    """Refuse control characters, over-long text and over-large integers anywhere in
    ``data``, naming the field path."""
    problems: list[str] = []
    _walk(data, path, problems)
    if problems:
        raise RecipeError(source, problems[:20])


def _walk(value: Any, path: str, problems: list[str]) -> None:
    where = path or "recipe"
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(key, str) and _has_control(key):
                problems.append(f"{where}: key {key!r} contains a control character")
                continue
            _walk(item, f"{path}.{key}" if path else str(key), problems)
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            _walk(item, f"{path}[{i}]", problems)
    elif isinstance(value, str):
        if _has_control(value):
            problems.append(f"{where}: got {value[:80]!r}; control characters are not allowed")
        elif len(value) > MAX_TEXT:
            problems.append(f"{where}: got {len(value)} characters; at most {MAX_TEXT}")
    elif isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_INT:
        problems.append(f"{where}: got {str(value)[:24]}...; at most {MAX_INT}")


def backbone_size(name: str, width: int, in_channels: int) -> tuple[int, int]:
    """``(feature dim, parameters)`` of a backbone (see ``sslctl.models.backbones``):
    resnet-mini counts its convolutions and batch norms; torchvision ResNets are fixed
    apart from the stem's input channels."""
    if name in TORCHVISION:
        dim, params = TORCHVISION[name]
        return dim, params + (in_channels - 3) * 64 * 9
    params = in_channels * width * 9 + 2 * width
    in_ch = width
    for i, stride in enumerate((1, 2, 2)):
        out = width * 2**i
        params += in_ch * out * 9 + out * out * 9 + 4 * out  # first block
        if stride != 1 or in_ch != out:
            params += in_ch * out + 2 * out  # projection shortcut
        params += 2 * out * out * 9 + 4 * out  # second block
        in_ch = out
    return in_ch, params


def projector_size(in_dim: int, depth: int, width: int, out_dim: int) -> int:
    """Parameters of the MLP projector (``sslctl.models.projector``), biases included."""
    if depth == 0:
        return 0
    dims = [in_dim, *([width] * (depth - 1)), out_dim]
    return sum(a * b + 2 * b for a, b in itertools.pairwise(dims))


def model_size(recipe: Any, in_channels: int = 3) -> tuple[int, int]:
    """``(parameters, bytes)``: the estimate of the model and of its training memory
    (fp32 weights, gradients and two optimiser moments, plus the projector's activations
    for one batch of two views)."""
    dim, backbone = backbone_size(recipe.model.backbone, recipe.model.width, in_channels)
    p = recipe.projector
    params = backbone + projector_size(dim, p.depth, p.width, p.out_dim)
    widest = max(dim, p.width if p.depth > 1 else 0, p.out_dim if p.depth else 0)
    activations = 2 * recipe.optim.batch_size * widest * max(p.depth, 1) * 3
    return params, 4 * (4 * params + activations)


def check_size(recipe: Any, source: str) -> None:
    """Refuse a model too large to train anywhere, with the estimate."""
    params, nbytes = model_size(recipe)
    if params > MAX_PARAMS:
        raise RecipeError(
            source,
            [
                f"model.width {recipe.model.width}, projector {recipe.projector.depth} x "
                f"{recipe.projector.width} -> {recipe.projector.out_dim}: about "
                f"{params / 1e9:,.1f} billion parameters, {nbytes / 2**30:,.0f} GiB to train; "
                f"at most {MAX_PARAMS / 1e9:.0f} billion parameters"
            ],
        )


def check_device_here(recipe: Any, source: str) -> None:
    """Refuse ``runtime.device: cuda`` (or mps) when this machine has none and the recipe
    runs here; called where a run starts locally, not where a recipe is only submitted."""
    if recipe.runtime.device == "cuda":
        import torch

        if not torch.cuda.is_available():
            raise RecipeError(
                source,
                [
                    "runtime.device: got 'cuda' but this machine has no usable CUDA device; "
                    "expected auto, cpu, or launcher.kind: slurm for a GPU cluster"
                ],
            )
    if recipe.runtime.device == "mps":
        import torch

        if not torch.backends.mps.is_available():
            raise RecipeError(
                source, ["runtime.device: got 'mps' but this machine has no MPS device"]
            )
