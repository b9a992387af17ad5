"""Printing user values safely: rich reads ``[...]`` as markup and a terminal obeys the
escape sequences a value may carry, so every user value goes through :func:`escape`
before it reaches a rich console (names, paths, recipe values, run ids, messages)."""

from __future__ import annotations

from typing import Any


def visible(text: str, keep: str = "") -> str:
    """``text`` with every control character (C0, DEL, C1) written as its Python escape
    (``\\x1b``, ``\\n``), except the characters in ``keep``."""
    out = []
    for char in text:
        code = ord(char)
        if char in keep or not (code < 32 or 127 <= code < 160):
            out.append(char)
        else:
            out.append(repr(char)[1:-1])
    return "".join(out)


def escape(value: Any, keep: str = "") -> str:
    """``str(value)`` with control characters made visible and rich markup escaped, so it
    prints exactly as written (``[wip] vicreg`` stays ``[wip] vicreg``)."""
    from rich.markup import escape as rich_escape

    return rich_escape(visible(str(value), keep))
