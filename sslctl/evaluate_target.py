"""``sslctl evaluate``: what to evaluate (an MLflow run id, a recipe, or an external
checkpoint) and with which settings, then the evaluation stages, without pretraining.

A run id or a recipe names a pretrained sslctl run: its recipe (the run's ``recipe.yaml``,
or the file) with the options applied is evaluated on the run's weights into the same run
(:func:`sslctl.pipeline.run_pipeline` with ``stages="evaluate"``). A checkpoint file is a
backbone's state dict (:mod:`sslctl.external`), evaluated with the data and evaluation
settings of ``--recipe`` into a run of its own. Every error (an unknown run, a checkpoint
that does not fit, an OOD folder with unknown classes) comes before anything is logged.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from sslctl.errors import SslctlError
from sslctl.evaluate import download
from sslctl.recipe import Recipe, load_recipe, recipe_hash, to_dict
from sslctl.recipe.load import apply_overrides, validate
from sslctl.tracking import Tracker, tracking_uri
from sslctl.vocabulary import StageState, Tag, stage_done, stage_tag

CHECKPOINT_SUFFIXES = (".pt", ".pth", ".ckpt", ".tar")


def ood_entry(text: str) -> str | dict[str, str]:
    """``--ood`` value: ``name=source`` (a short name) or a bare source."""
    name, sep, source = text.partition("=")
    return {name: source} if sep and name and "/" not in name else text


def with_options(
    recipe: Recipe, ood: Sequence[str], linear: bool, knn: bool, sets: Sequence[str], source: str
) -> Recipe:
    """``recipe`` with ``--set`` (evaluation fields only), ``--ood`` sets added (replacing
    one of the same short name) and ``--linear`` / ``--knn`` switched on."""
    from sslctl.data.oodsets import entry_name

    bad = [s for s in sets if not s.strip().startswith("eval.")]
    if bad:
        raise SslctlError(
            f"--set {bad[0]!r}: evaluate changes evaluation settings (eval.*) only; a change "
            "to the pretraining is a new run: sslctl pretrain RECIPE --set ..."
        )
    out = validate(apply_overrides(to_dict(recipe), list(sets)), source) if sets else recipe
    entries = list(out.eval.ood.datasets)
    for text in ood:
        new = ood_entry(text)
        short = entry_name(new)[0]
        entries = [e for e in entries if entry_name(e)[0] != short] + [new]
    out.eval.ood.datasets = entries
    if linear:
        out.eval.linear.enabled = True
    if knn:
        out.eval.knn.enabled = True
    return out


def run_recipe(tracker: Tracker, run_id: str) -> Recipe:
    """The resolved recipe a pipeline run logged (its ``recipe.yaml`` artifact)."""
    try:
        run = tracker.client.get_run(run_id)
    except Exception:  # MlflowException for an unknown id, several types for bad ones
        raise SslctlError(
            f"evaluate: no MLflow run {run_id!r} in {tracker.uri}; expected a run id (see "
            "sslctl report --format csv or mlflow ui), a recipe .yaml or a checkpoint file"
        ) from None
    if Tag.RECIPE_HASH not in run.data.tags:
        raise SslctlError(f"evaluate: run {run_id} is not an sslctl pipeline run")
    with tempfile.TemporaryDirectory() as tmp:
        try:
            path = download(tracker, run_id, "recipe.yaml", tmp)
        except Exception as err:
            raise SslctlError(f"evaluate: run {run_id} has no recipe.yaml: {err}") from None
        return load_recipe(path)


def pretrained_run(tracker: Tracker, recipe: Recipe, source: str) -> str:
    """The newest run of ``recipe``'s pretraining whose pretraining is done."""
    runs = tracker.find(recipe.experiment, recipe_hash(recipe))
    done = [r for r in runs if stage_done(r.tags, "pretrain")]
    if not done:
        raise SslctlError(
            f"evaluate: no pretrained run of {source} (pretraining hash {recipe_hash(recipe)}) "
            f"in experiment {recipe.experiment!r} of {tracker.uri}; run sslctl pretrain "
            f"{source} first"
        )
    return done[0].run_id


def evaluate(
    target: str,
    *,
    recipe_path: Path | None = None,
    ood: Sequence[str] = (),
    linear: bool = False,
    knn: bool = False,
    force: bool = False,
    sets: Sequence[str] = (),
    say: Callable[[str], None] = print,
    progress: Any = None,
) -> Any:
    """Evaluate ``target`` (run id, recipe file or checkpoint file); returns the
    :class:`sslctl.pipeline.PipelineResult` of the run evaluated into."""
    from sslctl.pipeline import run_pipeline

    tracker = Tracker(tracking_uri())
    path = Path(target).expanduser()
    options = {"ood": ood, "linear": linear, "knn": knn, "sets": sets}
    if path.suffix in CHECKPOINT_SUFFIXES or (
        path.is_file() and path.suffix not in (".yaml", ".yml")
    ):
        if recipe_path is None:
            raise SslctlError(
                f"evaluate {target}: a checkpoint needs --recipe RECIPE (its data, "
                "model.backbone and evaluation settings), e.g. --recipe recipes/intl.yaml"
            )
        recipe = with_options(load_recipe(recipe_path), source=str(recipe_path), **options)
        return evaluate_external(path, recipe, tracker, force=force, say=say, progress=progress)
    if path.suffix in (".yaml", ".yml"):
        recipe = with_options(load_recipe(path), source=str(path), **options)
        run_id = pretrained_run(tracker, recipe, str(path))
    else:
        recipe = with_options(run_recipe(tracker, target), source=f"run {target}", **options)
        tags = tracker.get(target).tags
        if tags.get(stage_tag("pretrain")) == StageState.EXTERNAL:
            checkpoint = Path(tags[Tag.CHECKPOINT])
            return evaluate_external(
                checkpoint, recipe, tracker, force=force, say=say, progress=progress
            )
        if not stage_done(tags, "pretrain"):
            raise SslctlError(
                f"evaluate: run {target} has not finished pretraining; resume it with "
                "sslctl pretrain (sslctl status shows the command)"
            )
        run_id = target
    return run_pipeline(
        recipe,
        source=str(target),
        tracker=tracker,
        run_id=run_id,
        stages="evaluate",
        reevaluate=force,
        say=say,
        progress=progress,
    )


def evaluate_external(
    path: Path,
    recipe: Recipe,
    tracker: Tracker,
    *,
    force: bool = False,
    say: Callable[[str], None] = print,
    progress: Any = None,
) -> Any:
    """Evaluate the backbone weights in ``path`` with ``recipe``'s data and evaluations."""
    import torch

    from sslctl.data import load_dataset
    from sslctl.data.oodsets import load_sets
    from sslctl.evaluate import EvalContext, forget_evaluations, pending, run_evaluations
    from sslctl.external import external_hash, external_recipe, external_run, load_backbone
    from sslctl.models.backbones import build_backbone
    from sslctl.paths import run_folder
    from sslctl.pipeline import PipelineResult, execute
    from sslctl.runtime import pick_device, pick_dtype
    from sslctl.train import SSLModel

    start = time.perf_counter()
    recipe = external_recipe(recipe)
    data, ood = recipe.data, recipe.eval.ood
    dataset = load_dataset(data.name, root=data.root, download=data.download)
    ood_sets = load_sets(
        ood.datasets, dataset, severities=tuple(ood.severities),
        corruptions=tuple(ood.corruptions) if ood.corruptions else None,
        root=data.root, download=data.download, warn=say,
    )  # fmt: skip
    channels = dataset.train.images.shape[1]
    backbone, dim = load_backbone(path, recipe, channels)
    rhash = external_hash(path, recipe)
    run_id, tags = external_run(tracker, recipe, path, rhash)
    tags = forget_evaluations(tags) if force else tags
    if not pending(recipe, tags):
        run = tracker.get(run_id)
        return PipelineResult(run_id, recipe.experiment, rhash, run.metrics, reused=True)
    device = pick_device(recipe.runtime.device)
    workdir = run_folder(rhash)
    workdir.mkdir(parents=True, exist_ok=True)
    ctx = EvalContext(
        recipe, dataset, ood_sets, device, pick_dtype(recipe.runtime.precision, device),
        tracker, run_id, workdir, say, progress,
    )  # fmt: skip
    was_complete = tracker.get(run_id).complete
    tracker.reopen(run_id)
    m = recipe.model
    model = SSLModel(backbone.to(device), torch.nn.Identity(), dim, dim)

    def work() -> int:
        run_evaluations(
            model,
            ctx,
            tags,
            random_init=lambda: build_backbone(
                m.backbone, in_channels=channels, width=m.width, cifar_stem=m.cifar_stem
            )[0],
        )
        return 0

    execute(tracker, run_id, work, was_complete=was_complete)
    run = tracker.get(run_id)
    return PipelineResult(
        run_id, recipe.experiment, rhash, run.metrics, seconds=time.perf_counter() - start
    )
