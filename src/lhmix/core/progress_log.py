"""Progress of a long phase (an epoch's steps, scoring, the similarity precompute, prepare) as log
records a person can read in any log, a terminal, a SLURM file or the parallel runner's: one line at
most every `interval` seconds, and one at the end of a phase that lasted an interval or more (a
shorter phase stays silent: its caller's summary says enough), e.g.

    epoch 3/60 (cap), step 40/126, 12.4 s elapsed, ETA 26.7 s, loss 0.1234

The ETA assumes the remaining items go at the mean pace so far: elapsed / done x (total - done).
Without a known total (a streamed split), a line gives the count and the pace instead.
The timestamp comes from the logging setup (lhmix.core.logs). Not to be confused with
lhmix.training.progress, the early-stopping record of a run.
"""
from __future__ import annotations

import logging
import time
from typing import Callable

from lhmix.core.logs import logger as lhmix_logger

# Seconds between two progress lines of one phase.
INTERVAL_SECONDS = 30.0


def duration(seconds: float) -> str:
    """'12.4 s', '4 min 05 s', '2 h 03 min'."""
    if seconds < 60:
        return f"{seconds:.1f} s"
    whole = round(seconds)
    if whole < 3600:
        return f"{whole // 60} min {whole % 60:02d} s"
    return f"{whole // 3600} h {whole % 3600 // 60:02d} min"


class ProgressLog:
    """Count the items of one phase with `advance`; `finish` logs the end line. `note`, when set, ends
    each line (e.g. the last checked loss). interval None: INTERVAL_SECONDS as it is when the phase
    starts. enabled=False (ranks other than 0) logs nothing."""

    def __init__(self, label: str, total: int | None, unit: str, *, interval: float | None = None,
                 logger: logging.Logger = lhmix_logger, clock: Callable[[], float] = time.monotonic,
                 enabled: bool = True):
        self.label, self.total, self.unit = label, total, unit
        self.interval = INTERVAL_SECONDS if interval is None else interval
        self.logger, self.clock, self.enabled = logger, clock, enabled
        self.done, self.note, self.lines = 0, "", 0
        self.start = self.last_line = clock()

    def advance(self, count: int = 1) -> None:
        self.done += count
        if not self.enabled:
            return
        now = self.clock()
        if now - self.last_line >= self.interval and self.done != self.total:
            self.last_line = now
            self.lines += 1
            self.logger.info(self.line(now - self.start))

    def finish(self) -> float:
        """Log the end line if the phase lasted an interval or more; return the phase's seconds."""
        elapsed = self.clock() - self.start
        if self.enabled and (self.lines or elapsed >= self.interval):
            self.logger.info(self.line(elapsed, finished=True))
        return elapsed

    def line(self, elapsed: float, finished: bool = False) -> str:
        count = f"{self.done:,}" if self.total is None else f"{self.done:,}/{self.total:,}"
        parts = [self.label, f"{self.unit} {count}"]
        if finished:
            parts.append(f"done in {duration(elapsed)}")
        else:
            parts.append(f"{duration(elapsed)} elapsed")
            if self.total is not None and self.done > 0:
                parts.append(f"ETA {duration(elapsed / self.done * (self.total - self.done))}")
            elif self.total is None and elapsed > 0:
                parts.append(f"{self.done / elapsed:,.1f}/s")
        if self.note:
            parts.append(self.note)
        return ", ".join(parts)
