"""Errors that sslctl reports to the user (exit code 2) rather than as a traceback."""

from __future__ import annotations


class SslctlError(Exception):
    """A problem the user can fix: bad input, missing file, unreachable service.

    The CLI prints the message (no traceback) and exits with code 2.
    """

    exit_code = 2


class RecipeError(SslctlError):
    """A recipe (or a --set override) is invalid.

    ``problems`` holds one line per problem, each naming the field path, the value and
    what was expected.
    """

    def __init__(self, source: str, problems: list[str]):
        self.source = source
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"invalid recipe {source}:\n{lines}")


class NumericalError(SslctlError):
    """A matrix step (whitening, eigendecomposition) met a singular or non-finite input."""


class Pruned(Exception):
    """Raised inside a pipeline by a sweep's pruner: stop this run, it is not promising."""
