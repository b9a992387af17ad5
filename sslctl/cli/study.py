"""``sslctl study ...``: small exact experiments that reproduce a paper claim."""

from __future__ import annotations

import io
from typing import Annotated

import typer

from sslctl.cli.common import fail, make_console
from sslctl.errors import SslctlError

study_app = typer.Typer(
    help="Reproduce a paper claim with a small exact experiment.", no_args_is_help=True
)


def _print_study(name: str, title: str, options: dict, rows: list) -> None:
    from rich.console import Console

    from sslctl.studies.report import rows_table
    from sslctl.study_log import log_study
    from sslctl.tracking import mlflow_ui_hint, tracking_uri

    console = make_console()
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
        fail(SslctlError(f"{option}: got {text!r}; expected comma-separated integers"))


@study_app.command("spectral")
def study_spectral(
    methods: Annotated[str, typer.Option(help="Comma-separated methods.")] = "vicreg,simclr,barlow",
    seeds: Annotated[str, typer.Option(help="Comma-separated seeds.")] = "0,1,2",
    samples: Annotated[int, typer.Option(min=16)] = 256,
    dim: Annotated[int, typer.Option(min=2)] = 12,
    k: Annotated[int, typer.Option(min=1, help="Embedding dimension K.")] = 3,
    steps: Annotated[int, typer.Option(min=1)] = 3000,
) -> None:
    """Balestriero & LeCun: trained linear encoders vs the closed form (principal angles)."""
    from sslctl.studies.spectral import run_spectral_study

    names = tuple(methods.split(","))
    bad = [m for m in names if m not in ("vicreg", "simclr", "barlow")]
    if bad or k >= dim:
        fail(
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
        "linear SSL vs the VICReg closed form: 1 - cos of principal angles (0 = same "
        "subspace); pca = a baseline that ignores the pairing",
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
        fail(SslctlError(f"--kind: got {kind!r}; expected laplace or uniform"))
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
