"""Report speed on a big store (issue 7): create N runs (default 2,000; methods x widths x
seeds, with the params, tags and ~40 metrics a pipeline logs) in a temporary sqlite MLflow
store, then time `sslctl report` end to end in a fresh process and the in-process
read + aggregate + render, side by side with MLflow's own `search_runs`.

    .venv/bin/python benchmarks/bench_report.py [--runs 2000]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time


def populate(n: int) -> None:
    from mlflow.entities import Metric, Param, RunTag

    from sslctl.tracking import Tracker

    tracker = Tracker()
    exp = tracker.experiment_id("bench")
    now = int(time.time() * 1000)
    for i in range(n):
        method = ("vicreg", "barlow", "intl", "simclr")[i % 4]
        width = (256, 1024, 4096)[(i // 4) % 3]
        run = tracker.create(exp, f"r{i}", {})
        params = {
            "method.name": method,
            "projector.width": width,
            "seed": i // 12,
            "data.name": "mnist5k",
            "optim.lr": 0.002,
            "projector.depth": 3,
        }
        metrics = {
            "linear/top1": 90 + (i % 7),
            "knn/top1": 89.0,
            "ood/digits/top1": 80.0,
            **{f"ood/mnist5k-c/c{k}/{s}/top1": 50.0 for k in range(5) for s in range(1, 6)},
            "ood/mnist5k-c/top1": 50.0,
            "baseline/raw/linear/top1": 90.8,
        }
        tags = {
            "sslctl.recipe_hash": f"h{i}",
            "sslctl.status": "complete",
            "sslctl.protocol.linear": "linear probe on cached features",
        }
        tracker.client.log_batch(
            run,
            metrics=[Metric(k, v, now, 0) for k, v in metrics.items()],
            params=[Param(k, str(v)) for k, v in params.items()],
            tags=[RunTag(k, v) for k, v in tags.items()],
        )
        tracker.finish(run, "FINISHED")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=2000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{tmp}/mlflow.db"
        start = time.perf_counter()
        populate(args.runs)
        print(f"created {args.runs} runs in {time.perf_counter() - start:.0f} s")

        from sslctl.report.aggregate import build_report, select
        from sslctl.report.formats import render
        from sslctl.report.query import load_runs
        from sslctl.tracking import Tracker, tracking_uri

        start = time.perf_counter()
        rows, excluded = select(load_runs(tracking_uri()))
        render(build_report(rows, by=None, metrics=None, sort=None, excluded=excluded), "markdown")
        ours = time.perf_counter() - start

        start = time.perf_counter()
        client = Tracker().client
        exp = client.get_experiment_by_name("bench").experiment_id
        token, fetched = None, 0
        while True:
            page = client.search_runs([exp], max_results=1000, page_token=token)
            fetched += len(page)
            token = page.token
            if not token:
                break
        theirs = time.perf_counter() - start

        start = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "sslctl", "report", "--format", "markdown"],
            check=True,
            capture_output=True,
        )
        cli = time.perf_counter() - start
    print(f"report read+aggregate+render, {len(rows)} runs: {ours:.2f} s")
    print(f"mlflow search_runs alone, {fetched} runs: {theirs:.2f} s ({theirs / ours:.1f}x ours)")
    print(f"`sslctl report` end to end (fresh process): {cli:.2f} s (target < 5 s)")


if __name__ == "__main__":
    main()
