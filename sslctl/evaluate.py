"""Evaluation as its own stage: the evaluations of a pretrained encoder, logged into its
MLflow run, each keyed by a hash of the settings it depends on.

The pretraining identity (:func:`sslctl.recipe.recipe_hash`) leaves ``eval.*`` out, so a
recipe that differs from a finished one only in its evaluation settings finds that run;
the stages whose settings changed (``sslctl.settings.<stage>`` tags) run again on its
checkpoint, into the same run, without pretraining. ``sslctl evaluate`` drives the same
stages for a run id, a recipe, or an external backbone checkpoint (:mod:`sslctl.external`).
"""

from __future__ import annotations

import hashlib
import json
import tempfile
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
from sslctl.evals.features import Progress, raw_pixels
from sslctl.evals.health import check_training
from sslctl.evals.linear import chance_warning, protocol
from sslctl.evals.suite import evaluate_encoder
from sslctl.paths import FINAL_WEIGHTS, belongs_to
from sslctl.recipe import Recipe, to_dict
from sslctl.tracking import Tracker
from sslctl.vocabulary import (
    SETTINGS_PREFIX,
    StageState,
    Tag,
    protocol_tag,
    settings_tag,
    stage_done,
    stage_tag,
)

# the eval.* blocks each evaluation stage depends on
STAGE_BLOCKS: dict[str, tuple[str, ...]] = {
    "linear": ("linear", "knn", "ood"),
    "diagnostics": ("independence", "spectrum"),
    "baselines": ("linear", "knn", "ood", "baselines"),
}


def settings_hash(recipe: Recipe, stage: str) -> str:
    """Content hash of the ``eval.*`` blocks ``stage`` depends on."""
    block = to_dict(recipe)["eval"]
    picked = {name: block[name] for name in STAGE_BLOCKS[stage]}
    return hashlib.sha256(json.dumps(picked, sort_keys=True).encode()).hexdigest()[:12]


def wanted_stages(recipe: Recipe) -> list[str]:
    """The evaluation stages the recipe asks for, in order."""
    linear = recipe.eval.linear.enabled
    return [
        *(["linear"] if linear else []),
        "diagnostics",
        *(["baselines"] if linear and recipe.eval.baselines else []),
    ]


def is_current(tags: dict[str, str], recipe: Recipe, stage: str) -> bool:
    """``stage`` is done with the recipe's present settings."""
    return stage_done(tags, stage) and tags.get(settings_tag(stage)) == settings_hash(recipe, stage)


def pending(recipe: Recipe, tags: dict[str, str]) -> list[str]:
    """The wanted evaluation stages not done with the present settings."""
    return [s for s in wanted_stages(recipe) if not is_current(tags, recipe, s)]


def forget_evaluations(tags: dict[str, str]) -> dict[str, str]:
    """``tags`` without the evaluation settings, so that every stage runs again."""
    return {k: v for k, v in tags.items() if not k.startswith(SETTINGS_PREFIX)}


@dataclass
class EvalContext:
    """What the evaluation stages of one run share."""

    recipe: Recipe
    dataset: Dataset
    ood_sets: dict[str, ImageSet]
    device: torch.device
    dtype: torch.dtype | None
    tracker: Tracker
    run_id: str
    workdir: Path
    say: Callable[[str], None] = print
    progress: Progress | None = None

    def done(self, stage: str, also: tuple[str, ...] = ()) -> None:
        tags: dict[str, str] = {stage_tag(s): StageState.DONE for s in (stage, *also)}
        tags[settings_tag(stage)] = settings_hash(self.recipe, stage)
        self.tracker.set_tags(self.run_id, tags)

    def evaluate(self, encoder: Any) -> dict[str, float]:
        r = self.recipe
        return evaluate_encoder(
            encoder,
            self.dataset,
            self.ood_sets,
            r.eval.linear,
            knn=r.eval.knn,
            device=self.device,
            dtype=self.dtype,
            seed=r.seed,
            progress=self.progress,
        )


def run_evaluations(
    model: Any,
    ctx: EvalContext,
    tags: dict[str, str],
    *,
    spectra: dict[int, list[float]] | None = None,
    random_init: Callable[[], torch.nn.Module] | None = None,
) -> list[str]:
    """Run the evaluation stages of ``model`` (backbone + projector) that are not current
    in ``tags``; return the stages run. ``random_init`` builds the random-init baseline."""
    todo = pending(ctx.recipe, tags)
    r, tracker = ctx.recipe, ctx.tracker
    if "linear" in todo:
        ctx.say("linear and OOD evaluation of the pretrained encoder")
        tracker.set_tags(ctx.run_id, {stage_tag("linear"): StageState.RUNNING})
        metrics: dict[str, float] = {}
        for on in r.eval.linear.on:
            encoder = model.backbone if on == "backbone" else model
            prefix = "" if on == "backbone" else "projector/"
            metrics.update({prefix + k: v for k, v in ctx.evaluate(encoder).items()})
        tracker.log_metrics(ctx.run_id, metrics)
        warning = chance_warning(
            metrics.get("linear/top1"), ctx.dataset.train.num_classes, r.eval.linear.lr
        )
        if warning:
            ctx.say(f"warning: {warning}")
            tracker.set_tags(ctx.run_id, {Tag.LINEAR_WARNING: warning})
        tracker.set_tags(ctx.run_id, protocol_tags(r, ctx.ood_sets))
        ctx.done("linear", also=("ood",))
    if "diagnostics" in todo:
        ctx.say("diagnostics: independence and spectrum of the features")
        metrics = diagnostics(model, ctx, dict(spectra or {}))
        tracker.log_metrics(ctx.run_id, metrics, step=r.optim.epochs)
        ctx.done("diagnostics")
    if "baselines" in todo:
        ctx.say("baselines: raw pixels and a random-init backbone")
        metrics = {f"baseline/raw/{k}": v for k, v in ctx.evaluate(raw_pixels).items()}
        if random_init is not None:
            torch.manual_seed(r.seed)
            encoder = random_init().to(ctx.device)
            metrics.update({f"baseline/random/{k}": v for k, v in ctx.evaluate(encoder).items()})
        tracker.log_metrics(ctx.run_id, metrics)
        ctx.done("baselines")
    record_health(ctx)
    return todo


def record_health(ctx: EvalContext) -> None:
    """The run's training health from what it logged (the per-epoch pretraining loss,
    the spectrum, the linear probe) as the ``sslctl.health`` tag; a warning when flagged."""
    tracker, run_id = ctx.tracker, ctx.run_id
    losses = [v for _, v in sorted(tracker.metric_history(run_id, "pretrain/loss"))]
    metrics = tracker.get(run_id).metrics
    health = check_training(losses, metrics, ctx.dataset.train.num_classes)
    tracker.set_tags(run_id, {Tag.HEALTH: health.tag})
    if not health.trained:
        ctx.say(f"warning: {health.tag}")


def protocol_tags(recipe: Recipe, ood_sets: dict[str, ImageSet]) -> dict[str, str]:
    """The protocol of every number the linear stage logs."""
    knn = recipe.eval.knn
    return {
        protocol_tag("linear"): protocol(recipe.eval.linear),
        protocol_tag("ood"): ood_protocol(ood_sets),
        protocol_tag("knn"): f"weighted kNN k={knn.k}, cosine, T={knn.temperature:g}, "
        "on the same cached features",
    }


def ood_protocol(ood_sets: dict[str, ImageSet]) -> str:
    suites = sorted({k.split("/")[0] for k in ood_sets})
    return f"in-domain linear head applied unchanged to {', '.join(suites) or 'no set'}"


def diagnostics(model: Any, ctx: EvalContext, spectra: dict[int, list[float]]) -> dict[str, float]:
    """HSIC and spectrum of the final representation; the spectrum plot as an artifact."""
    from sslctl.evals.spectrum import plot_spectra

    r = ctx.recipe
    metrics: dict[str, float] = {}
    ind, sp = r.eval.independence, r.eval.spectrum
    spectrum_on = spectrum_features(r)
    wanted = sorted(set(ind.on if ind.enabled else []) | set(spectrum_on if sp.enabled else []))
    feats = held_out_features(model, ctx.dataset, wanted, ctx.device, ctx.dtype) if wanted else {}
    if ind.enabled:
        metrics.update(independence_metrics({k: feats[k] for k in ind.on}, ind, r.seed))
    if sp.enabled:
        chosen = {k: feats[k] for k in spectrum_on}
        metrics.update(spectrum_metrics(chosen))
        spectra[r.optim.epochs] = spectrum_of(chosen)
        title = f"{r.method.name}: embedding covariance spectrum"
        png = plot_spectra(spectra, ctx.workdir / "spectrum.png", title)
        ctx.tracker.log_artifact(ctx.run_id, png, "plots")
    return metrics


def spectrum_features(recipe: Recipe) -> list[str]:
    """The feature sets whose spectrum is measured: backbone, and projector if any."""
    return ["backbone", *(["projector"] if recipe.projector.depth else [])]


def download(tracker: Tracker, run_id: str, path: str, folder: str) -> str:
    """An artifact of ``run_id`` into ``folder``, without MLflow's progress bar."""
    import os

    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    return tracker.client.download_artifacts(run_id, path, folder)


def load_weights(model: Any, workdir: Path, tracker: Tracker, run_id: str) -> None:
    """Load the final weights of ``run_id`` into ``model``: ``model.pt`` in its
    checkpoint folder when that folder belongs to the run, else the run's MLflow
    artifact ``checkpoints/model.pt``."""
    from sslctl.runtime import load_checkpoint

    local = workdir / FINAL_WEIGHTS
    with tempfile.TemporaryDirectory() as tmp:
        path = local if belongs_to(workdir, run_id) and local.is_file() else None
        if path is None:
            try:
                got = download(tracker, run_id, f"checkpoints/{FINAL_WEIGHTS}", tmp)
            except Exception as err:  # MLflow raises several types for a missing artifact
                raise SslctlError(
                    f"run {run_id}: no pretrained weights (checkpoints/model.pt): {err}"
                ) from None
            path = Path(got)
        state = load_checkpoint(path)
    assert state is not None
    model.backbone.load_state_dict(state["backbone"])
    model.projector.load_state_dict(state["projector"])
