"""Logging of the stages: Python's `logging`, one logger tree under "lhmix".

On the console (stderr), each record with a timestamp: `configure_console()`, called once per stage
process by lhmix.core.stage.run_stage. A training run also keeps its own log file beside its metrics
(`run_log`), so that a run that fails at paper scale leaves something to read. Without configuration
(a library call, a test), warnings and errors still reach stderr through logging's last-resort handler.
"""
from __future__ import annotations

import contextlib
import logging
import sys
from pathlib import Path
from typing import Iterator

FORMAT = "%(asctime)s %(levelname)s %(message)s"
DATE_FORMAT = "%Y-%m-%d %H:%M:%S"
logger = logging.getLogger("lhmix")


def configure_console(level: int = logging.INFO) -> None:
    """Timestamped records of level `level` and above on stderr (once per process)."""
    if any(getattr(handler, "lhmix_console", False) for handler in logger.handlers):
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(FORMAT, DATE_FORMAT))
    handler.lhmix_console = True
    logger.addHandler(handler)
    logger.setLevel(level)


@contextlib.contextmanager
def run_log(path: Path | None) -> Iterator[None]:
    """Copy every record of the block, at INFO and above, into `path` (appended: a resumed run keeps the
    log of its earlier attempts). None: nothing is written (ranks other than 0)."""
    if path is None:
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter(FORMAT, DATE_FORMAT))
    handler.setLevel(logging.INFO)
    previous = logger.level
    if logger.getEffectiveLevel() > logging.INFO:
        logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        handler.close()
        logger.setLevel(previous)
