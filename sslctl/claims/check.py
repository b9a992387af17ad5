"""``sslctl claims check``: measure a claim, decide its verdict, log a parent MLflow run
(experiment ``claims``; tags name the trial runs it used, which stay where they are) with
the verdict, the effect and its interval, the result as JSON and a plot as PNG.
``sslctl claims report`` reads the newest check of each claim back."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from sslctl.claims.plot import plot_claim
from sslctl.claims.run import Say, measure
from sslctl.claims.spec import Claim
from sslctl.claims.verdict import ClaimResult, Trial, evaluate
from sslctl.tracking import Tracker
from sslctl.vocabulary import Tag

EXPERIMENT = "claims"


def check_claim(
    claim: Claim,
    scale: str,
    *,
    workers: int = 1,
    launcher: str = "local",
    plot_dir: Path = Path("claims-out"),
    run: bool = True,
    trials: list[Trial] | None = None,
    say: Say = print,
) -> tuple[ClaimResult, str, Path]:
    """Run what is missing (``run=False``: the pipeline runs were run already, by
    :func:`sslctl.claims.run.run_all_missing`, which also gives a study claim its
    ``trials``), decide, log; returns (result, parent run id, plot path)."""
    if trials is None:
        trials = measure(claim, scale, workers=workers, launcher=launcher, run=run, say=say)
    result = evaluate(claim, trials, scale)
    plot_dir.mkdir(parents=True, exist_ok=True)
    png = plot_claim(claim, trials, result, plot_dir / f"{claim.name}.png")
    parent = log_check(claim, result, png)
    return result, parent, png


def log_check(claim: Claim, result: ClaimResult, png: Path) -> str:
    """A FINISHED run in experiment ``claims`` holding everything about this check."""
    tracker = Tracker()
    exp = tracker.experiment_id(EXPERIMENT)
    runs = ",".join(result.run_ids)
    run_id = tracker.create(
        exp,
        f"claim-{claim.name}-{result.scale}",
        {
            Tag.CLAIM: claim.name,
            Tag.CLAIM_SCALE: result.scale,
            Tag.CLAIM_VERDICT: result.verdict,
            Tag.CLAIM_RUNS: runs if len(runs) <= 5000 else runs[:4997] + "...",
        },
    )
    tracker.log_params(
        run_id,
        {
            "test": claim.test,
            "measure": claim.measure,
            "direction": claim.direction,
            "null": claim.threshold,
            "seeds": claim.seeds,
            "scale": result.scale,
            "paper": claim.statement.paper,
            "section": claim.statement.section,
        },
    )
    metrics: dict[str, float] = {"n_runs": len(result.run_ids)}
    for c in result.comparisons:
        key = c.label.replace("*", "_")
        for name in ("estimate", "low", "high", "p"):
            value = getattr(c, name)
            if value is not None and math.isfinite(value):
                metrics[f"claim/{key}/{name}"] = value
    tracker.log_metrics(run_id, metrics)
    tracker.log_text(run_id, json.dumps(result.to_dict(), indent=2), "claim.json")
    tracker.log_artifact(run_id, png, "plots")
    tracker.finish(run_id, "FINISHED")
    return run_id


def latest_checks(scale: str | None = None) -> list[dict[str, Any]]:
    """The newest check of each claim (optionally of one scale), as logged JSON dicts."""
    import os

    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    tracker = Tracker()
    exp = tracker.client.get_experiment_by_name(EXPERIMENT)
    if exp is None:
        return []
    runs = tracker.client.search_runs(
        [exp.experiment_id],
        filter_string=f"tags.`{Tag.CLAIM}` != ''",
        order_by=["attributes.start_time DESC"],
    )
    seen, out = set(), []
    for run in runs:
        name, run_scale = run.data.tags.get(Tag.CLAIM), run.data.tags.get(Tag.CLAIM_SCALE)
        if name in seen or (scale is not None and run_scale != scale):
            continue
        seen.add(name)
        text = tracker.client.download_artifacts(run.info.run_id, "claim.json")
        data = json.loads(Path(text).read_text())
        data["check_run_id"] = run.info.run_id
        out.append(data)
    return sorted(out, key=lambda d: d["name"])
