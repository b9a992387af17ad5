"""What every command shares: error exit, console, recipe arguments, SIGTERM handling."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer

from sslctl.errors import SslctlError
from sslctl.markup import escape

__all__ = ["RecipeArg", "SetOpt", "escape", "fail", "make_console", "raise_keyboard_interrupt"]

RecipeArg = Annotated[Path, typer.Argument(help="Recipe YAML file.", show_default=False)]
SetOpt = Annotated[
    list[str] | None,
    typer.Option("--set", help="Override a recipe field: --set projector.width=4096 (repeatable)."),
]


def fail(err: SslctlError) -> NoReturn:
    """Print ``err`` on stderr, verbatim, and exit with its code (2 for bad input)."""
    from rich.console import Console

    # escape: messages quote user values such as "[digits]" that rich would read as markup,
    # and may carry a user's control characters (shown as \x1b, not obeyed)
    Console(stderr=True).print(f"[bold red]error:[/] {escape(err, keep=chr(10))}", highlight=False)
    raise typer.Exit(err.exit_code)


def make_console(width: int = 120) -> Any:
    """A rich console; when the output is piped or captured (logs, CI, tests), ``width``
    columns instead of rich's 80, so that tables keep their headers."""
    from rich.console import Console

    console = Console()
    return console if console.is_terminal else Console(width=width)


def raise_keyboard_interrupt(signum: int, frame: object) -> None:
    """SIGTERM handler: stop like Ctrl-C (checkpoint kept, run resumable)."""
    raise KeyboardInterrupt
