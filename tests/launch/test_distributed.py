"""DDP equivalence without SLURM: two gloo processes on this CPU, float64.

The property: with each rank holding its half of the global batch, embeddings gathered by
:func:`sslctl.distributed.gather` and DistributedDataParallel averaging the gradients,
the loss and every parameter gradient equal those of one process computing the loss on
the whole global batch. BatchNorm is per rank on CPU (SyncBatchNorm is CUDA-only), so the
single-process reference normalises each rank's half separately (forward per half,
concatenate), which is exactly what the ranks compute; everything else is the same
arithmetic, and float64 makes the comparison tight (1e-9)."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest
import torch
from torch import nn

from sslctl.distributed import DistContext, current, gather
from sslctl.methods import build_loss

WORLD = 2
METHODS = ("vicreg", "barlow", "intl")


def _model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Linear(12, 32), nn.BatchNorm1d(32), nn.ReLU(), nn.Linear(32, 16)
    ).double()


def _batch() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    x1 = torch.randn(64, 12, generator=g, dtype=torch.float64)
    return x1, x1 + 0.3 * torch.randn(64, 12, generator=g, dtype=torch.float64)


def _reference(method: str) -> tuple[float, dict[str, torch.Tensor]]:
    model = _model()
    x1, x2 = _batch()
    z1 = torch.cat([model(c) for c in x1.chunk(WORLD)])
    z2 = torch.cat([model(c) for c in x2.chunk(WORLD)])
    loss = build_loss(method)(z1, z2)["loss"]
    loss.backward()
    return loss.item(), {n: p.grad.clone() for n, p in model.named_parameters()}


def _worker(rank: int, port: int, out: str) -> None:
    os.environ.update(
        MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(WORLD)
    )
    torch.set_num_threads(1)
    from torch.nn.parallel import DistributedDataParallel

    from sslctl.distributed import init

    ctx = init(backend="gloo")
    try:
        results = {}
        for method in METHODS:
            model = _model()
            ddp = DistributedDataParallel(model)
            x1, x2 = (x.chunk(WORLD)[rank] for x in _batch())
            z1 = gather(ddp(x1))
            z2 = gather(ddp(x2))
            loss = build_loss(method)(z1, z2)["loss"]
            loss.backward()
            results[method] = (
                loss.item(),
                {n: p.grad.clone() for n, p in model.named_parameters()},
                z1.shape[0],
            )
        torch.save(results, Path(out) / f"rank{rank}.pt")
    finally:
        ctx.cleanup()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_ddp_gradients_equal_the_global_batch_gradients(tmp_path: Path) -> None:
    """Loss and gradients of 2-rank DDP + gather equal the single-process global-batch
    loss and gradients (per-rank BatchNorm in both), for VICReg, Barlow Twins and INTL."""
    import torch.multiprocessing as mp

    mp.spawn(_worker, args=(_free_port(), str(tmp_path)), nprocs=WORLD, join=True)
    ranks = [torch.load(tmp_path / f"rank{r}.pt") for r in range(WORLD)]
    for method in METHODS:
        ref_loss, ref_grads = _reference(method)
        for loss, grads, gathered in (r[method] for r in ranks):
            assert gathered == 64
            assert loss == pytest.approx(ref_loss, rel=1e-12)
            for name, ref in ref_grads.items():
                torch.testing.assert_close(grads[name], ref, rtol=1e-9, atol=1e-12)


def test_single_process_context_is_a_no_op() -> None:
    """Without a process group gather is the identity and the context is rank 0 of 1."""
    x = torch.randn(4, 3)
    assert current() is None or not current().enabled
    assert gather(x) is x
    ctx = DistContext()
    assert ctx.is_main and not ctx.enabled
    ctx.cleanup()


def test_torchrun_variables_give_the_context(monkeypatch: pytest.MonkeyPatch) -> None:
    """WORLD_SIZE=1 from torchrun (or nothing at all) gives a one-process context without
    creating a process group; SLURM variables are only read inside a job step."""
    from sslctl.distributed import env_from_slurm, init

    monkeypatch.delenv("SLURM_JOB_ID", raising=False)
    monkeypatch.setenv("WORLD_SIZE", "1")
    assert env_from_slurm() is None
    ctx = init()
    assert (ctx.rank, ctx.world_size, ctx.backend) == (0, 1, None)
    ctx.cleanup()
    assert current() is None
