"""Mid-epoch checkpoints (``runtime.checkpoint_steps``) on the in-memory path: a run
interrupted inside an epoch resumes at the next batch and ends bit-identical to an
uninterrupted run; without checkpoint_steps nothing changes."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from sslctl.data.datasets import load_dataset
from sslctl.recipe import load_recipe
from sslctl.train import Pretrainer, SilentReporter
from tests.conftest import RECIPES

TINY = [
    "model.width=4",
    "projector.depth=2",
    "projector.width=32",
    "projector.out_dim=16",
    "optim.batch_size=500",
    "optim.epochs=2",
    "optim.warmup_epochs=1",
    "runtime.checkpoint_steps=2",
    "runtime.channels_last=false",
]


class _StopAfter(SilentReporter):
    def __init__(self, steps: int):
        self.left = steps

    def step(self) -> None:
        self.left -= 1
        if self.left == 0:
            raise KeyboardInterrupt


def _trainer(path: Path) -> Pretrainer:
    torch.manual_seed(0)
    recipe = load_recipe(RECIPES / "vicreg.yaml", TINY)
    return Pretrainer(recipe, load_dataset("mnist5k"), torch.device("cpu"), None, path)


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_interrupted_mid_epoch_resumes_at_the_next_batch(tmp_path: Path) -> None:
    torch.set_num_threads(1)
    reference = _trainer(tmp_path / "ref.pt")
    reference.fit()
    first = _trainer(tmp_path / "ckpt.pt")
    with pytest.raises(KeyboardInterrupt):
        first.fit(_StopAfter(5))  # step 5 of 8; the last checkpoint is at step 4
    state = torch.load(tmp_path / "ckpt.pt", weights_only=True)
    assert (state["epoch"], state["step"]) == (0, 4)
    resumed = _trainer(tmp_path / "ckpt.pt")
    assert resumed.resume() and (resumed.epoch, resumed.step) == (0, 4)
    resumed.fit()
    assert [h["loss"] for h in resumed.history] == [h["loss"] for h in reference.history]
    for (name, a), b in zip(
        reference.model.state_dict().items(), resumed.model.state_dict().values(), strict=True
    ):
        assert torch.equal(a, b), name
