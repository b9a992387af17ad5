"""The stages of one pipeline run, each logged to MLflow and tagged when done, so a
resumed run skips what is finished and continues pretraining from its checkpoint:

    setup_trainer  ->  pretrain  ->  evaluate (linear + OOD, diagnostics, baselines)

:class:`RunContext` is what the stages share; :func:`setup_trainer` is the one place a
:class:`~sslctl.train.Pretrainer` (model, optimiser, augmentation, checkpoint path) is
made, for the pipeline and for the other ranks of a multi-GPU job alike."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from sslctl.data.datasets import Dataset, ImageSet
from sslctl.errors import SslctlError
from sslctl.evals.diagnostics import held_out_features, spectrum_metrics, spectrum_of
from sslctl.evals.features import Progress
from sslctl.evaluate import EvalContext, load_weights, run_evaluations, spectrum_features
from sslctl.paths import CHECKPOINT, FINAL_WEIGHTS
from sslctl.recipe import Recipe
from sslctl.runtime import atomic_save, pick_device, pick_dtype, seed_everything, torch_threads
from sslctl.tracking import Tracker
from sslctl.train import EpochStats, Pretrainer, build_model
from sslctl.vocabulary import StageState, Tag, protocol_tag, stage_done, stage_tag


@dataclass
class RunContext:
    """What the stages of one pipeline run share. ``stages``: ``all``, ``pretrain`` (stop
    after pretraining) or ``evaluate`` (the evaluations of a pretrained run)."""

    recipe: Recipe
    dataset: Dataset
    ood_sets: dict[str, ImageSet]
    trainer: Pretrainer
    tracker: Tracker
    run_id: str
    workdir: Path
    done_tags: dict[str, str]
    stages: str = "all"
    say: Callable[[str], None] = print
    reporter: Any = None
    on_probe: Callable[[int, float], None] | None = None
    progress: Progress | None = None
    spectra: dict[int, list[float]] = field(default_factory=dict)  # epoch -> eigenvalues

    def mark(self, stage: str, state: StageState) -> None:
        self.tracker.set_tags(self.run_id, {stage_tag(stage): state})


def setup_trainer(recipe: Recipe, dataset: Dataset, workdir: Path) -> Pretrainer:
    """Device, precision, seed and the trainer with its checkpoint in ``workdir``: the
    model is initialised from ``recipe.seed`` here, once per run."""
    device = pick_device(recipe.runtime.device)
    dtype = pick_dtype(recipe.runtime.precision, device)
    with torch_threads(recipe.runtime.threads):
        seed_everything(recipe.seed)
        return Pretrainer(recipe, dataset, device, dtype, workdir / CHECKPOINT)


def run_stages(ctx: RunContext) -> int:
    """Pretrain (or resume), then evaluate; returns the epoch pretraining resumed at."""
    pretrained = stage_done(ctx.done_tags, "pretrain")
    if ctx.stages == "evaluate" and not pretrained:
        raise SslctlError(
            f"run {ctx.run_id}: pretraining is not done; evaluation needs the pretrained encoder"
        )
    trainer = ctx.trainer
    ctx.tracker.set_tags(
        ctx.run_id, {Tag.DEVICE: str(trainer.device), Tag.PRECISION: str(trainer.dtype or "fp32")}
    )
    _log_packed_data(ctx)
    with torch_threads(ctx.recipe.runtime.threads):
        if pretrained:
            resumed_epoch = ctx.recipe.optim.epochs
            if ctx.stages != "pretrain":  # its final weights are evaluated
                load_weights(trainer.model, ctx.workdir, ctx.tracker, ctx.run_id)
        else:
            resumed_epoch = pretrain(ctx)
        if ctx.stages != "pretrain":
            evaluate(ctx)
    return resumed_epoch


def _log_packed_data(ctx: RunContext) -> None:
    """A packed dataset's checksum and the files its packing skipped (``--skip-bad``):
    their count as a tag, their names as the artifact ``data/skipped.txt``."""
    manifest = getattr(ctx.dataset, "manifest", None)
    if not manifest:
        return
    skipped = [f for split in manifest["splits"].values() for f in split.get("skipped", [])]
    tags = {Tag.DATA_CHECKSUM: manifest["checksum"], Tag.DATA_SKIPPED: str(len(skipped))}
    ctx.tracker.set_tags(ctx.run_id, tags)
    if skipped:
        ctx.tracker.log_text(ctx.run_id, "\n".join(skipped) + "\n", "data/skipped.txt")


def pretrain(ctx: RunContext) -> int:
    """Train from the checkpoint (or from scratch), logging every epoch; save the final
    weights as an artifact and mark the stage done. Returns the epoch resumed at."""
    trainer, recipe = ctx.trainer, ctx.recipe
    resumed_epoch = trainer.epoch if trainer.resume() else 0
    if 0 < resumed_epoch < recipe.optim.epochs:
        ctx.say(f"resuming pretraining at epoch {resumed_epoch + 1}/{recipe.optim.epochs}")
    ctx.mark("pretrain", StageState.RUNNING)
    if recipe.eval.probe.every:
        from sslctl.evals.probe import protocol as probe_protocol

        probe = probe_protocol(recipe.eval.probe, recipe.eval.linear)
        ctx.tracker.set_tags(ctx.run_id, {protocol_tag("probe"): probe})
    trainer.fit(ctx.reporter, on_epoch=lambda stats: _log_epoch(ctx, stats))
    final = ctx.workdir / FINAL_WEIGHTS
    model = trainer.model
    atomic_save(
        {"backbone": model.backbone.state_dict(), "projector": model.projector.state_dict()}, final
    )
    ctx.tracker.log_artifact(ctx.run_id, final, "checkpoints")
    ctx.mark("pretrain", StageState.DONE)
    return resumed_epoch


def _log_epoch(ctx: RunContext, stats: EpochStats) -> None:
    """One epoch's metrics, the probe and the spectrum when they are due."""
    recipe, trainer = ctx.recipe, ctx.trainer
    metrics = _epoch_metrics(stats)
    every = recipe.eval.probe.every
    if every and stats.epoch % every == 0:
        metrics["probe/top1"] = _probe(trainer, recipe, ctx.dataset)
    sp = recipe.eval.spectrum
    if sp.enabled and sp.every and stats.epoch % sp.every == 0:
        on = spectrum_features(recipe)
        feats = held_out_features(trainer.model, ctx.dataset, on, trainer.device, trainer.dtype)
        metrics.update(spectrum_metrics(feats))
        ctx.spectra[stats.epoch] = spectrum_of(feats)
    ctx.tracker.log_metrics(ctx.run_id, metrics, step=stats.epoch)
    if ctx.on_probe is not None and "probe/top1" in metrics:
        ctx.on_probe(stats.epoch, metrics["probe/top1"])


def evaluate(ctx: RunContext) -> None:
    """The evaluation stages not yet current (:func:`sslctl.evaluate.run_evaluations`)."""
    trainer = ctx.trainer
    eval_ctx = EvalContext(
        ctx.recipe,
        ctx.dataset,
        ctx.ood_sets,
        trainer.device,
        trainer.dtype,
        ctx.tracker,
        ctx.run_id,
        ctx.workdir,
        ctx.say,
        ctx.progress,
    )
    in_channels = ctx.dataset.train.images.shape[1]
    run_evaluations(
        trainer.model,
        eval_ctx,
        ctx.done_tags,
        spectra=ctx.spectra,
        random_init=lambda: build_model(ctx.recipe, in_channels).backbone,
    )


def _probe(trainer: Pretrainer, recipe: Recipe, dataset: Dataset) -> float:
    """``probe/top1`` of the current backbone on cached (unaugmented) features."""
    from sslctl.evals.features import encode
    from sslctl.evals.probe import probe_top1

    def feats(images: ImageSet) -> torch.Tensor:
        return encode(
            trainer.model.backbone,
            images.images,
            mean=dataset.mean,
            std=dataset.std,
            device=trainer.device,
            dtype=trainer.dtype,
        )

    top1 = probe_top1(
        feats(dataset.train),
        dataset.train.labels,
        feats(dataset.test),
        dataset.test.labels,
        num_classes=dataset.train.num_classes,
        cfg=recipe.eval.probe,
        linear=recipe.eval.linear,
        temperature=recipe.eval.knn.temperature,
        seed=recipe.seed,
    )
    trainer.model.train()
    return top1


def _epoch_metrics(stats: EpochStats) -> dict[str, float]:
    return {
        "pretrain/loss": stats.loss,
        **{f"pretrain/{k}": v for k, v in stats.terms.items()},
        "pretrain/lr": stats.lr,
        "pretrain/epoch_seconds": stats.seconds,
        "pretrain/images_per_s": stats.images_per_s,
    }
