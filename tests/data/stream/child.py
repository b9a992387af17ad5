"""A pretraining process on a packed dataset, for the resumption and DDP tests.

``python -m tests.data.stream.child PACKED WORKDIR [--sleep S]``: pretrains (resuming from
WORKDIR/checkpoint.pt if present), appends ``epoch step indices...`` per step to
WORKDIR/order.log, and writes the final weights and history to WORKDIR/final.pt.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import torch

from sslctl.recipe.schema import Recipe


def tiny_recipe(packed: Path, batch_size: int = 6, **runtime: Any) -> Recipe:
    """A seconds-long pretraining recipe on the packed set (32 px crops)."""
    return Recipe.model_validate(
        {
            "data": {"name": f"shards:{packed}", "image_size": 32, "workers": 2},
            "model": {"backbone": "resnet-mini", "width": 4},
            "projector": {"depth": 2, "width": 32, "out_dim": 16},
            "method": {"name": "vicreg"},
            "optim": {
                "name": "sgd",
                "lr": 0.01,
                "batch_size": batch_size,
                "epochs": 2,
                "warmup_epochs": 0,
            },
            "augment": {"jitter": 0.8, "blur": 0.5, "flip": 0.5},
            "runtime": {"device": "cpu", "precision": "fp32", "channels_last": False, **runtime},
        }
    )


def logging_batches(trainer: Any, log: Path, sleep: float) -> None:
    """Record each step's sample indices (and slow the steps down by ``sleep``)."""
    original = trainer._batches

    def batches(first: int, steps: int):
        for i, batch in enumerate(original(first, steps), first):
            with open(log, "a") as handle:
                handle.write(f"{trainer.epoch} {i} {' '.join(map(str, batch['index'].tolist()))}\n")
            time.sleep(sleep)
            yield batch

    trainer._batches = batches


def main() -> None:
    from sslctl.data.datasets import load_dataset
    from sslctl.train import Pretrainer

    packed, workdir = Path(sys.argv[1]), Path(sys.argv[2])
    sleep = float(sys.argv[4]) if len(sys.argv) > 4 else 0.0
    torch.set_num_threads(1)
    torch.manual_seed(0)
    recipe = tiny_recipe(packed, checkpoint_steps=1)
    dataset = load_dataset(recipe.data.name, image_size=recipe.data.image_size)
    trainer = Pretrainer(recipe, dataset, torch.device("cpu"), None, workdir / "checkpoint.pt")
    trainer.resume()
    logging_batches(trainer, workdir / "order.log", sleep)
    history = trainer.fit()
    torch.save({"model": trainer.model.state_dict(), "history": history}, workdir / "final.pt")


if __name__ == "__main__":
    main()
