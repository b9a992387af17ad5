"""Distributed data parallel (DDP) context: who am I, how many are we, how to gather.

The context comes from the environment: under SLURM from submitit's
:class:`submitit.helpers.TorchDistributedEnvironment` (master address from the node list,
port from the job id, rank from ``SLURM_PROCID``), otherwise from the torchrun variables
(``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR``, ``MASTER_PORT``). NCCL is used on
GPUs and gloo on CPUs. A single process (no such variables) gets a context with
``world_size == 1`` and no process group, so single-process code paths stay unchanged.

The active context is kept in this module (:func:`current`), so the training loop can
ask for it without every caller passing it along.

:class:`GatherLayer` is an all-gather that keeps gradients for the local shard, the
idea of the official VICReg ``FullGatherLayer``: forward concatenates every rank's
tensor; backward sums the incoming gradients over ranks (each rank computes the same
loss on the same gathered batch) and returns the slice that belongs to this rank. With
DDP's gradient *averaging* this gives exactly the gradient of the loss on the global
batch.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

_CURRENT: DistContext | None = None


@dataclass
class DistContext:
    """One process's place in a DDP job."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    backend: str | None = None  # "nccl", "gloo", or None without a process group
    master: str = ""

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def barrier(self) -> None:
        if self.enabled:
            import torch.distributed as dist

            dist.barrier()

    def cleanup(self) -> None:
        """Destroy the process group (safe to call twice) and forget the context.

        Garbage is collected first: a DistributedDataParallel model left in a reference
        cycle keeps the gloo process group alive past ``destroy_process_group``, and a gloo
        group destroyed during interpreter shutdown aborts the process ("terminate called
        without an active exception"), which SLURM reports as a failed task."""
        global _CURRENT
        if self.enabled:
            import gc

            import torch.distributed as dist

            gc.collect()
            if dist.is_initialized():
                dist.destroy_process_group()
        if _CURRENT is self:
            _CURRENT = None


def current() -> DistContext | None:
    """The context set up by :func:`init` in this process, if any."""
    return _CURRENT


def env_from_slurm() -> dict[str, str] | None:
    """torchrun-style variables for this SLURM task (submitit's helper), or None when not
    running inside a SLURM job step."""
    if "SLURM_JOB_ID" not in os.environ or "SLURM_PROCID" not in os.environ:
        return None
    from submitit.helpers import TorchDistributedEnvironment

    env = TorchDistributedEnvironment()
    return {
        "MASTER_ADDR": env.master_addr,
        "MASTER_PORT": str(env.master_port),
        "RANK": str(env.rank),
        "WORLD_SIZE": str(env.world_size),
        "LOCAL_RANK": str(env.local_rank),
        "LOCAL_WORLD_SIZE": str(env.local_world_size),
    }


def init(backend: str | None = None, timeout_s: float = 600.0) -> DistContext:
    """Set up the process group from the environment (SLURM first, then torchrun).

    ``backend`` defaults to NCCL when CUDA is available and gloo otherwise. On GPUs each
    process uses ``cuda:LOCAL_RANK``. Returns a one-process context when the environment
    names a single process.
    """
    global _CURRENT
    variables = env_from_slurm()
    if variables is not None:
        os.environ.update(variables)
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    if world <= 1:
        _CURRENT = DistContext()
        return _CURRENT
    import datetime

    import torch
    import torch.distributed as dist

    if backend is None:
        backend = "nccl" if torch.cuda.is_available() else "gloo"
    if backend == "nccl":
        torch.cuda.set_device(local % max(torch.cuda.device_count(), 1))
    if not dist.is_initialized():
        dist.init_process_group(
            backend,
            init_method="env://",
            rank=rank,
            world_size=world,
            timeout=datetime.timedelta(seconds=timeout_s),
        )
    master = f"{os.environ.get('MASTER_ADDR', '')}:{os.environ.get('MASTER_PORT', '')}"
    _CURRENT = DistContext(rank, world, local, backend, master)
    return _CURRENT


def gather(tensor: Any) -> Any:
    """All-gather ``tensor`` along dim 0 from every rank, in rank order, keeping the
    gradient path to this rank's shard (identity without a process group)."""
    ctx = current()
    if ctx is None or not ctx.enabled:
        return tensor
    return _gather_layer().apply(tensor)


def all_reduce_mean(values: dict[str, float]) -> dict[str, float]:
    """Mean over ranks of a dict of floats with the same keys on every rank."""
    ctx = current()
    if ctx is None or not ctx.enabled or not values:
        return values
    import torch
    import torch.distributed as dist

    keys = sorted(values)
    device = torch.device("cuda") if ctx.backend == "nccl" else torch.device("cpu")
    t = torch.tensor([values[k] for k in keys], dtype=torch.float64, device=device)
    dist.all_reduce(t)
    t /= ctx.world_size
    return dict(zip(keys, t.tolist(), strict=True))


_LAYER: Any = None


def _gather_layer() -> Any:
    """The autograd function, defined on first use so importing this module stays light."""
    global _LAYER
    if _LAYER is not None:
        return _LAYER
    import torch
    import torch.distributed as dist

    class GatherLayer(torch.autograd.Function):
        """Forward: concatenation of every rank's tensor. Backward: the gradients of the
        (identical) loss on every rank, summed, sliced to this rank's shard."""

        @staticmethod
        def forward(ctx: Any, x: torch.Tensor) -> torch.Tensor:
            x = x.contiguous()
            parts = [torch.empty_like(x) for _ in range(dist.get_world_size())]
            dist.all_gather(parts, x)
            ctx.size = x.shape[0]
            return torch.cat(parts, dim=0)

        @staticmethod
        def backward(ctx: Any, grad: torch.Tensor) -> torch.Tensor:
            grad = grad.contiguous()
            dist.all_reduce(grad)
            start = dist.get_rank() * ctx.size
            return grad[start : start + ctx.size]

    _LAYER = GatherLayer
    return _LAYER
