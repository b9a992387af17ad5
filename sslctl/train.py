"""Pretraining: two batched-augmented views, backbone + projector, the method's loss.

The loop is meant to be read in one sitting (like facebookresearch/vicreg's
``main_vicreg.py``). State that a resumed run needs (weights, optimiser, augmentation RNG,
epoch, history) is checkpointed atomically after every ``checkpoint_every`` epochs and,
with ``runtime.checkpoint_steps``, inside an epoch too (the step reached and the partial
loss sums), so a killed run resumes at the next batch of the same epoch.

A streamed dataset (``shards:``, :mod:`sslctl.data.stream`) takes another feeder: DataLoader
workers decode each view's random resized crop, each rank loads only its share of the
global batch, and the device augmentation is seeded per (epoch, step, rank), so every
batch is a function of the seed and its position alone.

Under DDP (:mod:`sslctl.distributed`, one process per GPU or CPU task) every rank draws the
same seeded permutation and the same augmentation random numbers (same generator seed
and state on every rank), augments the whole global batch and keeps its own contiguous
slice, so the views a rank sees are exactly the ones a single process would see for
those images. The model is wrapped in DistributedDataParallel; the embeddings are
all-gathered before the loss for the methods whose official code computes the loss on
the global batch (``FACTS.gathers``, declared in each method's file); BatchNorm is
synchronised (SyncBatchNorm) on CUDA only: PyTorch's SyncBatchNorm has no CPU
implementation, so CPU (gloo) jobs normalise each rank's slice with its own statistics.
Only rank 0 writes checkpoints.
"""

from __future__ import annotations

import itertools
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
from sslctl.methods import build_loss, facts
from sslctl.models.backbones import build_backbone
from sslctl.models.projector import build_projector
from sslctl.optim import base_lr, build_optimizer, lr_at
from sslctl.recipe.schema import Recipe
from sslctl.runtime import atomic_save, autocast, load_checkpoint


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


def is_streamed(dataset: Any) -> bool:
    """A packed dataset read from its shards (:mod:`sslctl.data.stream.evalset`)."""
    return bool(getattr(dataset, "streamed", False))


def build_augment(recipe: Recipe, dataset: Dataset, generator: torch.Generator) -> BatchAugment:
    """The recipe's augmentation policy, one call per batch. Streamed data arrives already
    cropped (the workers took each view's random resized crop), so the device geometry is
    then the identity crop (plus flip, rotation, shear if the recipe asks)."""
    options = recipe.augment.model_dump()
    if is_streamed(dataset):
        size = dataset.image_size  # type: ignore[attr-defined]
        options.update(crop_scale=(1.0, 1.0), crop_ratio=(1.0, 1.0))
    else:
        size = dataset.train.images.shape[-1]
    return BatchAugment(
        mean=dataset.mean, std=dataset.std, out_size=size, generator=generator, **options
    )


def _stream_workers(requested: int | None) -> int:
    """``data.workers``, else the CPUs this process may use (SLURM's cpus-per-task), max 8."""
    import os

    return requested if requested is not None else min(8, len(os.sched_getaffinity(0)))


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
    step: int = field(init=False, default=0)  # steps done in the current epoch
    sums: dict[str, float] = field(init=False, default_factory=dict)  # their loss sums

    def __post_init__(self) -> None:
        self.streamed = is_streamed(self.dataset)
        channels = 3 if self.streamed else self.dataset.train.images.shape[1]
        self.model = build_model(self.recipe, channels).to(self.device)
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
        self.feeder = self._make_feeder()
        self.forward: Callable[[torch.Tensor], torch.Tensor] = self.model
        if self.recipe.runtime.compile:
            self.forward = torch.compile(self.model)

    def _make_feeder(self) -> Any:
        if not self.streamed:
            return BatchFeeder(
                self.dataset.train.images, self.device, self.recipe.runtime.data_on_device
            )
        from sslctl.data.stream.feed import StreamFeeder

        ddp = self.dist is not None and self.dist.enabled
        rank, world = (self.dist.rank, self.dist.world_size) if ddp else (0, 1)  # type: ignore[union-attr]
        return StreamFeeder(
            self.dataset.pretrain_dirs(),  # type: ignore[attr-defined]
            seed=self.recipe.seed,
            size=self.dataset.image_size,  # type: ignore[attr-defined]
            scale=self.recipe.augment.crop_scale,
            ratio=self.recipe.augment.crop_ratio,
            workers=_stream_workers(self.recipe.data.workers),
            rank=rank,
            world=world,
            device=self.device,
            decode_on_device=self.recipe.data.decode == "device",
        )

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
        self.step = int(state.get("step", 0))
        self.sums = dict(state.get("sums", {}))
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
                "step": self.step,
                "sums": self.sums,
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
        every = self.recipe.runtime.checkpoint_steps
        self.model.train()
        first, sums = self.step, self.sums
        start = time.perf_counter()
        lr = 0.0
        for i, batch in enumerate(self._batches(first, steps), first):
            lr = lr_at(self.epoch * steps + i, total, warmup, base_lr(cfg))
            for group in self.optimizer.param_groups:
                group["lr"] = lr * group.get("lr_scale", 1.0)
            terms = self._step(batch, i)
            for key, value in terms.items():
                sums[key] = sums.get(key, 0.0) + value
            self.step, self.sums = i + 1, sums
            if every and self.step % every == 0 and self.step < steps:
                self.save()  # mid-epoch: the next run resumes at batch self.step
            reporter.step()
        seconds = time.perf_counter() - start
        self.step, self.sums = 0, {}
        means = all_reduce_mean({k: v / steps for k, v in sums.items()})
        return EpochStats(
            epoch=self.epoch + 1,
            loss=means.pop("loss"),
            terms=means,
            lr=lr,
            seconds=seconds,
            images_per_s=2 * (steps - first) * cfg.batch_size / seconds,
        )

    def _batches(self, first: int, steps: int) -> Any:
        """Batches ``first .. steps - 1`` of the current epoch, in an order that is a
        function of the seed and the epoch only."""
        cfg = self.recipe.optim
        if self.streamed:
            return self.feeder.batches(self.epoch, cfg.batch_size, first, steps)
        order = torch.randperm(
            len(self.feeder),
            generator=torch.Generator().manual_seed(self.recipe.seed * 100_003 + self.epoch),
        )
        return itertools.islice(self.feeder.batches(order, cfg.batch_size, steps), first, None)

    def _views(self, batch: Any, step: int) -> list[torch.Tensor]:
        """The two augmented views of this rank's samples."""
        if self.streamed:
            from sslctl.data.stream.feed import step_seed

            rank = self.dist.rank if self.ddp is not None else 0  # type: ignore[union-attr]
            self.generator.manual_seed(step_seed(self.recipe.seed, self.epoch, step, rank))
            return [self.augment(batch["views"][:, 0]), self.augment(batch["views"][:, 1])]
        views = [self.augment(batch), self.augment(batch)]
        if self.ddp is not None:  # this rank's slice of the global batch's views
            assert self.dist is not None
            size = len(batch) // self.dist.world_size
            views = [v[self.dist.rank * size : (self.dist.rank + 1) * size] for v in views]
        return views

    def _step(self, batch: Any, step: int) -> dict[str, float]:
        views = self._views(batch, step)
        if self.recipe.runtime.channels_last:
            views = [v.contiguous(memory_format=torch.channels_last) for v in views]
        with autocast(self.device, self.dtype):
            if self.ddp is not None:
                z1, z2 = self.ddp(*views)
            else:
                z1, z2 = (self.forward(v) for v in views)
        z1, z2 = z1.float(), z2.float()
        if self.ddp is not None and facts(self.recipe.method.name).gathers:
            z1, z2 = gather(z1), gather(z2)
        out = self.loss_fn(z1, z2)
        loss = out["loss"]
        if not math.isfinite(loss.item()):
            finite_views = all(bool(torch.isfinite(v).all()) for v in views)
            raise Diverged(
                f"pretraining diverged at epoch {self.epoch + 1}: loss is {loss.item()} "
                f"(method {self.recipe.method.name}, lr {self.optimizer.param_groups[0]['lr']:.3g}"
                f"); {divergence_cause(finite_views, z1, z2)}"
            )
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if self.recipe.optim.grad_clip:
            nn.utils.clip_grad_norm_(self.model.parameters(), self.recipe.optim.grad_clip)
        self.optimizer.step()
        return {k: float(v.detach()) for k, v in out.items()}


def divergence_cause(finite_views: bool, z1: torch.Tensor, z2: torch.Tensor) -> str:
    """The likely cause of a non-finite loss, from where the non-finite values start."""
    if not finite_views:
        return (
            "the augmented views already hold non-finite values: an augment.* setting is "
            "out of range (see `sslctl validate`)"
        )
    if not (torch.isfinite(z1).all() and torch.isfinite(z2).all()):
        return "the embeddings are non-finite: lower optim.lr or set optim.grad_clip"
    return (
        "the loss of finite embeddings is non-finite: check the method's coefficients, "
        "or lower optim.lr"
    )
