"""Errors that reach the user: each names the file, line or parameter at fault."""
from __future__ import annotations

from pathlib import Path


class LhmixError(Exception):
    """Base class: stage scripts print the message and exit non-zero."""


class RawDataMissing(LhmixError):
    def __init__(self, dataset: str, missing: list[Path], how_to_get: str):
        listed = "\n".join(f"  - {p}" for p in missing)
        super().__init__(
            f"dataset '{dataset}': raw files not found:\n{listed}\n{how_to_get.strip()}\n"
            f"(see data/raw/README.md)"
        )


class MalformedInput(LhmixError):
    def __init__(self, path: Path | str, line: int | None, problem: str):
        where = f"{path}:{line}" if line is not None else f"{path}"
        super().__init__(f"{where}: {problem}")
        self.path, self.line = str(path), line


class ParamError(LhmixError):
    def __init__(self, name: str, value, expected: str):
        super().__init__(f"parameter '{name}' = {value!r}: expected {expected}")
