"""The stages of one pipeline run, each logged to MLflow and tagged when done, so a
resumed run skips what is finished and continues pretraining from its checkpoint."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
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
class StagesResult:
    resumed_epoch: int


def run_stages(
    recipe: Recipe,
    dataset: Dataset,
    ood_sets: dict[str, ImageSet],
    *,
    tracker: Tracker,
    run_id: str,
    workdir: Path,
    done_tags: dict[str, str],
    reporter: Any = None,
    say: Callable[[str], None] = print,
    on_probe: Callable[[int, float], None] | None = None,
    stages: str = "all",
    progress: Progress | None = None,
) -> StagesResult:
    """Pretrain, then evaluate the backbone (and projector), then the baselines.
    ``stages``: ``all``, ``pretrain`` (stop after pretraining) or ``evaluate`` (the
    evaluations of a pretrained run; an error if pretraining is not done)."""
    if stages == "evaluate" and not stage_done(done_tags, "pretrain"):
        raise SslctlError(
            f"run {run_id}: pretraining is not done; evaluation needs the pretrained encoder"
        )
    device = pick_device(recipe.runtime.device)
    dtype = pick_dtype(recipe.runtime.precision, device)
    tracker.set_tags(run_id, {Tag.DEVICE: str(device), Tag.PRECISION: str(dtype or "fp32")})

    def mark(stage: str, state: StageState) -> None:
        tracker.set_tags(run_id, {stage_tag(stage): state})

    with torch_threads(recipe.runtime.threads):
        seed_everything(recipe.seed)
        trainer = Pretrainer(recipe, dataset, device, dtype, workdir / CHECKPOINT)
        pretrained = stage_done(done_tags, "pretrain")  # then its final weights are evaluated
        if pretrained:
            resumed_epoch = recipe.optim.epochs
        else:
            resumed_epoch = trainer.epoch if trainer.resume() else 0
        if 0 < resumed_epoch < recipe.optim.epochs:
            say(f"resuming pretraining at epoch {resumed_epoch + 1}/{recipe.optim.epochs}")
        spectra: dict[int, list[float]] = {}
        spectrum_on = spectrum_features(recipe)
        if not pretrained:
            mark("pretrain", StageState.RUNNING)
            if recipe.eval.probe.every:
                from sslctl.evals.probe import protocol as probe_protocol

                tracker.set_tags(
                    run_id,
                    {protocol_tag("probe"): probe_protocol(recipe.eval.probe, recipe.eval.linear)},
                )

            def on_epoch(stats: EpochStats) -> None:
                metrics = _epoch_metrics(stats)
                every = recipe.eval.probe.every
                if every and stats.epoch % every == 0:
                    metrics["probe/top1"] = _probe(trainer, recipe, dataset, device, dtype)
                sp = recipe.eval.spectrum
                if sp.enabled and sp.every and stats.epoch % sp.every == 0:
                    feats = held_out_features(trainer.model, dataset, spectrum_on, device, dtype)
                    metrics.update(spectrum_metrics(feats))
                    spectra[stats.epoch] = spectrum_of(feats)
                tracker.log_metrics(run_id, metrics, step=stats.epoch)
                if on_probe is not None and "probe/top1" in metrics:
                    on_probe(stats.epoch, metrics["probe/top1"])

            trainer.fit(reporter, on_epoch=on_epoch)
            final = workdir / FINAL_WEIGHTS
            atomic_save(
                {
                    "backbone": trainer.model.backbone.state_dict(),
                    "projector": trainer.model.projector.state_dict(),
                },
                final,
            )
            tracker.log_artifact(run_id, final, "checkpoints")
            mark("pretrain", StageState.DONE)
        elif stages != "pretrain":  # evaluations of a pretrained run: its final weights
            load_weights(trainer.model, workdir, tracker, run_id)
        if stages == "pretrain":
            return StagesResult(resumed_epoch)
        ctx = EvalContext(
            recipe, dataset, ood_sets, device, dtype, tracker, run_id, workdir, say, progress
        )
        in_channels = dataset.train.images.shape[1]
        run_evaluations(
            trainer.model,
            ctx,
            done_tags,
            spectra=spectra,
            random_init=lambda: build_model(recipe, in_channels).backbone,
        )
    return StagesResult(resumed_epoch)


def _probe(
    trainer: Pretrainer,
    recipe: Recipe,
    dataset: Dataset,
    device: torch.device,
    dtype: torch.dtype | None,
) -> float:
    """``probe/top1`` of the current backbone on cached (unaugmented) features."""
    from sslctl.evals.features import encode
    from sslctl.evals.probe import probe_top1

    def feats(images: ImageSet) -> torch.Tensor:
        return encode(
            trainer.model.backbone,
            images.images,
            mean=dataset.mean,
            std=dataset.std,
            device=device,
            dtype=dtype,
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
