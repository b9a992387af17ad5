"""Report speed on a big store (issue 7: a report over 2,000 runs in under 5 s).

Builds a sqlite MLflow store of N runs (default 2,000) that look like real pipeline runs:
the ~80 params of a resolved recipe, the tags a pipeline sets, a 40-epoch history of 7
pretraining metrics and 162 final metrics (linear, kNN, OOD per set, corruption and
severity, diagnostics, both baselines). 12 template runs (4 methods x 3 widths) are logged
through MLflow's own client; the rest are copies of them made in SQL inside MLflow's
schema (new run ids; seed and learning rate rewritten so there are N / 5 configurations
of 5 seeds each), which takes seconds instead of many minutes.

Then it times, each in a fresh process (the median of 3), what a user types:
`sslctl report`, `--format markdown`, `--pivot`, `--plot`; in process, the split between
reading the store, aggregating and rendering; and, for comparison, reading the same runs
with MLflow's `search_runs` (the path non-sqlite tracking URIs take).

    .venv/bin/python benchmarks/bench_report.py [--runs 2000] [--keep DIR]

(--keep DIR keeps the store, and a later run with the same DIR reuses it.)
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
METHODS = ("vicreg", "barlow", "intl", "simclr")
WIDTHS = (256, 1024, 4096)
CORRUPTIONS = ("noise", "shot", "impulse", "blur", "motion", "contrast", "bright", "rotate")
EPOCHS = 40
SEEDS_PER_CONFIG = 5


def eval_metrics(base: float) -> dict[str, float]:
    """What one encoder's evaluation logs: linear, kNN, OOD sets, corruptions x severities."""
    out = {"linear/top1": base, "knn/top1": base - 0.5, "ood/digits/top1": base - 12}
    for c in CORRUPTIONS:
        out[f"ood/mnist5k-c/{c}/top1"] = base - 15
        for s in range(1, 6):
            out[f"ood/mnist5k-c/{c}/{s}/top1"] = base - 10 - 2 * s
    out["ood/mnist5k-c/top1"] = base - 15
    return out


def template_run(tracker: object, exp: str, method: str, width: int, seed: int) -> None:
    from mlflow.entities import Metric, Param

    from sslctl.recipe import flatten, load_recipe, to_dict

    recipe = load_recipe(
        REPO / "recipes" / f"{method}.yaml",
        [f"projector.width={width}", f"seed={seed}", "experiment=bench"],
    )
    params = {k: str(v) for k, v in flatten(to_dict(recipe)).items()}
    tags = {
        "sslctl.recipe_hash": uuid.uuid4().hex[:16],
        "sslctl.recipe": f"recipes/{method}.yaml",
        "sslctl.version": "0.1.0",
        "sslctl.method": method,
        "sslctl.seed": str(seed),
        "sslctl.git_commit": "0" * 40,
        "sslctl.git_dirty": "False",
        "sslctl.device": "cpu",
        "sslctl.precision": "bf16",
        "sslctl.protocol.linear": "linear probe on frozen cached features, 100 epochs",
        "sslctl.protocol.ood": "in-domain linear head applied unchanged to digits, mnist5k-c",
        "sslctl.protocol.knn": "weighted kNN k=20, cosine, T=0.07",
        **{f"sslctl.stage.{s}": "done" for s in ("pretrain", "linear", "ood", "baselines")},
        "sslctl.status": "complete",
    }
    now = int(time.time() * 1000)
    history = [
        Metric(f"pretrain/{k}", 1.0 / (e + 1), now + e, e)
        for e in range(1, EPOCHS + 1)
        for k in ("loss", "lr", "epoch_seconds", "images_per_s", "sim", "std", "cov")
    ]
    base = 90.0 + WIDTHS.index(width) + METHODS.index(method) * 0.5 + seed * 0.1
    final = {
        **eval_metrics(base),
        **{f"baseline/raw/{k}": v for k, v in eval_metrics(80.0).items()},
        **{f"baseline/random/{k}": v for k, v in eval_metrics(60.0).items()},
        "indep/hsic": 1e-3,
        "indep/nhsic": 0.05,
        "indep/dhsic": 1e-4,
        "spectrum/rankme": 40.0,
        "spectrum/condition": 1e3,
        "spectrum/collapsed": 0.1,
    }
    metrics = history + [Metric(k, v, now, EPOCHS) for k, v in final.items()]
    client = tracker.client
    run = tracker.create(exp, f"{method}-{width}-s{seed}", tags)
    items = list(params.items())
    client.log_batch(run, params=[Param(k, v) for k, v in items])
    for i in range(0, len(metrics), 1000):
        client.log_batch(run, metrics=metrics[i : i + 1000])
    tracker.finish(run, "FINISHED")


def clone(db: Path, n: int) -> None:
    """Copy the 12 template runs in SQL until there are ``n``: run i is template i % 12
    (method x width) at seed (i // 12) % 5 with learning rate number i // 60, so every
    configuration has 5 seeds."""
    con = sqlite3.connect(db)
    tables = ("runs", "params", "tags", "metrics", "latest_metrics")
    columns = {t: [row[1] for row in con.execute(f"PRAGMA table_info({t})")] for t in tables}
    templates = [r for (r,) in con.execute("SELECT run_uuid FROM runs ORDER BY start_time")]
    k = len(templates)
    with con:
        for i in range(n):
            run = templates[i] if i < k else uuid.uuid4().hex
            if i >= k:
                for t in tables:
                    cols = ", ".join(f'"{c}"' for c in columns[t])
                    picks = ", ".join("?" if c == "run_uuid" else f'"{c}"' for c in columns[t])
                    con.execute(
                        f"INSERT INTO {t} ({cols}) SELECT {picks} FROM {t} WHERE run_uuid = ?",
                        (run, templates[i % k]),
                    )
            seed = str((i // k) % SEEDS_PER_CONFIG)
            lr = f"{0.001 * (1 + i // (k * SEEDS_PER_CONFIG)):g}"
            for table, key, value in (
                ("params", "seed", seed),
                ("tags", "sslctl.seed", seed),
                ("params", "optim.lr", lr),
            ):
                con.execute(
                    f"UPDATE {table} SET value = ? WHERE run_uuid = ? AND key = ?",
                    (value, run, key),
                )
    con.close()


def build(folder: Path, n: int) -> str:
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    os.environ["MLFLOW_TRACKING_URI"] = uri
    from sslctl.tracking import Tracker

    tracker = Tracker(uri)
    exp = tracker.experiment_id("bench")
    for method in METHODS:
        for width in WIDTHS:
            template_run(tracker, exp, method, width, 0)
    clone(folder / "mlflow.db", n)
    return uri


def cli_seconds(folder: Path, *args: str, repeats: int = 3) -> float:
    """Median wall time of ``sslctl report ARGS`` in a fresh process."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "sslctl", "report", *args],
            cwd=folder,
            check=True,
            capture_output=True,
        )
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def in_process(uri: str) -> dict[str, float]:
    from sslctl.report.aggregate import build_report
    from sslctl.report.formats import render
    from sslctl.report.main import ReportOptions, metric_choice
    from sslctl.report.query import load_runs, read_client
    from sslctl.report.select import select
    from sslctl.report.sheet import report_sheet

    t0 = time.perf_counter()
    store = load_runs(uri, metric_choice(ReportOptions()))
    t1 = time.perf_counter()
    rows, excluded = select(store.runs)
    rep = build_report(rows, excluded=excluded, logged=store.metric_names)
    t2 = time.perf_counter()
    text = render(report_sheet(rep), "markdown")
    t3 = time.perf_counter()
    everything = load_runs(uri)
    t4 = time.perf_counter()
    slow = read_client(uri, page_size=1000)
    t5 = time.perf_counter()
    assert len(slow.runs) == len(store.runs) == len(everything.runs) and text
    return {
        "runs": len(store.runs),
        "rows": len(rep.groups),
        "read, report's metrics (sqlite)": t1 - t0,
        "select + aggregate": t2 - t1,
        "render markdown": t3 - t2,
        "read, every metric (sqlite)": t4 - t3,
        "read, every metric (MLflow search_runs)": t5 - t4,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=2000)
    parser.add_argument(
        "--keep", type=Path, help="build the store in this folder and keep it (reused if there)"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        start = time.perf_counter()
        if (folder / "mlflow.db").exists():  # a store kept by an earlier --keep run
            uri = f"sqlite:///{folder / 'mlflow.db'}"
            os.environ["MLFLOW_TRACKING_URI"] = uri
        else:
            uri = build(folder, args.runs)
        con = sqlite3.connect(folder / "mlflow.db")
        sizes = {
            t: con.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]
            for t in ("params", "metrics", "latest_metrics")
        }
        con.close()
        print(
            f"store: {args.runs} runs ready in {time.perf_counter() - start:.0f} s; rows: {sizes}"
        )
        parts = in_process(uri)
        print(f"in process over {parts.pop('runs')} runs -> {parts.pop('rows')} rows:")
        for name, seconds in parts.items():
            print(f"  {name:<40} {seconds:6.2f} s")
        print("`sslctl report` end to end, fresh process, median of 3:")
        for label, cli_args in (
            ("sslctl report", []),
            ("--format markdown", ["--format", "markdown"]),
            (
                "--pivot method.name projector.width linear/top1",
                ["--pivot", "method.name", "projector.width", "linear/top1"],
            ),
            (
                "--plot x=projector.width y=linear/top1 hue=method",
                ["--plot", "x=projector.width y=linear/top1 hue=method"],
            ),
        ):
            print(f"  {label:<52} {cli_seconds(folder, *cli_args):6.2f} s")
        print("target: under 5 s for 2,000 runs")


if __name__ == "__main__":
    main()
