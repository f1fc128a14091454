"""What every stage script shares: reading params.yaml, and turning an LhmixError into a message
on stderr and exit status 1 (DVC then stops the pipeline at that stage)."""
from __future__ import annotations

import sys
from typing import Callable

import yaml

from lhmix.errors import LhmixError


def read_params(path: str = "params.yaml") -> dict:
    with open(path, encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def run_stage(label: str, body: Callable[[], str | None]) -> int:
    """Run a stage body; print what it returns, or the error prefixed by `label`."""
    try:
        message = body()
    except LhmixError as error:
        print(f"{label}: {error}", file=sys.stderr)
        return 1
    if message:
        print(message)
    return 0
