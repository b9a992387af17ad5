"""The MLP projector whose geometry (depth, width, output dimension) the papers study.

``depth`` counts linear layers: 0 is no projector (identity), 1 a single linear map,
n > 1 is (n - 1) hidden blocks ``Linear -> [BatchNorm] -> activation`` of ``width``
units followed by a final ``Linear`` to ``out_dim``, as in VICReg's 8192-8192-8192 and
Barlow Twins' projectors. ``frozen`` keeps the random initialisation (the VCReg paper's
random-projector experiments).
"""

from __future__ import annotations

from torch import nn

ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "gelu": nn.GELU,
    "silu": nn.SiLU,
    "tanh": nn.Tanh,
    "leaky_relu": nn.LeakyReLU,
}


def build_projector(
    in_dim: int,
    *,
    depth: int,
    width: int,
    out_dim: int,
    batchnorm: bool = True,
    activation: str = "relu",
    last_bias: bool = False,
    frozen: bool = False,
) -> tuple[nn.Module, int]:
    """Return ``(projector, embedding_dim)``."""
    if depth < 0:
        raise ValueError(f"projector depth must be >= 0, got {depth}")
    if activation not in ACTIVATIONS:
        raise ValueError(f"unknown activation {activation!r}; expected one of {list(ACTIVATIONS)}")
    if depth == 0:
        return nn.Identity(), in_dim
    layers: list[nn.Module] = []
    dim = in_dim
    for _ in range(depth - 1):
        layers.append(nn.Linear(dim, width, bias=not batchnorm))
        if batchnorm:
            layers.append(nn.BatchNorm1d(width))
        layers.append(ACTIVATIONS[activation]())
        dim = width
    layers.append(nn.Linear(dim, out_dim, bias=last_bias))
    projector = nn.Sequential(*layers)
    if frozen:
        projector.requires_grad_(False)
    return projector, out_dim
