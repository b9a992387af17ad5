"""Progress as plain lines, for output that is not a terminal (SLURM logs, nohup, CI).

Progress bars redraw in place, which a log file cannot show: rich prints nothing until
they stop. :class:`PlainReporter` instead prints a line per pretraining epoch and, for
the steps of an epoch and for the evaluations (feature extraction per split and OOD set,
linear-probe epochs), a line at most every ``interval`` seconds (``SSLCTL_PROGRESS_EVERY``,
default 15) plus one when each evaluation step ends, so a log shows where a job is.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

DEFAULT_INTERVAL = 15.0


def interval_from_env() -> float:
    """``SSLCTL_PROGRESS_EVERY`` seconds (default 15; 0 prints every event)."""
    try:
        return max(0.0, float(os.environ.get("SSLCTL_PROGRESS_EVERY", DEFAULT_INTERVAL)))
    except ValueError:
        return DEFAULT_INTERVAL


class PlainReporter:
    """Pretraining and evaluation progress as periodic plain lines."""

    def __init__(
        self,
        write: Callable[[str], None] | None = None,
        interval: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.write = write or (lambda line: print(line, flush=True))
        self.interval = interval_from_env() if interval is None else interval
        self.clock = clock
        self.start_time = clock()
        self.last = -float("inf")
        self.epochs = 0
        self.epoch_no = 0
        self.steps = 0
        self.step_no = 0

    def _elapsed(self) -> str:
        return f"[{self.clock() - self.start_time:.0f} s]"

    def _due(self) -> bool:
        now = self.clock()
        if now - self.last >= self.interval:
            self.last = now
            return True
        return False

    def start(self, epochs: int, first_epoch: int, steps_per_epoch: int) -> None:
        self.epochs, self.epoch_no, self.steps = epochs, first_epoch, steps_per_epoch
        self.step_no = 0
        self.write(
            f"pretrain: epochs {first_epoch + 1}..{epochs}, {steps_per_epoch} steps each "
            f"{self._elapsed()}"
        )

    def step(self) -> None:
        self.step_no += 1
        if self._due():
            self.write(
                f"pretrain epoch {self.epoch_no + 1}/{self.epochs}: step "
                f"{self.step_no}/{self.steps} {self._elapsed()}"
            )

    def epoch(self, stats: Any) -> None:
        self.epoch_no, self.step_no = stats.epoch, 0
        self.last = self.clock()
        self.write(
            f"pretrain epoch {stats.epoch}/{self.epochs}: loss {stats.loss:.4f}, "
            f"{stats.images_per_s:.0f} img/s {self._elapsed()}"
        )

    def progress_of(self, what: str, done: int, total: int) -> None:
        """An evaluation step: ``what`` (e.g. ``features ood digits``), ``done`` of ``total``."""
        if done == total or self._due():
            self.last = self.clock()
            self.write(f"eval {what}: {done}/{total} {self._elapsed()}")

    def stop(self) -> None: ...
