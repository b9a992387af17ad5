"""The ``sslctl`` command line: parses, prints, exits. No logic of its own.

Heavy libraries (torch, mlflow, optuna) are imported inside the commands so that
``sslctl --help`` answers at once.
"""

from __future__ import annotations

import io
import signal
import sys
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer

from sslctl.errors import SslctlError

app = typer.Typer(
    name="sslctl",
    help="Run joint-embedding SSL experiments: pretrain -> linear eval -> OOD eval, "
    "tracked in MLflow.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

RecipeArg = Annotated[Path, typer.Argument(help="Recipe YAML file.", show_default=False)]
SetOpt = Annotated[
    list[str] | None,
    typer.Option("--set", help="Override a recipe field: --set projector.width=4096 (repeatable)."),
]


def _fail(err: SslctlError) -> NoReturn:
    from rich.console import Console
    from rich.markup import escape

    # escape: messages quote user values such as "[digits]" that rich would read as markup
    Console(stderr=True).print(f"[bold red]error:[/] {escape(str(err))}", highlight=False)
    raise typer.Exit(err.exit_code)


def _console(width: int = 120) -> Any:
    """A rich console; when the output is piped or captured (logs, CI, tests), ``width``
    columns instead of rich's 80, so that tables keep their headers."""
    from rich.console import Console

    console = Console()
    return console if console.is_terminal else Console(width=width)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


@app.command()
def validate(recipe: RecipeArg, set_: SetOpt = None) -> None:
    """Print the fully resolved recipe, or the errors (exit code 2)."""
    from sslctl.recipe import load_recipe, recipe_hash, to_yaml

    try:
        resolved = load_recipe(recipe, set_ or [])
    except SslctlError as err:
        _fail(err)
    typer.echo(f"# {recipe} (hash {recipe_hash(resolved)})")
    typer.echo(to_yaml(resolved), nl=False)


@app.command()
def pretrain(
    recipe: RecipeArg,
    set_: SetOpt = None,
    force: Annotated[
        bool, typer.Option(help="Retrain even if this recipe already finished.")
    ] = False,
    launcher: Annotated[
        str | None, typer.Option(help="local or slurm (default: the recipe's launcher.kind).")
    ] = None,
    nodes: Annotated[int | None, typer.Option(min=1, help="SLURM nodes.")] = None,
    gpus_per_node: Annotated[
        int | None, typer.Option(min=0, help="GPUs per node (one DDP process each).")
    ] = None,
    tasks_per_node: Annotated[
        int | None, typer.Option(min=1, help="DDP processes per node on CPU nodes.")
    ] = None,
    cpus_per_task: Annotated[int | None, typer.Option(min=1, help="CPUs per process.")] = None,
    partition: Annotated[str | None, typer.Option(help="SLURM partition.")] = None,
    time: Annotated[
        str | None, typer.Option("--time", help="SLURM time limit, e.g. 04:00:00.")
    ] = None,
    mem: Annotated[str | None, typer.Option(help="Memory per node, e.g. 64G.")] = None,
    wait: Annotated[
        bool, typer.Option(help="With --launcher slurm: follow the job until it ends.")
    ] = False,
) -> None:
    """Run the pipeline pretrain -> linear eval -> OOD eval (+ baselines) for a recipe."""
    import json

    from sslctl.recipe import load_recipe

    console = _console()
    given = {
        "kind": launcher,
        "nodes": nodes,
        "gpus_per_node": gpus_per_node,
        "tasks_per_node": tasks_per_node,
        "cpus_per_task": cpus_per_task,
        "partition": partition,
        "time": time,
        "mem": mem,
    }
    launcher_sets = [f"launcher.{k}={json.dumps(v)}" for k, v in given.items() if v is not None]
    try:
        resolved = load_recipe(recipe, [*(set_ or []), *launcher_sets])
        if resolved.launcher.kind == "slurm":
            _submit_slurm(resolved, recipe, force, wait, console)
            return
    except SslctlError as err:
        _fail(err)
    signal.signal(signal.SIGTERM, _interrupt)
    from sslctl.pipeline import run_pipeline
    from sslctl.tracking import mlflow_ui_hint
    from sslctl.ui import RichReporter, summary_table

    reporter = RichReporter(console)
    console.print(
        f"[bold]sslctl pretrain[/] {recipe}: {resolved.method.name} on "
        f"{resolved.data.name}, {resolved.optim.epochs} epochs, seed {resolved.seed}"
    )
    try:
        result = run_pipeline(
            resolved,
            source=str(recipe),
            force=force,
            reporter=reporter,
            say=lambda m: console.print(f"[dim]{m}[/]"),
        )
    except SslctlError as err:
        reporter.stop()
        _fail(err)
    except KeyboardInterrupt:
        reporter.stop()
        console.print(
            "[yellow]interrupted[/]: run the same command again to resume from the last checkpoint"
        )
        raise typer.Exit(130) from None
    reporter.stop()
    if result.reused:
        console.print(
            f"[green]already finished[/]: run {result.run_id} has this recipe "
            f"(hash {result.recipe_hash}); showing its results (--force retrains)"
        )
    console.print(summary_table(result.metrics, f"{resolved.experiment}: {recipe.name}"))
    loss = result.metrics.get("pretrain/loss")
    if loss is not None:
        console.print(
            f"final pretrain loss {loss:.4f}"
            + (f"   wall time {result.seconds:.0f} s" if result.seconds else "")
        )
    from sslctl.tracking import tracking_uri

    console.print(f"MLflow run [bold]{result.run_id}[/] in experiment '{result.experiment}'")
    console.print(f"look next: {mlflow_ui_hint(tracking_uri())}")


def _submit_slurm(resolved: object, recipe: Path, force: bool, wait: bool, console: object) -> None:
    """``pretrain --launcher slurm``: submit, print job id(s), log folder and MLflow run."""
    from sslctl.launch.cluster import folder_of
    from sslctl.launch.slurm import submit_pipeline
    from sslctl.tracking import mlflow_ui_hint, tracking_uri

    sub = submit_pipeline(
        resolved, source=str(recipe), force=force, say=lambda m: console.print(f"[dim]{m}[/]")
    )
    if sub.reused:
        console.print(
            f"[green]already finished[/]: run {sub.run_id} has this recipe "
            f"(hash {sub.recipe_hash}); nothing submitted (--force retrains)"
        )
        return
    lines = [f"submitted SLURM job [bold]{sub.job_id}[/] ({sub.world_size} process(es))"]
    if sub.eval_job_id:
        lines.append(
            f"  then job [bold]{sub.eval_job_id}[/]: the evaluations, after {sub.job_id} "
            "succeeds (afterok)"
        )
    lines += [
        f"  logs:       {sub.folder}"
        + (f", {folder_of(sub.eval_job_id)}" if sub.eval_job_id else ""),
        f"  MLflow run: {sub.run_id} in experiment '{sub.experiment}'",
        f"  follow:     sslctl status   cancel: sslctl cancel {' '.join(sub.jobs)}",
    ]
    console.print("\n".join(lines))
    if not wait:
        console.print(f"look next: {mlflow_ui_hint(tracking_uri())}")
        return
    from sslctl.launch.display import wait_display
    from sslctl.launch.jobs import wait as wait_job

    for job_id in sub.jobs:
        epochs = resolved.optim.epochs if job_id == sub.job_id else 0
        with wait_display(console, job_id, epochs) as update:
            state = wait_job(job_id, sub.run_id, epochs, update)
        console.print(f"job {job_id}: {state}; logs in {folder_of(job_id)}")
        if state != "COMPLETED":
            raise typer.Exit(1)
    from sslctl.tracking import Tracker
    from sslctl.ui import summary_table

    run = Tracker().get(sub.run_id)
    console.print(summary_table(run.metrics, f"{resolved.experiment}: {recipe.name}"))


@app.command()
def status(
    limit: Annotated[int, typer.Option(min=1, help="Unfinished runs to list.")] = 15,
) -> None:
    """SLURM jobs submitted from here (sacct), unfinished runs (MLflow) and sweeps (Optuna)."""

    from sslctl.launch.cluster import submitted_jobs
    from sslctl.overview import open_runs, sweep_progress
    from sslctl.tracking import Tracker, tracking_uri
    from sslctl.ui import open_runs_table, slurm_jobs_table, sweeps_table

    console = _console(width=160)
    entries = submitted_jobs()
    if entries:
        from sslctl.launch.jobs import job_status

        console.print(slurm_jobs_table(job_status(entries)))
    else:
        console.print("no SLURM jobs submitted from this directory")
    runs = open_runs(Tracker(), limit)
    if runs:
        console.print(open_runs_table(runs))
    else:
        console.print(f"no unfinished runs in {tracking_uri()}")
    sweeps = sweep_progress()
    if sweeps:
        console.print(sweeps_table(sweeps))


@app.command()
def cancel(jobs: Annotated[list[str], typer.Argument(help="SLURM job id(s).")]) -> None:
    """Cancel SLURM jobs and close their MLflow runs (checkpoints are kept)."""
    from sslctl.launch.jobs import cancel as cancel_job

    for job in jobs:
        try:
            run_id = cancel_job(job)
        except SslctlError as err:
            _fail(err)
        typer.echo(
            f"cancelled job {job}" + (f"; MLflow run {run_id} marked cancelled" if run_id else "")
        )


@app.command()
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

    console = _console()
    try:
        from sslctl.sweep.spec import load_sweep

        spec = load_sweep(name)
        if launcher not in (None, "local", "slurm"):
            raise SslctlError(f"--launcher: got {launcher!r}; expected 'local' or 'slurm'")
        signal.signal(signal.SIGTERM, _interrupt)
        from sslctl.sweep.run import run_sweep

        result = run_sweep(
            spec,
            storage=storage,
            workers=workers,
            launcher=launcher,
            wait=wait,
            say=lambda m: console.print(f"[dim]{m}[/]"),
        )
    except SslctlError as err:
        _fail(err)
    from sslctl.tracking import mlflow_ui_hint, tracking_uri
    from sslctl.ui import leaderboard_table

    if result.already_finished:
        console.print(f"[green]sweep {spec.name} already finished[/]: showing its results")
    console.print(leaderboard_table(result, spec.objective.metric))
    if result.pending:
        console.print(
            f"SLURM workers {', '.join(result.jobs)} are running the sweep: "
            f"`sslctl status` follows them; `sslctl sweep {name}` again shows the results"
        )
    if result.best_yaml is not None:
        console.print(f"best recipe: {result.best_yaml}  (sslctl pretrain {result.best_yaml})")
    console.print(f"MLflow parent run [bold]{result.parent_run_id}[/]; storage {result.storage}")
    console.print(f"look next: {mlflow_ui_hint(tracking_uri())}")


@app.command()
def bench(
    section: Annotated[
        list[str] | None,
        typer.Option(
            "--section",
            help="augment, pretrain, linear, whitening, cli, "
            "orchestration, memory (repeatable; default all).",
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
        _fail(SslctlError(f"--section: got {bad}; expected some of {list(SECTIONS)}"))
    console = _console()
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


@app.command()
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
    )
    try:
        result = make_report(options, tracking_uri())
    except SslctlError as err:
        _fail(err)
    console = _console()
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(result.text)
        console.print(f"report written to {out}")
    elif result.table is not None:
        console.print(result.table, crop=False)  # a wide table wraps rather than loses columns
    else:
        sys.stdout.write(result.text)
    for path in result.plots:
        console.print(f"plot: {path}")


study_app = typer.Typer(
    help="Reproduce a paper claim with a small exact experiment.", no_args_is_help=True
)
app.add_typer(study_app, name="study")


def _print_study(name: str, title: str, options: dict, rows: list) -> None:
    from rich.console import Console

    from sslctl.studies.report import log_study, rows_table
    from sslctl.tracking import mlflow_ui_hint, tracking_uri

    console = _console()
    table = rows_table(title, rows)
    console.print(table)
    recorder = Console(width=120, record=True, file=io.StringIO())
    recorder.print(table)
    run_id = log_study(name, options, rows, recorder.export_text())
    console.print(f"MLflow run [bold]{run_id}[/] in experiment 'studies'")
    console.print(f"look next: {mlflow_ui_hint(tracking_uri())}")


def _ints(text: str, option: str) -> tuple[int, ...]:
    try:
        return tuple(int(v) for v in text.split(","))
    except ValueError:
        _fail(SslctlError(f"{option}: got {text!r}; expected comma-separated integers"))


@study_app.command("spectral")
def study_spectral(
    methods: Annotated[str, typer.Option(help="Comma-separated methods.")] = "vicreg,simclr,barlow",
    seeds: Annotated[str, typer.Option(help="Comma-separated seeds.")] = "0,1,2",
    samples: Annotated[int, typer.Option(min=16)] = 512,
    dim: Annotated[int, typer.Option(min=2)] = 12,
    k: Annotated[int, typer.Option(min=1, help="Embedding dimension K.")] = 3,
    steps: Annotated[int, typer.Option(min=1)] = 3000,
) -> None:
    """Balestriero & LeCun: trained linear encoders vs the closed form (principal angles)."""
    from sslctl.studies.spectral import run_spectral_study

    names = tuple(methods.split(","))
    bad = [m for m in names if m not in ("vicreg", "simclr", "barlow")]
    if bad or k >= dim:
        _fail(
            SslctlError(
                f"--methods: got {bad or names}; expected vicreg, simclr, barlow, "
                f"with --k ({k}) < --dim ({dim})"
            )
        )
    rows = run_spectral_study(
        methods=names, seeds=_ints(seeds, "--seeds"), n=samples, d=dim, k=k, steps=steps
    )
    _print_study(
        "spectral",
        "linear SSL vs the VICReg closed form (cosines of principal angles; 1 = same subspace)",
        {
            "methods": methods,
            "seeds": seeds,
            "samples": samples,
            "dim": dim,
            "k": k,
            "steps": steps,
        },
        rows,
    )


@study_app.command("ica")
def study_ica(
    sources: Annotated[str, typer.Option(help="Comma-separated source counts.")] = "8",
    seeds: Annotated[str, typer.Option(help="Comma-separated seeds.")] = "0,1,2",
    samples: Annotated[int, typer.Option(min=100)] = 2000,
    width: Annotated[int, typer.Option(min=1, help="Random projector width.")] = 256,
    steps: Annotated[int, typer.Option(min=1)] = 600,
    kind: Annotated[str, typer.Option(help="laplace or uniform sources.")] = "laplace",
) -> None:
    """Mialon et al.: linear ICA by VCReg on a random projector, next to FastICA."""
    from sslctl.studies.ica import run_ica_study

    if kind not in ("laplace", "uniform"):
        _fail(SslctlError(f"--kind: got {kind!r}; expected laplace or uniform"))
    rows = run_ica_study(
        sources=_ints(sources, "--sources"),
        seeds=_ints(seeds, "--seeds"),
        samples=samples,
        width=width,
        steps=steps,
        kind=kind,
    )
    _print_study(
        "ica",
        "linear ICA: Amari distance (0 = perfect) and matched |correlation|",
        {
            "sources": sources,
            "seeds": seeds,
            "samples": samples,
            "width": width,
            "steps": steps,
            "kind": kind,
        },
        rows,
    )


def main() -> None:
    """Entry point of the ``sslctl`` script."""
    try:
        app()
    except SslctlError as err:  # raised outside a command's own handling
        print(f"error: {err}", file=sys.stderr)
        sys.exit(err.exit_code)
