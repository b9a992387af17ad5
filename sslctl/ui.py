"""Terminal presentation: progress bars while pretraining and the summary table after."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from sslctl.evals.health import FLAG
from sslctl.evals.ood import headline
from sslctl.markup import escape


class RichReporter:
    """Two bars (epochs, steps of the current epoch) and a line per epoch."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[info]}"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=console,
            transient=False,
        )
        self.epochs: Any = None
        self.steps: Any = None
        self.evals: Any = None
        self.eval_what = ""

    def start(self, epochs: int, first_epoch: int, steps_per_epoch: int) -> None:
        self.progress.start()
        self.epochs = self.progress.add_task(
            "pretrain", total=epochs, completed=first_epoch, info=""
        )
        self.steps = self.progress.add_task("  epoch", total=steps_per_epoch, info="")

    def step(self) -> None:
        self.progress.advance(self.steps)

    def epoch(self, stats: Any) -> None:
        info = f"loss {stats.loss:.4f}  {stats.images_per_s:.0f} img/s"
        self.progress.update(self.epochs, advance=1, info=info)
        self.progress.reset(self.steps)

    def progress_of(self, what: str, done: int, total: int) -> None:
        """An evaluation step (features of a split or OOD set, linear-probe epochs): one
        bar, re-labelled as the steps follow each other."""
        if self.evals is None:
            self.progress.start()
            self.evals = self.progress.add_task("eval", total=total, info="")
        if what != self.eval_what:
            self.eval_what = what
            self.progress.reset(self.evals, total=total, description=f"eval {what}")
        self.progress.update(self.evals, completed=done)

    def stop(self) -> None:
        if self.steps is not None:
            self.progress.remove_task(self.steps)
            self.steps = None
        if self.evals is not None:
            self.progress.remove_task(self.evals)
            self.evals = None
        self.progress.stop()


def summary_table(metrics: dict[str, float], title: str) -> Table:
    """Rows: SSL encoder (and its projector output), then the two baselines. Columns:
    linear top-1, kNN top-1 and each OOD set (%), then, when the run logged them, HSIC
    (mean pairwise normalised HSIC, lower = more independent) and effective rank (RankMe)."""
    rows = {"ssl": {}, "raw pixels": {}, "random init": {}}
    for key, value in metrics.items():
        if key.startswith("baseline/raw/"):
            rows["raw pixels"][key.removeprefix("baseline/raw/")] = value
        elif key.startswith("baseline/random/"):
            rows["random init"][key.removeprefix("baseline/random/")] = value
        else:
            rows["ssl"][key] = value
    columns = [
        "linear/top1",
        *(["knn/top1"] if "knn/top1" in metrics else []),
        *sorted(headline({k: v for k, v in rows["ssl"].items() if k.startswith("ood/")})),
    ]
    diagnostics = {
        "indep/nhsic": "HSIC",
        "spectrum/rankme": "effective rank",
    }
    diagnostics = {
        k: v
        for k, v in diagnostics.items()
        if k in metrics or k.replace("/", "/projector/", 1) in metrics
    }
    table = Table(title=escape(title))  # the experiment and recipe names are the user's
    table.add_column("encoder")
    for col in columns:
        label = "knn top-1 %" if col == "knn/top1" else col.removesuffix("/top1") + " top-1 %"
        table.add_column(escape(label), justify="right")
    for label in diagnostics.values():
        table.add_column(label, justify="right")

    def diag(values: dict[str, float], prefix: str = "") -> list[str]:
        out = []
        for key in diagnostics:
            value = values.get(key.replace("/", f"/{prefix}", 1) if prefix else key)
            out.append("-" if value is None else f"{value:#.3g}")  # 0.100, not 0.1
        return out

    for name, values in rows.items():
        if values:
            cells = [_fmt(values.get(c)) for c in columns]
            table.add_row(
                name, *cells, *(diag(values) if name == "ssl" else ["-"] * len(diagnostics))
            )
    if "projector/linear/top1" in metrics:
        table.add_row(
            "ssl (projector)",
            *(_fmt(metrics.get(f"projector/{c}")) for c in columns),
            *diag(metrics, "projector/"),
        )
    if diagnostics:
        table.caption = "HSIC: mean normalised HSIC over random feature pairs (0 = independent)"
    return table


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def leaderboard_table(result: Any, objective: str) -> Table:
    """A sweep's trials, best first."""
    table = Table(title=escape(f"sweep {result.name} ({result.study})"))
    keys = sorted({k for row in result.rows for k in row.point})
    table.add_column("trial", justify="right")
    for key in keys:
        table.add_column(escape(key))
    table.add_column(escape(objective), justify="right")
    table.add_column("state")
    table.add_column("runs / reason")
    for row in result.rows:
        value = (
            "-"
            if row.value is None
            else f"{row.value:.2f}" + (f" ± {row.std:.2f}" if row.std is not None else "")
        )
        note = row.reason or ", ".join(r[:8] for r in row.runs)
        state = row.state.lower()
        flagged = getattr(row, "not_trained", [])  # seeds that did not train (health)
        if flagged:
            state = f"[red]{FLAG}[/] ({len(flagged)}/{len(row.runs)} seeds)"
            note = "; ".join(flagged)
        table.add_row(
            str(row.trial),
            *(escape(row.point.get(k, "")) for k in keys),
            value,
            state,
            escape(note),
        )
    links = getattr(result, "links", {})
    if links:
        table.caption = escape("linked: " + ", ".join(f"{t} = {s}" for t, s in links.items()))
    return table


def slurm_jobs_table(rows: list[Any]) -> Table:
    """``sslctl status``: the SLURM jobs submitted from this directory."""
    table = Table(title="SLURM jobs (this directory)")
    for col in ("job", "state", "stage", "epoch", "requeues", "MLflow run", "recipe"):
        table.add_column(col, overflow="fold")
    for row in rows:
        epoch = f"{row.epoch}/{row.epochs}" if row.epochs else "-"
        job = row.job_id + (f" ({row.part})" if row.part not in ("", "all") else "")
        cells = (job, row.state, row.stage, epoch, row.requeues, row.run_id, row.recipe)
        table.add_row(*(escape(c) for c in cells))
    return table


def open_runs_table(rows: list[Any]) -> Table:
    """``sslctl status``: runs that have not finished, newest first."""
    table = Table(title="unfinished runs (MLflow), newest first")
    for col in ("run", "experiment", "name", "status", "stage", "epoch", "where", "resume with"):
        table.add_column(col, overflow="fold")
    for r in rows:
        epoch = f"{r.epoch}/{r.epochs}" if r.epochs else "-"
        cells = (r.run_id, r.experiment, r.name, r.status, r.stage, epoch, r.where, r.resume)
        table.add_row(*(escape(c) for c in cells))
    table.caption = (
        "an interrupted run resumes from its last checkpoint with the command shown; "
        "failed ones: see the run's sslctl.error tag"
    )
    return table


def sweeps_table(rows: list[Any]) -> Table:
    """``sslctl status``: trial counts of every sweep next to the MLflow store."""
    table = Table(title="sweeps (Optuna)")
    for col in ("study", "done", "pruned", "failed", "running", "queued", "budget", "best"):
        table.add_column(col, justify="left" if col == "study" else "right")
    for r in rows:
        best = "-" if r.best is None else f"{r.best:.2f} ({r.objective})"
        budget = "-" if r.budget is None else str(r.budget)
        counts = (r.complete, r.pruned, r.failed, r.running, r.waiting)
        table.add_row(escape(r.name), *(str(c) for c in counts), budget, escape(best))
    return table
