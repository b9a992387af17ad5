"""``sslctl evaluate``: the evaluations of a pretrained run (or an external checkpoint)
into its MLflow run, without pretraining."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Annotated, Any

import typer

from sslctl.cli.common import SetOpt, fail, make_console, raise_keyboard_interrupt
from sslctl.errors import SslctlError


def reporter_for(console: Any) -> Any:
    """Progress bars on a terminal, periodic plain lines otherwise (logs, pipes)."""
    if console.is_terminal:
        from sslctl.ui import RichReporter

        return RichReporter(console)
    from sslctl.progress import PlainReporter

    return PlainReporter(lambda line: console.print(line, markup=False, highlight=False))


def evaluate(
    target: Annotated[
        str,
        typer.Argument(
            help="An MLflow run id, a recipe .yaml (its pretrained run), or a backbone "
            "checkpoint file (.pt/.pth/.ckpt; with --recipe).",
            show_default=False,
        ),
    ],
    ood: Annotated[
        list[str] | None,
        typer.Option(
            "--ood",
            help="Add an OOD set: a name (digits, mnist5k-c), a folder of <class>/ images, "
            "or NAME=SOURCE for a short name (repeatable).",
        ),
    ] = None,
    linear: Annotated[bool, typer.Option(help="Run the linear probe (and OOD).")] = False,
    knn: Annotated[bool, typer.Option(help="Run the kNN evaluation.")] = False,
    force: Annotated[
        bool, typer.Option(help="Evaluate again even where the settings are unchanged.")
    ] = False,
    recipe: Annotated[
        Path | None,
        typer.Option(help="For a checkpoint: the recipe giving data, model and evaluations."),
    ] = None,
    set_: SetOpt = None,
) -> None:
    """Evaluate a pretrained run, or an external checkpoint, without pretraining."""
    from sslctl.evaluate_target import evaluate as run_evaluate

    console = make_console()
    signal.signal(signal.SIGTERM, raise_keyboard_interrupt)
    reporter = reporter_for(console)
    try:
        result = run_evaluate(
            target,
            recipe_path=recipe,
            ood=ood or [],
            linear=linear,
            knn=knn,
            force=force,
            sets=set_ or [],
            say=lambda m: console.print(m, style="dim", markup=False, highlight=False),
            progress=reporter.progress_of,
        )
    except SslctlError as err:
        reporter.stop()
        fail(err)
    except KeyboardInterrupt:
        reporter.stop()
        console.print("[yellow]interrupted[/]: the run keeps its earlier results")
        raise typer.Exit(130) from None
    reporter.stop()
    from sslctl.tracking import mlflow_ui_hint, tracking_uri
    from sslctl.ui import summary_table

    if result.reused:
        console.print(
            f"[green]up to date[/]: run {result.run_id} has these evaluations "
            "(--force evaluates again)"
        )
    console.print(summary_table(result.metrics, f"{result.experiment}: run {result.run_id}"))
    console.print(f"MLflow run [bold]{result.run_id}[/] in experiment '{result.experiment}'")
    console.print(f"look next: {mlflow_ui_hint(tracking_uri())}")
