"""``--wait``: a live progress line for a SLURM job (state, stage, epoch bar)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any


@contextlib.contextmanager
def wait_display(
    console: Any, job_id: str, epochs: int
) -> Iterator[Callable[[str, str, int], None]]:
    """Yields ``update(state, stage, epoch)`` drawing a rich progress bar."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    progress = Progress(
        TextColumn("job {task.fields[job]}"),
        TextColumn("[bold]{task.fields[state]:<10}[/]"),
        TextColumn("{task.fields[stage]:<12}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("epochs"),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    )
    task = progress.add_task("", total=epochs, job=job_id, state="PENDING", stage="queued")
    seen: list[str] = []

    def update(state: str, stage: str, epoch: int) -> None:
        if seen and seen[-1] != state:
            progress.console.print(f"[dim]job {job_id}: {seen[-1]} -> {state}[/]")
        seen.append(state)
        progress.update(task, completed=epoch, state=state, stage=stage)

    with progress:
        yield update
