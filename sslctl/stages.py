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
from sslctl.evals.diagnostics import (
    held_out_features,
    independence_metrics,
    spectrum_metrics,
    spectrum_of,
)
from sslctl.evals.features import raw_pixels
from sslctl.evals.health import HEALTH_TAG, check_training
from sslctl.evals.linear import protocol
from sslctl.evals.suite import evaluate_encoder
from sslctl.recipe import Recipe
from sslctl.runtime import atomic_save, pick_device, pick_dtype, seed_everything, torch_threads
from sslctl.tracking import TAG, Tracker
from sslctl.train import EpochStats, Pretrainer, build_model


@dataclass
class StagesResult:
    resumed_epoch: int


def _done(tags: dict[str, str], stage: str) -> bool:
    return tags.get(f"{TAG}stage.{stage}") == "done"


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
) -> StagesResult:
    """Pretrain, then evaluate the backbone (and projector), then the baselines.
    ``stages``: ``all``, ``pretrain`` (stop after pretraining) or ``evaluate`` (the
    evaluations of a pretrained run; an error if pretraining is not done)."""
    if stages == "evaluate" and not _done(done_tags, "pretrain"):
        raise SslctlError(
            f"run {run_id}: pretraining is not done; evaluation needs the pretrained encoder"
        )
    device = pick_device(recipe.runtime.device)
    dtype = pick_dtype(recipe.runtime.precision, device)
    tracker.set_tags(run_id, {f"{TAG}device": str(device), f"{TAG}precision": str(dtype or "fp32")})

    def mark(stage: str, status: str) -> None:
        tracker.set_tags(run_id, {f"{TAG}stage.{stage}": status})

    with torch_threads(recipe.runtime.threads):
        seed_everything(recipe.seed)
        trainer = Pretrainer(recipe, dataset, device, dtype, workdir / "checkpoint.pt")
        resumed_epoch = trainer.epoch if trainer.resume() else 0
        if 0 < resumed_epoch < recipe.optim.epochs:
            say(f"resuming pretraining at epoch {resumed_epoch + 1}/{recipe.optim.epochs}")
        spectra: dict[int, list[float]] = {}
        spectrum_on = ["backbone", *(["projector"] if recipe.projector.depth else [])]
        if not _done(done_tags, "pretrain"):
            mark("pretrain", "running")
            if recipe.eval.probe.every:
                from sslctl.evals.probe import protocol as probe_protocol

                tracker.set_tags(
                    run_id,
                    {f"{TAG}protocol.probe": probe_protocol(recipe.eval.probe, recipe.eval.linear)},
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
            final = workdir / "model.pt"
            atomic_save(
                {
                    "backbone": trainer.model.backbone.state_dict(),
                    "projector": trainer.model.projector.state_dict(),
                },
                final,
            )
            tracker.log_artifact(run_id, final, "checkpoints")
            mark("pretrain", "done")
        if stages == "pretrain":
            return StagesResult(resumed_epoch)

        evaluate = _evaluator(recipe, dataset, ood_sets, device, dtype)
        if recipe.eval.linear.enabled and not _done(done_tags, "linear"):
            say("linear and OOD evaluation of the pretrained encoder")
            mark("linear", "running")
            metrics: dict[str, float] = {}
            for on in recipe.eval.linear.on:
                encoder = trainer.model.backbone if on == "backbone" else trainer.model
                prefix = "" if on == "backbone" else "projector/"
                metrics.update({prefix + k: v for k, v in evaluate(encoder).items()})
            tracker.log_metrics(run_id, metrics)
            tracker.set_tags(
                run_id,
                {
                    f"{TAG}protocol.linear": protocol(recipe.eval.linear),
                    f"{TAG}protocol.ood": _ood_protocol(ood_sets),
                    f"{TAG}protocol.knn": f"weighted kNN k={recipe.eval.knn.k}, cosine, "
                    f"T={recipe.eval.knn.temperature:g}, on the same cached features",
                },
            )
            mark("linear", "done")
            mark("ood", "done")

        if not _done(done_tags, "diagnostics"):
            metrics = _diagnostics(
                trainer,
                recipe,
                dataset,
                device,
                dtype,
                spectra,
                spectrum_on,
                workdir,
                tracker,
                run_id,
            )
            tracker.log_metrics(run_id, metrics, step=recipe.optim.epochs)
            mark("diagnostics", "done")

        if (
            recipe.eval.baselines
            and recipe.eval.linear.enabled
            and not _done(done_tags, "baselines")
        ):
            say("baselines: raw pixels and a random-init backbone")
            torch.manual_seed(recipe.seed)
            random_init = build_model(recipe, dataset.train.images.shape[1]).backbone.to(device)
            metrics = {f"baseline/raw/{k}": v for k, v in evaluate(raw_pixels).items()}
            metrics.update({f"baseline/random/{k}": v for k, v in evaluate(random_init).items()})
            tracker.log_metrics(run_id, metrics)
            mark("baselines", "done")
    losses = [float(h["loss"]) for h in trainer.history]
    health = check_training(losses, tracker.get(run_id).metrics, dataset.train.num_classes)
    tracker.set_tags(run_id, {HEALTH_TAG: health.tag})
    if not health.trained:
        say(f"warning: {health.tag}")
    return StagesResult(resumed_epoch)


def _evaluator(
    recipe: Recipe,
    dataset: Dataset,
    ood_sets: dict[str, ImageSet],
    device: torch.device,
    dtype: torch.dtype | None,
) -> Callable[[Any], dict[str, float]]:
    def evaluate(encoder: Any) -> dict[str, float]:
        return evaluate_encoder(
            encoder,
            dataset,
            ood_sets,
            recipe.eval.linear,
            knn=recipe.eval.knn,
            device=device,
            dtype=dtype,
            seed=recipe.seed,
        )

    return evaluate


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


def _diagnostics(
    trainer: Pretrainer,
    recipe: Recipe,
    dataset: Dataset,
    device: torch.device,
    dtype: torch.dtype | None,
    spectra: dict[int, list[float]],
    spectrum_on: list[str],
    workdir: Path,
    tracker: Tracker,
    run_id: str,
) -> dict[str, float]:
    """HSIC and spectrum of the final representation; the spectrum plot as an artifact."""
    from sslctl.evals.spectrum import plot_spectra

    metrics: dict[str, float] = {}
    ind, sp = recipe.eval.independence, recipe.eval.spectrum
    wanted = sorted(set(ind.on if ind.enabled else []) | set(spectrum_on if sp.enabled else []))
    feats = held_out_features(trainer.model, dataset, wanted, device, dtype) if wanted else {}
    if ind.enabled:
        metrics.update(independence_metrics({k: feats[k] for k in ind.on}, ind, recipe.seed))
    if sp.enabled:
        chosen = {k: feats[k] for k in spectrum_on}
        metrics.update(spectrum_metrics(chosen))
        spectra[recipe.optim.epochs] = spectrum_of(chosen)
        png = plot_spectra(
            spectra,
            workdir / "spectrum.png",
            f"{recipe.method.name}: embedding covariance spectrum",
        )
        tracker.log_artifact(run_id, png, "plots")
    return metrics


def _epoch_metrics(stats: EpochStats) -> dict[str, float]:
    return {
        "pretrain/loss": stats.loss,
        **{f"pretrain/{k}": v for k, v in stats.terms.items()},
        "pretrain/lr": stats.lr,
        "pretrain/epoch_seconds": stats.seconds,
        "pretrain/images_per_s": stats.images_per_s,
    }


def _ood_protocol(ood_sets: dict[str, ImageSet]) -> str:
    suites = sorted({k.split("/")[0] for k in ood_sets})
    return f"in-domain linear head applied unchanged to {', '.join(suites)}"
