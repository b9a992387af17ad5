"""``sslctl validate`` and ``sslctl pretrain`` (locally, or submitted to SLURM)."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer

from sslctl.cli.common import (
    RecipeArg,
    SetOpt,
    escape,
    fail,
    make_console,
    raise_keyboard_interrupt,
)
from sslctl.errors import SslctlError
from sslctl.vocabulary import Tag


def validate(recipe: RecipeArg, set_: SetOpt = None) -> None:
    """Print the fully resolved recipe, or the errors (exit code 2)."""
    from sslctl.recipe import load_recipe, recipe_hash, to_yaml
    from sslctl.recipe.checks import check_device_here

    try:
        resolved = load_recipe(recipe, set_ or [])
        if resolved.launcher.kind == "local":
            check_device_here(resolved, str(recipe))
    except SslctlError as err:
        fail(err)
    typer.echo(f"# {recipe} (hash {recipe_hash(resolved)})")
    typer.echo(to_yaml(resolved), nl=False)


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
        bool,
        typer.Option(
            help="With --launcher slurm: follow the job until it ends. Locally: when the "
            "same recipe is running in another process, wait for it instead of exiting."
        ),
    ] = False,
) -> None:
    """Run the pipeline pretrain -> linear eval -> OOD eval (+ baselines) for a recipe."""
    import json

    from sslctl.recipe import load_recipe
    from sslctl.recipe.checks import check_device_here

    console = make_console()
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
        check_device_here(resolved, str(recipe))
    except SslctlError as err:
        fail(err)
    result = _run_here(resolved, recipe, _command(recipe, set_ or [], force), force, wait, console)
    _print_result(result, resolved, recipe, console)


def _run_here(
    resolved: Any, recipe: Path, command: str, force: bool, wait: bool, console: Any
) -> Any:
    """The pipeline in this process, with progress bars; Ctrl-C or SIGTERM leaves a
    resumable run (exit 130), an sslctl error exits 2."""
    from sslctl.cli.evaluate import reporter_for
    from sslctl.pipeline import run_pipeline

    signal.signal(signal.SIGTERM, raise_keyboard_interrupt)
    reporter = reporter_for(console)
    console.print(
        f"[bold]sslctl pretrain[/] {escape(recipe)}: {resolved.method.name} on "
        f"{escape(resolved.data.name)}, {resolved.optim.epochs} epochs, seed {resolved.seed}"
    )
    try:
        with one_at_a_time(resolved, wait, console):
            result = run_pipeline(
                resolved,
                source=str(recipe),
                force=force,
                reporter=reporter,
                say=lambda m: console.print(f"[dim]{escape(m)}[/]"),
                progress=reporter.progress_of,
                extra_tags={Tag.COMMAND: command},
            )
    except SslctlError as err:
        reporter.stop()
        fail(err)
    except KeyboardInterrupt:
        reporter.stop()
        console.print(
            "[yellow]interrupted[/]: run the same command again to resume from the last checkpoint"
        )
        raise typer.Exit(130) from None
    reporter.stop()
    return result


def _print_result(result: Any, resolved: Any, recipe: Path, console: Any) -> None:
    """The summary table, the final loss and wall time, and where to look next."""
    from sslctl.tracking import mlflow_ui_hint, tracking_uri
    from sslctl.ui import summary_table

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
    console.print(
        f"MLflow run [bold]{result.run_id}[/] in experiment '{escape(result.experiment)}'"
    )
    console.print(f"look next: {escape(mlflow_ui_hint(tracking_uri()))}")


@contextmanager
def one_at_a_time(resolved: Any, wait: bool, console: Any) -> Iterator[None]:
    """Hold this recipe's lock (``.sslctl/runs/<hash>.lock``) while it runs here: a second
    process with the same recipe exits (code 3) naming the holder, pid, host and MLflow
    run, or with ``wait`` waits for it and then finds the recipe finished."""
    from sslctl.locks import RecipeBusy, describe_owner, recipe_lock
    from sslctl.paths import recipe_lock as lock_file
    from sslctl.recipe import recipe_hash

    rhash = recipe_hash(resolved)

    def with_run(owner: dict[str, Any]) -> dict[str, Any]:
        from sslctl.tracking import Tracker

        running = [r for r in Tracker().find(resolved.experiment, rhash) if r.status == "RUNNING"]
        return {**owner, "run_id": running[0].run_id} if running else owner

    def waiting(owner: dict[str, Any]) -> None:
        console.print(
            f"[yellow]waiting[/]: recipe {rhash} is running in another process "
            f"({escape(describe_owner(with_run(owner)))})"
        )

    try:
        with recipe_lock(lock_file(rhash), rhash, wait=wait, on_wait=waiting):
            yield
    except RecipeBusy as busy:
        raise RecipeBusy(rhash, with_run(busy.owner)) from None


def _command(recipe: Path, sets: list[str], force: bool) -> str:
    """The command line that runs (and resumes) this pretraining, for ``sslctl status``."""
    import shlex

    args = ["sslctl", "pretrain", str(recipe), *(f"--set={s}" for s in sets)]
    return shlex.join(args)


def _submit_slurm(resolved: object, recipe: Path, force: bool, wait: bool, console: object) -> None:
    """``pretrain --launcher slurm``: submit, print job id(s), log folder and MLflow run."""
    from sslctl.launch.slurm import submit_pipeline
    from sslctl.paths import job_folder
    from sslctl.tracking import mlflow_ui_hint, tracking_uri

    sub = submit_pipeline(
        resolved,
        source=str(recipe),
        force=force,
        say=lambda m: console.print(f"[dim]{escape(m)}[/]"),
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
        f"  logs:       {escape(sub.folder)}"
        + (f", {escape(job_folder(sub.eval_job_id))}" if sub.eval_job_id else ""),
        f"  MLflow run: {sub.run_id} in experiment '{escape(sub.experiment)}'",
        f"  follow:     sslctl status   cancel: sslctl cancel {' '.join(sub.jobs)}",
    ]
    console.print("\n".join(lines))
    if not wait:
        console.print(f"look next: {escape(mlflow_ui_hint(tracking_uri()))}")
        return
    from sslctl.launch.display import wait_display
    from sslctl.launch.jobs import wait as wait_job

    for job_id in sub.jobs:
        epochs = resolved.optim.epochs if job_id == sub.job_id else 0
        with wait_display(console, job_id, epochs) as update:
            state = wait_job(job_id, sub.run_id, epochs, update)
        console.print(f"job {job_id}: {state}; logs in {escape(job_folder(job_id))}")
        if state != "COMPLETED":
            raise typer.Exit(1)
    from sslctl.tracking import Tracker
    from sslctl.ui import summary_table

    run = Tracker().get(sub.run_id)
    console.print(summary_table(run.metrics, f"{resolved.experiment}: {recipe.name}"))
