"""The ``sslctl`` command line: parses, prints, exits. No logic of its own.

Heavy libraries (torch, mlflow, optuna) are imported inside the commands so that
``sslctl --help`` answers at once. One module per group of commands; this one assembles
the application in the order ``--help`` lists it.
"""

from __future__ import annotations

import sys

import typer

from sslctl.cli import claims, data, evaluate, jobs, results, run, study
from sslctl.errors import SslctlError

app = typer.Typer(
    name="sslctl",
    help="Run joint-embedding SSL experiments: pretrain -> linear eval -> OOD eval, "
    "tracked in MLflow.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
for command in (
    run.validate,
    run.pretrain,
    evaluate.evaluate,
    jobs.status,
    jobs.cancel,
    results.sweep,
    results.bench,
    results.report,
):
    app.command()(command)
app.add_typer(study.study_app, name="study")
app.add_typer(data.data_app, name="data")
app.add_typer(claims.claims_app, name="claims")


def main() -> None:
    """Entry point of the ``sslctl`` script."""
    try:
        app()
    except SslctlError as err:  # raised outside a command's own handling
        from sslctl.markup import visible

        print(f"error: {visible(str(err), keep=chr(10))}", file=sys.stderr)
        sys.exit(err.exit_code)
