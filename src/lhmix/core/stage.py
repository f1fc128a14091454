"""What every stage script shares: its arguments, params.yaml, and the way it ends.

`run_stage` runs the body, prints what it returns, and turns an error of the project (or a file the
stage could not read or write) into one message on stderr and exit status 1, DVC then stopping the
pipeline at that stage. With LHMIX_PARAMS_LOG set, it appends the params keys the stage read (one
JSON line: the command line and the keys), which the dependency test holds against dvc.yaml.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Callable

from lhmix.core.errors import LhmixError, ParamError
from lhmix.core.logs import configure_console
from lhmix.core.params import Params, check_known_keys
from lhmix.core.vocabulary import check_folder_name

PARAMS_LOG = "LHMIX_PARAMS_LOG"
_loaded: list[Params] = []


def read_params(path: str = "params.yaml") -> Params:
    """params.yaml, every key of it known (lhmix.core.params.KNOWN_KEYS): a typo is an error in every stage."""
    params = Params.load(path)
    check_known_keys(params.values, path)
    _loaded.append(params)
    return params


def parser(doc: str | None) -> argparse.ArgumentParser:
    """An argument parser whose usage errors say what is missing (argparse exits with status 2)."""
    return argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)


def dataset_argument(doc: str | None, argv=None) -> str:
    """The one argument of a per-dataset stage: its dataset's name."""
    arguments = parser(doc)
    arguments.add_argument("dataset", type=dataset_name)
    return arguments.parse_args(argv).dataset


def dataset_name(value: str) -> str:
    """argparse type of a dataset's name (a dataset or its augmented copy): a usage error otherwise."""
    try:
        return check_folder_name("dataset", value)
    except ParamError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def data_folder(value: str) -> Path:
    """argparse type of a processed dataset's folder (data/processed/<dataset>, as dvc.yaml passes it): its name
    a dataset or its augmented copy, a usage error otherwise."""
    folder = Path(value)
    dataset_name(folder.name)
    return folder


def data_to_out(doc: str | None, out_help: str, argv=None) -> argparse.Namespace:
    """The arguments of a stage that turns one processed dataset (--data) into one output (--out)."""
    arguments = parser(doc)
    arguments.add_argument("--data", required=True, type=data_folder, help="the processed dataset's folder")
    arguments.add_argument("--out", required=True, type=Path, help=out_help)
    return arguments.parse_args(argv)


def checkpoint_folder(out: Path) -> Path:
    """Where the run writing `out` keeps its resume checkpoints: checkpoints/<out>, outside DVC's outs (a
    stage's outs are removed before it runs; its checkpoints must outlive an interrupted run)."""
    return Path("checkpoints") / out.as_posix().lstrip("/")


def run_stage(label: str, body: Callable[[], str | None]) -> int:
    """Run a stage body; print what it returns, or the error prefixed by `label`."""
    configure_console()
    try:
        message = body()
    except LhmixError as error:
        print(f"{label}: {error}", file=sys.stderr)
        return 1
    except OSError as error:  # a file that cannot be read or written: name it, no traceback
        where = f" {error.filename}" if error.filename else ""
        print(f"{label}:{where}: {error.strerror or error}", file=sys.stderr)
        return 1
    finally:
        _log_params_read()
    if message:
        print(message)
    return 0


def _log_params_read() -> None:
    log = os.environ.get(PARAMS_LOG)
    if not log or not _loaded:
        return
    keys = sorted(set().union(*(params.read for params in _loaded)))
    with open(log, "a", encoding="utf-8") as handle:
        handle.write(json.dumps({"argv": sys.argv, "read": keys}) + "\n")
