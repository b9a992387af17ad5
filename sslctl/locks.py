"""Cross-process locks: one for the first creation of an MLflow store and of an experiment
in it, one per recipe hash so that a recipe runs in one process at a time, one per
packed-dataset folder while ``sslctl data pack`` writes it.

Both are advisory ``flock`` locks (the ``filelock`` package): the kernel releases them
when their holder dies, so a killed process never leaves a lock behind. The recipe lock
also writes who holds it (pid, host, start time) next to it, for the message the next
process prints.
"""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

from sslctl.errors import SslctlError

STORE_LOCK_TIMEOUT_S = 600.0  # creating a store takes seconds; a hung creator is not normal


class RecipeBusy(SslctlError):
    """The same recipe (same hash) is running in another process."""

    exit_code = 3

    def __init__(self, recipe_hash: str, owner: dict[str, Any]) -> None:
        self.recipe_hash = recipe_hash
        self.owner = owner
        hint = (
            f"follow it with `sslctl status`, or `sslctl cancel {owner['job']}`"
            if owner.get("job")
            else "wait for it (--wait) or run it again when it is done"
        )
        super().__init__(
            f"recipe {recipe_hash} is already running: {describe_owner(owner)}; {hint}"
        )


def describe_owner(owner: dict[str, Any]) -> str:
    """``pid 123 on host node1 since 14:02:11 UTC, MLflow run abc`` (what is known)."""
    if not owner:
        return "holder unknown"
    if owner.get("job"):
        parts = [f"SLURM job {owner['job']}"]
    else:
        parts = [f"pid {owner.get('pid', '?')} on host {owner.get('host', '?')}"]
    if owner.get("started"):
        parts.append(time.strftime("since %H:%M:%S UTC", time.gmtime(owner["started"])))
    if owner.get("run_id"):
        parts.append(f"MLflow run {owner['run_id']}")
    return ", ".join(parts)


@contextmanager
def file_lock(path: Path, timeout: float = STORE_LOCK_TIMEOUT_S) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (created with its folder), waiting at most
    ``timeout`` seconds; a :class:`SslctlError` names the file when that is exceeded."""
    from filelock import FileLock, Timeout

    path.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(path), timeout=timeout)
    try:
        lock.acquire()
    except Timeout:
        raise SslctlError(
            f"{path}: still locked by another process after {timeout:.0f} s; if no sslctl "
            "process is running, remove the lock file"
        ) from None
    try:
        yield
    finally:
        lock.release()


def process_alive(pid: int) -> bool:
    """Whether process ``pid`` of this host is running (another user's counts as running)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _owner_file(lock: Path) -> Path:
    return lock.with_suffix(".owner.json")


def read_owner(lock: Path) -> dict[str, Any]:
    """Who holds (or last held) ``lock``; empty when unknown."""
    try:
        data = json.loads(_owner_file(lock).read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


@contextmanager
def owned_lock(
    lock: Path,
    *,
    busy: Callable[[dict[str, Any]], Exception] | None = None,
    on_wait: Callable[[dict[str, Any]], None] | None = None,
    poll_s: float = 2.0,
) -> Iterator[None]:
    """Hold ``lock`` and write who holds it beside it. When another process holds it:
    raise ``busy(owner)`` at once, or without ``busy`` wait until it is released, calling
    ``on_wait(owner)`` once first."""
    from filelock import FileLock, Timeout

    lock.parent.mkdir(parents=True, exist_ok=True)
    held = FileLock(str(lock), timeout=0)
    told = False
    while True:
        try:
            held.acquire()
            break
        except Timeout:
            owner = read_owner(lock)
            if busy is not None:
                raise busy(owner) from None
            if not told and on_wait is not None:
                on_wait(owner)
                told = True
            time.sleep(poll_s)
    owner = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.time()}
    try:
        _owner_file(lock).write_text(json.dumps(owner))
        yield
    finally:
        held.release()


def recipe_lock(
    lock: Path,
    recipe_hash: str,
    *,
    wait: bool = False,
    on_wait: Callable[[dict[str, Any]], None] | None = None,
    poll_s: float = 2.0,
) -> AbstractContextManager[None]:
    """Run one recipe in one process at a time. Without ``wait`` a held lock raises
    :class:`RecipeBusy` at once (naming the holder); with ``wait`` this blocks until the
    holder is done, calling ``on_wait(owner)`` once first."""
    busy = None if wait else (lambda owner: RecipeBusy(recipe_hash, owner))
    return owned_lock(lock, busy=busy, on_wait=on_wait, poll_s=poll_s)
