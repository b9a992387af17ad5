"""``sslctl sweep``, ``sslctl bench`` and ``sslctl report``."""

from __future__ import annotations

import signal
import sys
from pathlib import Path
from typing import Annotated

import typer

from sslctl.cli.common import escape, fail, make_console, raise_keyboard_interrupt
from sslctl.errors import SslctlError


def sweep(
    name: Annotated[str, typer.Argument(help="Sweep name (sweeps/NAME.yaml) or path.")],
    workers: Annotated[int | None, typer.Option(min=1, help="Parallel workers.")] = None,
    storage: Annotated[
        str | None, typer.Option(help="Optuna storage: journal file or SQL URL.")
    ] = None,
    launcher: Annotated[
        str | None,
        typer.Option(help="local (worker processes) or slurm (array job); default the sweep's."),
    ] = None,
    wait: Annotated[
        bool, typer.Option(help="With --launcher slurm: wait for the array, then report.")
    ] = False,
) -> None:
    """Run an Optuna sweep over recipe fields; again to continue or to show its results."""

    console = make_console()
    try:
        from sslctl.sweep.spec import load_sweep

        spec = load_sweep(name)
        if launcher not in (None, "local", "slurm"):
            raise SslctlError(f"--launcher: got {launcher!r}; expected 'local' or 'slurm'")
        signal.signal(signal.SIGTERM, raise_keyboard_interrupt)
        from sslctl.sweep.run import run_sweep

        result = run_sweep(
            spec,
            storage=storage,
            workers=workers,
            launcher=launcher,
            wait=wait,
            say=lambda m: console.print(f"[dim]{escape(m)}[/]"),
        )
    except SslctlError as err:
        fail(err)
    from sslctl.tracking import mlflow_ui_hint, tracking_uri
    from sslctl.ui import leaderboard_table

    if result.already_finished:
        console.print(f"[green]sweep {escape(spec.name)} already finished[/]: showing its results")
    console.print(leaderboard_table(result, spec.objective.metric))
    if result.pending:
        console.print(
            f"SLURM workers {', '.join(result.jobs)} are running the sweep: "
            f"`sslctl status` follows them; `sslctl sweep {escape(name)}` again shows the results"
        )
    if result.rows and not result.pending and all(r.state == "FAIL" for r in result.rows):
        console.print(
            f"[red]every trial failed[/] ({len(result.rows)}); the reasons are in the table "
            "and in each trial's MLflow run"
        )
        raise typer.Exit(1)
    if result.best_yaml is not None:
        best = escape(result.best_yaml)
        console.print(f"best recipe: {best}  (sslctl pretrain {best})")
    console.print(
        f"MLflow parent run [bold]{result.parent_run_id}[/]; storage {escape(result.storage)}"
    )
    console.print(f"look next: {escape(mlflow_ui_hint(tracking_uri()))}")


def bench(
    section: Annotated[
        list[str] | None,
        typer.Option(
            "--section",
            help="augment, pretrain, linear, whitening, cli, "
            "orchestration, memory, data (repeatable; default all).",
        ),
    ] = None,
    quick: Annotated[bool, typer.Option(help="Smaller sizes (minutes instead of ~15).")] = False,
    out: Annotated[Path, typer.Option(help="JSON file for the figures.")] = Path("bench.json"),
) -> None:
    """Measure sslctl against the usual alternatives, side by side, and print ratios."""
    from rich.table import Table

    from sslctl.bench.run import SECTIONS, run_bench, write_json

    bad = [s for s in section or [] if s not in SECTIONS]
    if bad:
        fail(SslctlError(f"--section: got {bad}; expected some of {list(SECTIONS)}"))
    console = make_console()
    figures, info = run_bench(section, quick=quick, say=lambda m: console.print(f"[dim]{m}[/]"))
    table = Table(
        title=f"sslctl bench ({info['cpu']}, {info['threads']} threads"
        + (f", {info['gpu']}" if "gpu" in info else "")
        + ")"
    )
    for col in ("section", "figure", "value", "unit", "comparison"):
        table.add_column(col, justify="right" if col == "value" else "left")
    for f in figures:
        table.add_row(f.section, f.name, f"{f.value:,.2f}", f.unit, f.note)
    console.print(table)
    write_json(figures, info, out)
    console.print(f"figures written to {out}")


def report(
    experiment: Annotated[str | None, typer.Option(help="Only this MLflow experiment.")] = None,
    sweep: Annotated[
        str | None, typer.Option(help="Only this sweep's trials; also plots its objective.")
    ] = None,
    filter_: Annotated[
        list[str] | None,
        typer.Option(
            "--filter",
            help="FIELD=VALUE[,VALUE], FIELD!=VALUE, FIELD>=NUMBER (>, <, <=); repeatable.",
        ),
    ] = None,
    by: Annotated[
        str | None, typer.Option(help="Group by these recipe fields, comma-separated.")
    ] = None,
    metrics: Annotated[
        str | None, typer.Option(help="Metric columns, comma-separated globs (ood/*/top1).")
    ] = None,
    sort: Annotated[
        str | None, typer.Option(help="METRIC or FIELD[:asc|:desc] (default: best first).")
    ] = None,
    format_: Annotated[
        str, typer.Option("--format", help="table, markdown, csv, latex, html or json.")
    ] = "table",
    out: Annotated[Path | None, typer.Option(help="Write the report to this file.")] = None,
    pivot: Annotated[
        tuple[str, str, str] | None,
        typer.Option(help="ROWFIELD COLFIELD METRIC: a paper-style table."),
    ] = None,
    plot: Annotated[
        str | None,
        typer.Option(help="'x=FIELD y=METRIC hue=FIELD out=FILE' (hue, out optional): a PNG."),
    ] = None,
    all_: Annotated[
        bool, typer.Option("--all", help="Include failed, running and interrupted runs.")
    ] = False,
    ci: Annotated[
        bool, typer.Option("--ci", help="95% intervals of the means (t); ties with the leader.")
    ] = False,
    bootstrap: Annotated[
        bool, typer.Option(help="With --ci: seeded percentile bootstrap instead of t.")
    ] = False,
    compare: Annotated[
        tuple[str, str] | None,
        typer.Option(help="FIELD=A FIELD=B: paired difference across seeds, interval, p."),
    ] = None,
) -> None:
    """Comparison tables (and plots) of the runs in the MLflow store."""

    from sslctl.report.main import ReportOptions, make_report, split_list
    from sslctl.tracking import tracking_uri

    options = ReportOptions(
        experiment=experiment,
        sweep=sweep,
        filters=filter_ or [],
        by=split_list(by),
        metrics=split_list(metrics),
        sort=sort,
        format=format_,
        pivot=pivot,
        plot=plot,
        include_all=all_,
        plot_dir=out.parent if out is not None else Path("."),
        ci=("bootstrap" if bootstrap else "t") if ci or bootstrap else None,
        compare=compare,
    )
    try:
        result = make_report(options, tracking_uri())
    except SslctlError as err:
        fail(err)
    console = make_console()
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(result.text)
        console.print(f"report written to {escape(out)}")
    elif result.table is not None:
        console.print(result.table, crop=False)  # a wide table wraps rather than loses columns
    else:
        sys.stdout.write(result.text)
    for path in result.plots:
        console.print(f"plot: {escape(path)}")
