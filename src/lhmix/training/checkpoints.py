"""A run's files on disk: resume checkpoints, the best model, warm-up states (the course and timing
they carry: lhmix.training.progress).

checkpoint_dir/last.pt   all it takes to continue after a kill (model, optimizer, random streams,
                         Progress, timings) and the run's fingerprint; resumed only when the
                         fingerprint is this run's, else discarded with a one-line notice
checkpoint_dir/best.pt   the model of the best dev epoch (scores test; kept after the run), with the
                         fingerprint of the run that wrote it: a resumed run whose best.pt another run
                         overwrote (same folder, other settings) starts afresh instead of scoring it
warm-up state file       a DVC output: the state at the end of warm-up and the warm-up's fingerprint;
                         no timings, so identical training writes identical bytes

The fingerprint is a digest of everything that determines a run's course: its settings, the
classifier's weights, the processed data it trains and selects on, the warm-up state it starts from,
the similarity table, and the library code that trains (lhmix.core, .data, .model, .training). The
stage scripts are left out: they only pass these on, and each of them is in the fingerprint.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict
from pathlib import Path

import torch

from lhmix.core.errors import LhmixError
from lhmix.core.files import file_digest, write_torch  # noqa: F401  (file_digest: the runs' data digests)
from lhmix.training.progress import Progress

WARMUP_KIND = "lhmix-warmup-state"
BEST_KIND = "lhmix-best-model"
CODE_PACKAGES = ("core", "data", "model", "training")


def save(obj, path: Path) -> None:
    """torch.save via a temporary file: a kill mid-write never leaves a broken file; a write that
    fails names `path` (lhmix.core.files)."""
    write_torch(obj, Path(path))


class UnreadableCheckpoint(LhmixError):
    """A checkpoint file that torch cannot read (truncated, foreign, damaged); `reason` names the file and
    what torch said, the message adds how to recover."""

    def __init__(self, reason: str, recovery: str):
        super().__init__(f"{reason}; {recovery}")
        self.reason = reason


def load(path: Path, recovery: str = "delete it and run the stage again") -> dict:
    """torch.load of a checkpoint (every one this pipeline writes is a dict); an unreadable file, or a readable
    one holding anything else, raises UnreadableCheckpoint saying how to recover."""
    path = Path(path)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise
    except Exception as error:  # a truncated or foreign file: torch raises many kinds
        raise UnreadableCheckpoint(f"{path}: not a readable checkpoint ({type(error).__name__}: "
                                   f"{str(error).strip()[:200]})", recovery) from None
    if not isinstance(state, dict):
        raise UnreadableCheckpoint(f"{path}: not a checkpoint written by this pipeline (it holds a "
                                   f"{type(state).__name__}, not a dict)", recovery)
    return state


def save_best(model_state: dict, path: Path, fingerprint_: str) -> None:
    save({"kind": BEST_KIND, "fingerprint": fingerprint_, "model": model_state}, path)


def best_problem(path: Path, fingerprint_: str) -> str | None:
    """Why best.pt cannot be this run's best model (missing, unreadable, another run's), or None."""
    return _read_best(path, fingerprint_)[1]


def load_best(path: Path, fingerprint_: str) -> dict:
    """The model state of this run's best.pt; LhmixError saying how to recover when it is not this run's."""
    state, problem = _read_best(path, fingerprint_)
    if problem is not None:
        raise LhmixError(f"{problem}: it cannot score this run; delete {Path(path).parent} and run the stage again")
    return state["model"]


def _read_best(path: Path, fingerprint_: str) -> tuple[dict | None, str | None]:
    """best.pt read once: (its content, None) when it is this run's best model, else (None, why not)."""
    path = Path(path)
    if not path.is_file():
        return None, f"{path} is missing"
    try:
        state = load(path)
    except UnreadableCheckpoint as error:
        return None, error.reason
    if state.get("kind") != BEST_KIND:
        return None, f"{path} is not a best model written by this pipeline"
    if state.get("fingerprint") != fingerprint_:
        return None, f"{path} was written by another run (other settings, data, warm-up state or code)"
    return state, None


def code_digest() -> str:
    """Digest of the library code a run executes: every .py file of lhmix.core/.data/.model/.training."""
    root = Path(__file__).resolve().parents[1]
    digest = hashlib.sha256()
    for package in CODE_PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            digest.update(path.relative_to(root).as_posix().encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def fingerprint(settings: dict) -> str:
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()


def progress_of(state: dict) -> Progress:
    return Progress(**state["progress"])


def warmup_state(progress: Progress, training_state: dict, fingerprint_: str, best_model: dict | None) -> dict:
    return {"kind": WARMUP_KIND, "fingerprint": fingerprint_, "progress": asdict(progress),
            **training_state, "best_model": best_model}


def read_warmup_state(path: Path, expected_fingerprint: str) -> dict:
    """The warm-up state in `path`; it must have been written for this run's warm-up settings."""
    path = Path(path)
    if not path.is_file():
        raise LhmixError(f"warm-up state {path} not found: run its warm-up stage (stages/warmup.py) first")
    state = load(path, recovery="delete it and run `dvc repro` to train its warm-up stage again")
    if state.get("kind") != WARMUP_KIND:
        raise LhmixError(f"{path}: not a warm-up state written by stages/warmup.py")
    if state.get("fingerprint") != expected_fingerprint:
        raise LhmixError(f"warm-up state {path} was trained with other settings, data or code than this "
                         "run's warm-up; re-run its warm-up stage (dvc repro)")
    return state
