"""2 DDP ranks (gloo) x 2 DataLoader workers each, pretraining on a packed set: within an
epoch every sample is used exactly once across ranks, and the two ranks' batches are
exactly the single-process global batches, split in two."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest
import torch

WORLD = 2
BATCH = 12  # 2 steps of 24 images per epoch, 6 images per rank


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rank(rank: int, port: int, packed: str, out: str) -> None:
    os.environ.update(
        MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(WORLD)
    )
    torch.set_num_threads(1)
    from sslctl.data.datasets import load_dataset
    from sslctl.distributed import init
    from sslctl.train import Pretrainer
    from tests.data.stream.child import logging_batches, tiny_recipe

    ctx = init(backend="gloo")
    try:
        recipe = tiny_recipe(Path(packed), batch_size=BATCH)
        dataset = load_dataset(recipe.data.name, image_size=recipe.data.image_size)
        trainer = Pretrainer(
            recipe, dataset, torch.device("cpu"), None, Path(out) / f"ckpt{rank}.pt"
        )
        assert trainer.feeder.workers == 2 and trainer.feeder.world == WORLD
        logging_batches(trainer, Path(out) / f"rank{rank}.log", 0.0)
        trainer.fit()
    finally:
        ctx.cleanup()


def _log(path: Path) -> dict[tuple[int, int], list[int]]:
    rows = [line.split() for line in path.read_text().splitlines()]
    return {(int(r[0]), int(r[1])): [int(v) for v in r[2:]] for r in rows}


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_two_ranks_two_workers_use_every_sample_once(packed: Path, tmp_path: Path) -> None:
    import torch.multiprocessing as mp

    from sslctl.data.stream.feed import StreamFeeder

    mp.spawn(_rank, args=(_free_port(), str(packed), str(tmp_path)), nprocs=WORLD, join=True)
    logs = [_log(tmp_path / f"rank{r}.log") for r in range(WORLD)]
    single = StreamFeeder(packed / "train", seed=0, size=32, workers=0)
    for epoch in (0, 1):
        used = [i for log in logs for (e, _), ids in log.items() if e == epoch for i in ids]
        assert sorted(used) == list(range(24))  # 24 train images: each once
        for step, key in enumerate(single.keys(epoch, BATCH, 0, 24 // BATCH)):
            assert logs[0][(epoch, step)] + logs[1][(epoch, step)] == list(key[1])
