"""Optimisers and the learning-rate schedule used for pretraining."""

from __future__ import annotations

import math

import torch
from torch import nn

from sslctl.recipe.schema import OptimConfig


class LARS(torch.optim.Optimizer):
    """LARS (You et al., 2017) as in facebookresearch/vicreg and barlowtwins: SGD with
    momentum whose update is scaled by the trust ratio ``eta * ||w|| / ||g||``; biases and
    batch-norm parameters (1-d tensors) get neither weight decay nor the trust ratio."""

    def __init__(
        self,
        params,
        lr: float,
        weight_decay: float = 0.0,
        momentum: float = 0.9,
        eta: float = 0.001,
    ) -> None:
        super().__init__(params, dict(lr=lr, weight_decay=weight_decay, momentum=momentum, eta=eta))

    @torch.no_grad()
    def step(self, closure=None):  # type: ignore[override]
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                grad = p.grad
                if p.ndim > 1:
                    grad = grad.add(p, alpha=group["weight_decay"])
                    w_norm, g_norm = torch.norm(p), torch.norm(grad)
                    trust = torch.where(
                        (w_norm > 0) & (g_norm > 0),
                        group["eta"] * w_norm / g_norm,
                        torch.ones_like(w_norm),
                    )
                    grad = grad.mul(trust)
                state = self.state[p]
                if "mu" not in state:
                    state["mu"] = torch.zeros_like(p)
                mu = state["mu"].mul_(group["momentum"]).add_(grad)
                p.add_(mu, alpha=-group["lr"])


def base_lr(cfg: OptimConfig) -> float:
    """The peak learning rate (``lr * batch_size / 256`` when ``scale_lr``)."""
    return cfg.lr * cfg.batch_size / 256 if cfg.scale_lr else cfg.lr


def param_groups(model: nn.Module, projector_lr_scale: float = 1.0) -> list[dict]:
    """The trainable parameters as optimiser groups, each with its ``lr_scale`` (the
    factor on the scheduled learning rate): the projector's (``model.projector``, when
    the model has one) get ``projector_lr_scale``, everything else 1."""
    projector = getattr(model, "projector", None)
    ids = {id(p) for p in projector.parameters()} if projector is not None else set()
    trainable = [p for p in model.parameters() if p.requires_grad]
    groups = [
        {"params": [p for p in trainable if id(p) not in ids], "lr_scale": 1.0},
        {"params": [p for p in trainable if id(p) in ids], "lr_scale": projector_lr_scale},
    ]
    return [g for g in groups if g["params"]]


def build_optimizer(
    cfg: OptimConfig, model: nn.Module, projector_lr_scale: float = 1.0
) -> torch.optim.Optimizer:
    """The recipe's optimiser over the trainable parameters (groups: :func:`param_groups`;
    the initial learning rate of each is the peak times its ``lr_scale``)."""
    params = param_groups(model, projector_lr_scale)
    for group in params:
        group["lr"] = base_lr(cfg) * group["lr_scale"]
    lr = base_lr(cfg)
    if cfg.name == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=cfg.weight_decay)
    if cfg.name == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=cfg.weight_decay)
    if cfg.name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    return LARS(params, lr=lr, weight_decay=cfg.weight_decay, momentum=cfg.momentum)


def lr_at(step: int, total_steps: int, warmup_steps: int, peak: float) -> float:
    """Linear warm-up to ``peak`` then cosine decay to zero (per optimisation step)."""
    if step < warmup_steps:
        return peak * (step + 1) / warmup_steps
    progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
    return peak * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))
