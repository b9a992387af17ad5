"""``sslctl claims``: the papers' claims (``claims/*.yaml``), checked with a verdict."""

from __future__ import annotations

import json
import signal
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from sslctl.cli.common import fail, make_console, raise_keyboard_interrupt
from sslctl.errors import SslctlError

claims_app = typer.Typer(
    help="The papers' claims as experiments: list them, check them, report the verdicts.",
    invoke_without_command=True,
)
REPORT_FORMATS = ("table", "markdown", "latex", "json")


@claims_app.callback()
def claims_list(ctx: typer.Context) -> None:
    """List the shipped claims (claims/*.yaml): statement, source, test, direction."""
    if ctx.invoked_subcommand is not None:
        return
    from rich.markup import escape
    from rich.table import Table

    from sslctl.claims.spec import claim_paths, load_claim

    table = Table(title="claims (sslctl claims check NAME)", show_lines=True)
    for col in ("name", "statement", "source", "test"):
        table.add_column(col)
    try:
        for path in claim_paths():
            c = load_claim(str(path))
            quote = f'"{c.statement.text}"' if c.statement.quoted else c.statement.text
            note = "" if c.statement.quoted else " (paraphrase)"
            varied = c.vary.field if c.vary else ", ".join(c.arms) or "methods of the study"
            table.add_row(
                escape(c.name),
                escape(quote + note),
                escape(f"{c.statement.paper}, {c.statement.section}"),
                escape(
                    f"{c.test}: {c.measure} {c.direction}s"
                    + (f" with {c.x_metric or c.vary.field}" if c.vary else "")
                    + (f" (vs {c.threshold:g})" if c.threshold else "")
                    + f"; varies {varied}; {c.seeds} seeds"
                ),
            )
    except SslctlError as err:
        fail(err)
    make_console().print(table)


@claims_app.command("check")
def claims_check(
    name: Annotated[
        str | None, typer.Argument(help="Claim name (claims/NAME.yaml) or path.")
    ] = None,
    all_: Annotated[bool, typer.Option("--all", help="Check every shipped claim.")] = False,
    seeds: Annotated[
        int | None, typer.Option(help="Seeds per point (default: the claim's).")
    ] = None,
    scale: Annotated[str, typer.Option(help="quick (CPU, built-in data) or paper.")] = "quick",
    workers: Annotated[int, typer.Option(min=1, help="Parallel pipeline processes.")] = 1,
    launcher: Annotated[str, typer.Option(help="local or slurm.")] = "local",
    out: Annotated[Path, typer.Option(help="Folder for the plots.")] = Path("claims-out"),
) -> None:
    """Run what a claim is missing (finished runs are reused) and print its verdict."""
    from sslctl.claims.spec import claim_paths, load_claim

    console = make_console()
    try:
        if scale not in ("quick", "paper"):
            raise SslctlError(f"--scale: got {scale!r}; expected quick or paper")
        if launcher not in ("local", "slurm"):
            raise SslctlError(f"--launcher: got {launcher!r}; expected local or slurm")
        if (name is None) == (not all_):
            raise SslctlError("give a claim NAME or --all")
        names = [str(p) for p in claim_paths()] if all_ else [name]
        claims = [load_claim(n, seeds) for n in names]  # all validated before anything runs
        for claim in claims:
            if scale not in claim.scales:
                raise SslctlError(f"claim {claim.name}: scales.{scale} is not defined")
    except SslctlError as err:
        fail(err)
    signal.signal(signal.SIGTERM, raise_keyboard_interrupt)
    from sslctl.claims.check import check_claim
    from sslctl.claims.run import run_all_missing

    def say(message: str) -> None:
        console.print(f"[dim]{_escape(message)}[/]")

    pooled = len(claims) > 1  # --all: every claim's missing runs in one pool first
    studied = {}
    if pooled:
        try:
            studied = run_all_missing(claims, scale, workers=workers, launcher=launcher, say=say)
        except SslctlError as err:
            fail(err)
    for claim in claims:
        try:
            result, parent, png = check_claim(
                claim,
                scale,
                workers=workers,
                launcher=launcher,
                plot_dir=out,
                run=not pooled,
                trials=studied.get(claim.name),
                say=say,
            )
        except SslctlError as err:
            fail(err)
        console.print(_verdict_table([result.to_dict()]))
        for note in result.notes:
            console.print(f"[yellow]note:[/] {_escape(note)}")
        console.print(f"runs used: {len(result.run_ids)}; MLflow check run {parent}; plot {png}")


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)


def _rows(results: list[dict[str, Any]]) -> list[list[str]]:
    rows = []
    for r in results:
        for c in r["comparisons"] or [None]:
            if c is None:
                rows.append([r["name"], r["verdict"], "-", "-", "-", "-", r["scale"]])
                continue
            p = "-" if c["p"] is None else f"{c['p']:.3g}"
            rows.append(
                [
                    r["name"],
                    f"{r['verdict']} ({c['verdict']})"
                    if len(r["comparisons"]) > 1
                    else r["verdict"],
                    c["effect"],
                    f"{c['estimate']:.4g} [{c['low']:.4g}, {c['high']:.4g}]",
                    str(c["n"]),
                    p,
                    r["scale"],
                ]
            )
    return rows


HEADER = ["claim", "verdict", "effect", "estimate [95% interval]", "n", "p", "scale"]


def _verdict_table(results: list[dict[str, Any]]) -> Any:
    from rich.table import Table

    table = Table(title="claims: verdicts as measured")
    rows = _rows(results)
    longest_name = max((len(row[0]) for row in rows), default=0)
    for col in HEADER:  # claim names whole (other columns wrap on a narrow terminal)
        table.add_column(col, min_width=longest_name if col == "claim" else None)
    for row in rows:
        table.add_row(*(_escape(v) for v in row))
    return table


def render_report(results: list[dict[str, Any]], fmt: str) -> str:
    """Markdown, LaTeX (booktabs) or JSON text of the verdicts."""
    if fmt == "json":
        return json.dumps(results, indent=2) + "\n"
    rows = _rows(results)
    if fmt == "markdown":
        lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
        lines += ["| " + " | ".join(v.replace("|", "\\|") for v in row) + " |" for row in rows]
        return "\n".join(lines) + "\n"
    from sslctl.report.formats import tex as latex_escape

    lines = [
        "\\begin{tabular}{" + "l" * len(HEADER) + "}",
        "\\toprule",
        " & ".join(latex_escape(h) for h in HEADER) + " \\\\",
        "\\midrule",
        *(" & ".join(latex_escape(v) for v in row) + " \\\\" for row in rows),
        "\\bottomrule",
        "\\end{tabular}",
    ]
    return "\n".join(lines) + "\n"


@claims_app.command("report")
def claims_report(
    format_: Annotated[
        str, typer.Option("--format", help="table, markdown, latex or json.")
    ] = "table",
    scale: Annotated[str | None, typer.Option(help="Only checks at this scale.")] = None,
    out: Annotated[Path | None, typer.Option(help="Write the report to this file.")] = None,
) -> None:
    """One table of every claim's newest verdict (from the MLflow store)."""
    if format_ not in REPORT_FORMATS:
        fail(SslctlError(f"--format: got {format_!r}; expected one of {', '.join(REPORT_FORMATS)}"))
    from sslctl.claims.check import latest_checks

    results = latest_checks(scale)
    if not results:
        fail(SslctlError("no claim has been checked yet; run `sslctl claims check NAME`"))
    if format_ == "table" and out is None:
        make_console().print(_verdict_table(results))
        return
    text = render_report(results, "markdown" if format_ == "table" else format_)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text)
        make_console().print(f"report written to {out}")
    else:
        sys.stdout.write(text)
