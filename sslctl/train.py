"""Pretraining: two batched-augmented views, backbone + projector, the method's loss.

The loop is meant to be read in one sitting (like facebookresearch/vicreg's
``main_vicreg.py``). State that a resumed run needs (weights, optimiser, augmentation RNG,
epoch, history) is checkpointed atomically after every ``checkpoint_every`` epochs.

Under DDP (:mod:`sslctl.distributed`, one process per GPU or CPU task) every rank draws the
same seeded permutation and the same augmentation random numbers (same generator seed
and state on every rank), augments the whole global batch and keeps its own contiguous
slice, so the views a rank sees are exactly the ones a single process would see for
those images. The model is wrapped in DistributedDataParallel; the embeddings are
all-gathered before the loss for the methods whose official code computes the loss on
the global batch (:data:`GATHERED`); BatchNorm is synchronised (SyncBatchNorm) on CUDA
only: PyTorch's SyncBatchNorm has no CPU implementation, so CPU (gloo) jobs normalise
each rank's slice with its own statistics. Only rank 0 writes checkpoints.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

import torch
from torch import nn

from sslctl.data.augment import BatchAugment
from sslctl.data.datasets import Dataset
from sslctl.data.feed import BatchFeeder
from sslctl.distributed import all_reduce_mean, current, gather
from sslctl.errors import SslctlError
from sslctl.methods import build_loss
from sslctl.models.backbones import build_backbone
from sslctl.models.projector import build_projector
from sslctl.optim import base_lr, build_optimizer, lr_at
from sslctl.recipe.schema import Recipe
from sslctl.runtime import atomic_save, autocast, load_checkpoint

# Methods whose official code computes the loss on embeddings gathered from every GPU
# (VICReg's FullGatherLayer, Barlow Twins' all-reduced cross-correlation, INTL, SimCLR's
# cross-replica negatives; VCReg and the spectral transformation follow VICReg/INTL).
# W-MSE (htdt/self-supervised) whitens each GPU's batch separately.
GATHERED = frozenset({"vicreg", "vcreg", "barlow", "intl", "simclr", "st"})


class _TwoViews(nn.Module):
    """Both views in one forward call, so DistributedDataParallel sees one forward per
    backward (BatchNorm statistics stay per view, as in the single-process loop)."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, v1: torch.Tensor, v2: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.model(v1), self.model(v2)


class Diverged(SslctlError):
    """The loss became NaN or infinite."""


class SSLModel(nn.Module):
    """Backbone followed by projector; ``forward`` returns the embedding the loss sees."""

    def __init__(self, backbone: nn.Module, projector: nn.Module, feature_dim: int, embed_dim: int):
        super().__init__()
        self.backbone = backbone
        self.projector = projector
        self.feature_dim = feature_dim
        self.embed_dim = embed_dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.projector(self.backbone(x))


def build_model(recipe: Recipe, in_channels: int) -> SSLModel:
    """The recipe's backbone and projector (initialised from the current torch seed)."""
    m, p = recipe.model, recipe.projector
    backbone, feat_dim = build_backbone(
        m.backbone, in_channels=in_channels, width=m.width, cifar_stem=m.cifar_stem
    )
    projector, embed_dim = build_projector(
        feat_dim,
        depth=p.depth,
        width=p.width,
        out_dim=p.out_dim,
        batchnorm=p.batchnorm,
        activation=p.activation,
        last_bias=p.last_bias,
        frozen=p.frozen,
    )
    return SSLModel(backbone, projector, feat_dim, embed_dim)


def build_augment(recipe: Recipe, dataset: Dataset, generator: torch.Generator) -> BatchAugment:
    """The recipe's augmentation policy, one call per batch."""
    size = dataset.train.images.shape[-1]
    return BatchAugment(
        mean=dataset.mean,
        std=dataset.std,
        out_size=size,
        generator=generator,
        **recipe.augment.model_dump(),
    )


@dataclass
class EpochStats:
    """What one pretraining epoch reports."""

    epoch: int
    loss: float
    terms: dict[str, float]
    lr: float
    seconds: float
    images_per_s: float


class Reporter(Protocol):
    """Receives progress (the CLI draws bars; tests and workers may ignore it)."""

    def start(self, epochs: int, first_epoch: int, steps_per_epoch: int) -> None: ...
    def step(self) -> None: ...
    def epoch(self, stats: EpochStats) -> None: ...


class SilentReporter:
    def start(self, epochs: int, first_epoch: int, steps_per_epoch: int) -> None: ...
    def step(self) -> None: ...
    def epoch(self, stats: EpochStats) -> None: ...


@dataclass
class Pretrainer:
    """Owns the model, optimiser and augmentation state of one pretraining run."""

    recipe: Recipe
    dataset: Dataset
    device: torch.device
    dtype: torch.dtype | None
    checkpoint_path: Path
    model: SSLModel = field(init=False)
    epoch: int = field(init=False, default=0)
    history: list[dict[str, Any]] = field(init=False, default_factory=list)

    def __post_init__(self) -> None:
        self.model = build_model(self.recipe, self.dataset.train.images.shape[1]).to(self.device)
        if self.recipe.runtime.channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)
        self.dist = current()
        self.ddp: nn.Module | None = None
        if self.dist is not None and self.dist.enabled:
            if self.recipe.optim.batch_size % self.dist.world_size:
                raise SslctlError(
                    f"optim.batch_size: got {self.recipe.optim.batch_size}; expected a "
                    f"multiple of the {self.dist.world_size} DDP processes"
                )
            if self.device.type == "cuda":  # SyncBatchNorm has no CPU implementation
                self.model = nn.SyncBatchNorm.convert_sync_batchnorm(self.model)
        self.optimizer = build_optimizer(
            self.recipe.optim, self.model, self.recipe.projector.lr_scale
        )
        self.generator = torch.Generator(self.device).manual_seed(self.recipe.seed)
        self.augment = build_augment(self.recipe, self.dataset, self.generator)
        self.loss_fn = build_loss(self.recipe.method.name, **self.recipe.method.params())
        self.feeder = BatchFeeder(
            self.dataset.train.images, self.device, self.recipe.runtime.data_on_device
        )
        self.forward: Callable[[torch.Tensor], torch.Tensor] = self.model
        if self.recipe.runtime.compile:
            self.forward = torch.compile(self.model)

    @property
    def steps_per_epoch(self) -> int:
        return len(self.feeder) // self.recipe.optim.batch_size

    def resume(self) -> bool:
        """Load the last checkpoint if there is one; True when resumed."""
        state = load_checkpoint(self.checkpoint_path)
        if state is None:
            return False
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.generator.set_state(state["generator"].to("cpu"))
        self.epoch = int(state["epoch"])
        self.history = list(state["history"])
        return True

    def save(self) -> None:
        if self.dist is not None and not self.dist.is_main:
            return  # rank 0 writes the checkpoint; every rank holds the same state
        atomic_save(
            {
                "model": self.model.state_dict(),
                "optimizer": self.optimizer.state_dict(),
                "generator": self.generator.get_state(),
                "epoch": self.epoch,
                "history": self.history,
            },
            self.checkpoint_path,
        )

    def fit(
        self, reporter: Reporter | None = None, on_epoch: Callable[[EpochStats], None] | None = None
    ) -> list[dict[str, Any]]:
        """Train from the current epoch to ``optim.epochs``; returns the per-epoch history."""
        reporter = reporter or SilentReporter()
        cfg = self.recipe.optim
        reporter.start(cfg.epochs, self.epoch, self.steps_per_epoch)
        if self.epoch < cfg.epochs:
            self._wrap_ddp()
        while self.epoch < cfg.epochs:
            stats = self._train_epoch(reporter)
            self.epoch += 1
            self.history.append(asdict(stats))
            if on_epoch is not None:
                on_epoch(stats)
            if self.epoch % self.recipe.runtime.checkpoint_every == 0 or self.epoch == cfg.epochs:
                self.save()
            reporter.epoch(stats)
        return self.history

    def _wrap_ddp(self) -> None:
        """DistributedDataParallel around the model, made only when there is training left
        to do: its constructor is a collective, so every rank must reach it or none (all
        ranks decide from the same checkpoint)."""
        if self.ddp is not None or self.dist is None or not self.dist.enabled:
            return
        from torch.nn.parallel import DistributedDataParallel

        cuda = self.device.type == "cuda"
        ids = [self.device.index or torch.cuda.current_device()] if cuda else None
        self.ddp = DistributedDataParallel(_TwoViews(self.model), device_ids=ids)
        if self.recipe.runtime.compile:
            self.ddp = torch.compile(self.ddp)

    def _train_epoch(self, reporter: Reporter) -> EpochStats:
        cfg = self.recipe.optim
        steps = self.steps_per_epoch
        total, warmup = cfg.epochs * steps, cfg.warmup_epochs * steps
        order = torch.randperm(
            len(self.feeder),
            generator=torch.Generator().manual_seed(self.recipe.seed * 100_003 + self.epoch),
        )
        self.model.train()
        sums: dict[str, float] = {}
        start = time.perf_counter()
        lr = 0.0
        for i, batch in enumerate(self.feeder.batches(order, cfg.batch_size, steps)):
            lr = lr_at(self.epoch * steps + i, total, warmup, base_lr(cfg))
            for group in self.optimizer.param_groups:
                group["lr"] = lr * group.get("lr_scale", 1.0)
            terms = self._step(batch)
            for key, value in terms.items():
                sums[key] = sums.get(key, 0.0) + value
            reporter.step()
        seconds = time.perf_counter() - start
        means = all_reduce_mean({k: v / steps for k, v in sums.items()})
        return EpochStats(
            epoch=self.epoch + 1,
            loss=means.pop("loss"),
            terms=means,
            lr=lr,
            seconds=seconds,
            images_per_s=2 * steps * cfg.batch_size / seconds,
        )

    def _step(self, batch: torch.Tensor) -> dict[str, float]:
        views = [self.augment(batch), self.augment(batch)]
        if self.ddp is not None:  # this rank's slice of the global batch's views
            assert self.dist is not None
            size = len(batch) // self.dist.world_size
            views = [v[self.dist.rank * size : (self.dist.rank + 1) * size] for v in views]
        if self.recipe.runtime.channels_last:
            views = [v.contiguous(memory_format=torch.channels_last) for v in views]
        with autocast(self.device, self.dtype):
            if self.ddp is not None:
                z1, z2 = self.ddp(*views)
            else:
                z1, z2 = (self.forward(v) for v in views)
        z1, z2 = z1.float(), z2.float()
        if self.ddp is not None and self.recipe.method.name in GATHERED:
            z1, z2 = gather(z1), gather(z2)
        out = self.loss_fn(z1, z2)
        loss = out["loss"]
        if not math.isfinite(loss.item()):
            raise Diverged(
                f"pretraining diverged at epoch {self.epoch + 1}: loss is {loss.item()} "
                f"(method {self.recipe.method.name}, lr {self.optimizer.param_groups[0]['lr']:.3g})"
            )
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if self.recipe.optim.grad_clip:
            nn.utils.clip_grad_norm_(self.model.parameters(), self.recipe.optim.grad_clip)
        self.optimizer.step()
        return {k: float(v.detach()) for k, v in out.items()}
