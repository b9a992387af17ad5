"""SLURM time limits, parsed without SLURM: the recipe validator checks ``launcher.time``
with this (core layer), the launcher converts it for submitit."""

from __future__ import annotations

import re

_TIME = re.compile(r"^(?:(?P<d>\d+)-)?(?P<a>\d+)(?::(?P<b>\d+))?(?::(?P<c>\d+))?$")


def time_minutes(text: str) -> int:
    """A SLURM time limit in whole minutes (rounded up). Accepts the sbatch formats
    ``M``, ``M:S``, ``H:M:S``, ``D-H``, ``D-H:M`` and ``D-H:M:S``."""
    m = _TIME.match(str(text).strip())
    if m is None:
        raise ValueError(f"got {text!r}; expected a SLURM time such as 30, 04:00:00 or 1-12:00:00")
    d, a, b, c = (int(m[g]) if m[g] is not None else None for g in "dabc")
    if d is not None:  # D-H, D-H:M, D-H:M:S
        seconds = d * 86400 + a * 3600 + (b or 0) * 60 + (c or 0)
    elif c is not None:  # H:M:S
        seconds = a * 3600 + (b or 0) * 60 + c
    elif b is not None:  # M:S
        seconds = a * 60 + b
    else:  # M
        seconds = a * 60
    if seconds <= 0:
        raise ValueError(f"got {text!r}; expected a positive time limit")
    return -(-seconds // 60)
