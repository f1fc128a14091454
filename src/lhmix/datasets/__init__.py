"""Dataset readers: each module's `build(raw_dir, cfg)` returns a PreparedDataset."""
from __future__ import annotations

import importlib
from pathlib import Path

from lhmix.datasets.contract import write_dataset
from lhmix.core.errors import ParamError

READERS = ("wordnet", "wos", "nyt", "rcv1")


def build(name: str, cfg: dict, raw_dir: str | Path):
    if name not in READERS:
        raise ParamError("datasets", name, f"one of {', '.join(READERS)}")
    module = importlib.import_module(f"lhmix.datasets.{name}")
    return module.build(Path(raw_dir), cfg)


def prepare(name: str, cfg: dict, raw_dir: str | Path, out_dir: str | Path) -> dict:
    """Read the raw files of `name` and write the data contract into `out_dir`."""
    return write_dataset(build(name, cfg, raw_dir), out_dir)
