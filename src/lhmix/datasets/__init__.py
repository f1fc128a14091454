"""Dataset readers: for each name of lhmix.core.vocabulary.DATASETS, the module lhmix.datasets.<name>, whose
`build(raw_dir, cfg)` returns a PreparedDataset (tests/test_pipeline_plan.py holds every name to its module)."""
from __future__ import annotations

import importlib
from pathlib import Path

from lhmix.core.vocabulary import DATASETS, check_choice
from lhmix.datasets.contract import write_dataset


def build(name: str, cfg: dict, raw_dir: str | Path):
    check_choice("datasets", name, DATASETS)
    module = importlib.import_module(f"lhmix.datasets.{name}")
    return module.build(Path(raw_dir), cfg)


def prepare(name: str, cfg: dict, raw_dir: str | Path, out_dir: str | Path) -> dict:
    """Read the raw files of `name` and write the data contract into `out_dir`."""
    return write_dataset(build(name, cfg, raw_dir), out_dir)
