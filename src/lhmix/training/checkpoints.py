"""A run's course and its files on disk: resume checkpoints, the best model, warm-up states.

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
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from lhmix.core.errors import LhmixError
from lhmix.core.files import write_torch
from lhmix.core.vocabulary import EARLY_STOPPING, check_choice

WARMUP_KIND = "lhmix-warmup-state"
BEST_KIND = "lhmix-best-model"
CODE_PACKAGES = ("core", "data", "model", "training")


@dataclass
class Progress:
    """The course of a run, everything but tensors and timings; saved in every checkpoint."""
    epoch: int = 0  # last finished epoch
    history: list[dict] = field(default_factory=list)
    best_epoch: int = 0
    best_dev_macro_f1: float = -1.0
    best_dev_micro_f1: float = -1.0
    # the published rule's own record: the best dev micro-F1 of any epoch, and the last epoch that beat
    # the best macro-F1 or that best micro-F1
    top_dev_micro_f1: float = -1.0
    last_improved_epoch: int = 0
    stopped_early: bool = False
    # What the mixing used, over every mixed sample: {"lambda" | "s": {"counts": [...], "sum": x}}
    mixing: dict = field(default_factory=dict)

    def record(self, epoch: int, train_loss: float, dev: dict, patience: int, warmup_epochs: int,
               rule: str = "ours") -> bool:
        """Add a finished epoch; True when dev macro-F1 improved (a new best checkpoint: both rules
        score test with the model of the best dev macro-F1, as the published code does).

        Early stopping, `rule` ours: `patience` epochs after the best macro-F1 epoch, counted from the end
        of the warm-up at the earliest, so every variant trains at least `patience` epochs past the shared
        warm-up (a warm-up long enough to plateau would otherwise stop the run before Mixup starts); the
        best checkpoint may still be a warm-up epoch.
        `rule` published (LH-Mix's and HPT's train.py): `patience` epochs after the last epoch that
        improved dev macro-F1 or dev micro-F1 (each against its own best), counted from epoch 0."""
        check_choice("train.early_stopping", rule, EARLY_STOPPING)
        self.epoch = epoch
        self.history.append({"epoch": epoch, "train_loss": train_loss,
                             **{f"dev_{name}": dev[name] for name in
                                ("micro_f1", "macro_f1", "precision", "recall", "predicted_per_doc")}})
        improved = dev["macro_f1"] > self.best_dev_macro_f1
        if improved:
            self.best_epoch = epoch
            self.best_dev_macro_f1, self.best_dev_micro_f1 = dev["macro_f1"], dev["micro_f1"]
        micro_improved = dev["micro_f1"] > self.top_dev_micro_f1
        if micro_improved:
            self.top_dev_micro_f1 = dev["micro_f1"]
        if improved or micro_improved:
            self.last_improved_epoch = epoch
        if rule == "ours":
            self.stopped_early = epoch - max(self.best_epoch, warmup_epochs) >= patience
        else:
            self.stopped_early = epoch - self.last_improved_epoch >= patience
        return improved

    def add_mixing(self, observed: dict[str, tuple[list[float], float]]) -> None:
        for name, (counts, total) in observed.items():
            kept = self.mixing.setdefault(name, {"counts": [0.0] * len(counts), "sum": 0.0})
            kept["counts"] = [a + b for a, b in zip(kept["counts"], counts)]
            kept["sum"] += total

    @property
    def stop_reason(self) -> str:
        return "early_stopping" if self.stopped_early else "epoch_cap"


@dataclass
class Timing:
    """Seconds and examples of the epochs this process trained (never in a warm-up state file)."""
    train_seconds: float = 0.0
    train_examples: int = 0
    epochs: int = 0

    def add(self, seconds: float, examples: int) -> None:
        self.train_seconds += seconds
        self.train_examples += examples
        self.epochs += 1


def save(obj, path: Path) -> None:
    """torch.save via a temporary file: a kill mid-write never leaves a broken file; a write that
    fails names `path` (lhmix.core.files)."""
    write_torch(obj, Path(path))


class UnreadableCheckpoint(LhmixError):
    """A checkpoint file that torch cannot read (truncated, foreign, damaged)."""


def load(path: Path, recovery: str = "delete it and run the stage again"):
    """torch.load of a checkpoint; an unreadable file raises UnreadableCheckpoint saying how to recover."""
    path = Path(path)
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise
    except Exception as error:  # a truncated or foreign file: torch raises many kinds
        raise UnreadableCheckpoint(f"{path}: not a readable checkpoint ({type(error).__name__}: "
                                   f"{str(error).strip()[:200]}); {recovery}") from None


def save_best(model_state: dict, path: Path, fingerprint_: str) -> None:
    save({"kind": BEST_KIND, "fingerprint": fingerprint_, "model": model_state}, path)


def best_problem(path: Path, fingerprint_: str) -> str | None:
    """Why best.pt cannot be this run's best model (missing, unreadable, another run's), or None."""
    path = Path(path)
    if not path.is_file():
        return f"{path} is missing"
    try:
        state = load(path)
    except UnreadableCheckpoint as error:
        return str(error).split("; ")[0]
    if not isinstance(state, dict) or state.get("kind") != BEST_KIND:
        return f"{path} is not a best model written by this pipeline"
    if state.get("fingerprint") != fingerprint_:
        return f"{path} was written by another run (other settings, data, warm-up state or code)"
    return None


def load_best(path: Path, fingerprint_: str) -> dict:
    """The model state of this run's best.pt; LhmixError saying how to recover when it is not this run's."""
    problem = best_problem(path, fingerprint_)
    if problem is not None:
        raise LhmixError(f"{problem}: it cannot score this run; delete {Path(path).parent} and run the stage again")
    return load(path)["model"]


def file_digest(*paths: Path) -> str:
    digest = hashlib.sha256()
    for path in paths:
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


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
    if not isinstance(state, dict) or state.get("kind") != WARMUP_KIND:
        raise LhmixError(f"{path}: not a warm-up state written by stages/warmup.py")
    if state["fingerprint"] != expected_fingerprint:
        raise LhmixError(f"warm-up state {path} was trained with other settings, data or code than this "
                         "run's warm-up; re-run its warm-up stage (dvc repro)")
    return state
