"""The two training entry points: a warm-up, and a run that continues from it.

`warmup()` trains the first warmup_epochs epochs of a family (no Mixup) and saves the state; every
variant of that family and seed continues from it with `train(..., warm_start=FILE)` and ends with
exactly the result of a run from scratch, since Mixup draws nothing before it starts. `train()`
then trains until early stopping on dev macro-F1 (or max_epochs) and scores test with the best dev
checkpoint. A killed run started again resumes from its last.pt when the fingerprint matches.
"""
from __future__ import annotations

import shutil
import time
from dataclasses import asdict
from pathlib import Path
from typing import Callable

import numpy as np

from lhmix.core.errors import LhmixError
from lhmix.core.files import write_json
from lhmix.core.logs import logger, run_log
from lhmix.model.encoders import weights_digest
from lhmix.model.saved import save_classifier
from lhmix.model.similarity_table import SimilarityTable
from lhmix.training import checkpoints
from lhmix.training.config import TrainConfig
from lhmix.training.devices import device_name, processes, resolve_device
from lhmix.training.loop import Session, fit
from lhmix.training.outputs import (run_identity, run_metrics, timing_metrics, write_curves, write_label_words,
                                   write_predictions, write_scores)
from lhmix.training.progress import Progress, Timing

DATA_FILES = ("labels.json", "train.jsonl", "dev.jsonl")
LOG_FILE = "train.log"  # beside metrics.json: every record of the run, timestamped
MODEL_FOLDER = "model"  # the best dev checkpoint as a Hugging Face / safetensors folder (lhmix.model.saved)
CARD_RESULTS = ("dataset", "variant", "seed", "micro_f1", "macro_f1", "best_epoch")  # in its model card
# The fingerprints are built from every TrainConfig field (and the resolved device, the world size, the
# classifier's weights, the library code and the data); a warm-up's leaves out what only the run after it
# reads, so that every variant of a family and seed shares one warm-up.
RUN_ONLY_SETTINGS = frozenset({"mixing", "max_epochs", "mixup_beta_a", "fixed_lambda", "alpha", "beta",
                               "similarity_source", "label_length", "label_mask"})


def fingerprint_settings(config: TrainConfig, device_type: str, world_size: int) -> dict:
    """Every TrainConfig field (device: the one resolved), and the number of processes."""
    return {**asdict(config), "device": device_type, "world_size": world_size}


class Run:
    """A session and the files of its run: fingerprints, checkpoints, curves."""

    def __init__(self, config: TrainConfig, data_dir: Path, checkpoint_dir: Path, procs, device,
                 similarity_path: Path | None = None, warm_start: Path | None = None,
                 live_dir: Path | None = None, warmup_data_dir: Path | None = None):
        self.started = time.perf_counter()
        self.config, self.procs = config, procs
        self.checkpoint_dir, self.live_dir, self.data_dir = Path(checkpoint_dir), live_dir, Path(data_dir)
        # the published similarity needs no table: its s comes from the classifier's own encoder
        frozen_table = config.uses_similarity and not config.uses_published_similarity
        similarity = SimilarityTable.load(similarity_path) if frozen_table else None
        if warm_start is not None and not Path(warm_start).is_file():
            raise LhmixError(f"warm-up state {warm_start} not found: run its warm-up stage (stages/warmup.py) first")
        self.session = Session(config, self.data_dir, procs, device, similarity)
        own_data = checkpoints.file_digest(*(self.data_dir / name for name in DATA_FILES))
        warmup_data = own_data if warmup_data_dir is None else _warmup_data(Path(warmup_data_dir), self.data_dir)
        settings = {**fingerprint_settings(config, device.type, procs.world_size),
                    "classifier_weights": weights_digest(config.classifier), "code": checkpoints.code_digest()}
        warmup_settings = {name: value for name, value in settings.items() if name not in RUN_ONLY_SETTINGS}
        self.warmup_fingerprint = checkpoints.fingerprint({**warmup_settings, "mixing": "none", "data": warmup_data})
        self.fingerprint = self.warmup_fingerprint if config.is_warmup else checkpoints.fingerprint({
            **settings, "data": warmup_data, "run_data": own_data,
            "similarity": None if similarity is None else checkpoints.file_digest(Path(similarity_path)),
            "warm_start": None if warm_start is None else checkpoints.file_digest(Path(warm_start))})
        self.timing = Timing()

    @property
    def last_path(self) -> Path:
        return self.checkpoint_dir / "last.pt"

    @property
    def best_path(self) -> Path:
        return self.checkpoint_dir / "best.pt"

    @property
    def continuation_path(self) -> Path:
        """The best model after the warm-up, kept only while it is not best.pt's (Progress.continuation_apart)."""
        return self.checkpoint_dir / "continuation.pt"

    def resume(self) -> Progress | None:
        """The progress of last.pt when it is this very run's (same fingerprint) and so is its best.pt (when it
        has a best epoch), else None: the run starts afresh, with a one-line notice, and without best.pt."""
        if not self.last_path.is_file():
            if self.procs.main:
                _discard(self.best_path)  # never score another run's best model
                _discard(self.continuation_path)
            return None
        try:
            state = checkpoints.load(self.last_path)
            problem = None if state.get("fingerprint") == self.fingerprint else (
                f"{self.last_path}: made by another run (settings, data, warm-up state or code differ)")
        except checkpoints.UnreadableCheckpoint as error:
            state, problem = None, error.reason
        if problem is None and checkpoints.progress_of(state).best_epoch > 0:
            problem = checkpoints.best_problem(self.best_path, self.fingerprint)
        if problem is None and checkpoints.progress_of(state).continuation_apart:
            problem = checkpoints.best_problem(self.continuation_path, self.fingerprint)
        if problem is not None:
            if self.procs.main:
                logger.warning(f"{problem}; discarded, starting afresh")
                for path in (self.last_path, self.best_path, self.continuation_path):
                    _discard(path)
            return None
        self.session.restore(state)
        self.timing = Timing(**state["timing"])
        progress = checkpoints.progress_of(state)
        if self.procs.main:
            logger.warning(f"resuming from {self.last_path} after epoch {progress.epoch}")
        return progress

    def start_from_warmup(self, path: Path) -> Progress:
        state = checkpoints.read_warmup_state(path, self.warmup_fingerprint)
        self.session.restore(state)
        progress = checkpoints.progress_of(state)
        if self.procs.main and progress.best_epoch > 0:
            checkpoints.save_best(state["best_model"] if state["best_model"] is not None else state["model"],
                                  self.best_path, self.fingerprint)
        return progress

    def keep_epoch(self, progress: Progress, improved: bool, seconds: float, rng_states: list[dict]) -> None:
        """The files of a finished epoch (rank 0, lhmix.training.loop.fit): its timing, best.pt when dev
        improved, last.pt, the curves."""
        session = self.session
        self.timing.add(seconds, len(session.train_split))
        if improved:
            checkpoints.save_best(session.model.state_dict(), self.best_path, self.fingerprint)
        elif progress.best_continuation_epoch == progress.epoch:
            checkpoints.save_best(session.model.state_dict(), self.continuation_path, self.fingerprint)
        checkpoints.save({"fingerprint": self.fingerprint, "progress": asdict(progress),
                          "timing": asdict(self.timing), **session.training_state(rng_states)}, self.last_path)
        if self.live_dir is not None:
            write_curves(self.live_dir, progress.history)

    def context(self) -> dict:
        return {"dataset": self.data_dir.name, "encoder": self.config.classifier,
                "train_docs": len(self.session.train_split), "world_size": self.procs.world_size,
                "device": device_name(self.session.device),
                "stage_seconds": round(time.perf_counter() - self.started, 3)}


def _discard(path: Path) -> None:
    """Remove a checkpoint file if there is one (a file where its folder should be is named on the first write)."""
    try:
        path.unlink(missing_ok=True)
    except NotADirectoryError:
        pass


def _warmup_data(warmup_data_dir: Path, data_dir: Path) -> str:
    """The data digest of a warm-up trained on another processed folder, which must share the labels."""
    if checkpoints.file_digest(warmup_data_dir / "labels.json") != checkpoints.file_digest(data_dir / "labels.json"):
        raise LhmixError(f"{data_dir}/labels.json differs from {warmup_data_dir}/labels.json: a run continues "
                         "only a warm-up of the same labels")
    return checkpoints.file_digest(*(warmup_data_dir / name for name in DATA_FILES))


def train(config: TrainConfig, data_dir: str | Path, out_dir: str | Path, checkpoint_dir: str | Path,
          similarity_path: str | Path | None = None, warm_start: str | Path | None = None,
          on_epoch_end: Callable[[int], None] | None = None, keep_checkpoints: bool = False,
          warmup_data_dir: str | Path | None = None) -> dict | None:
    """Train one run and score test with its best dev checkpoint; returns the metrics (rank 0).

    Resumes from checkpoint_dir/last.pt when it is this run's; else starts from the warm-up state
    `warm_start` if given; else from scratch. All three end with the same metrics. A run may continue
    a warm-up trained on another processed folder with the same labels (`warmup_data_dir`; the
    augmentation baselines continue the plain warm-up on their augmented training set)."""
    out_dir = Path(out_dir)
    device = resolve_device(config.device)
    with processes(device) as procs, run_log(out_dir / LOG_FILE if procs.main else None):
        run = Run(config, Path(data_dir), Path(checkpoint_dir), procs, device,
                  similarity_path=None if similarity_path is None else Path(similarity_path),
                  warm_start=None if warm_start is None else Path(warm_start), live_dir=out_dir / "live",
                  warmup_data_dir=warmup_data_dir)
        progress = run.resume()
        if progress is None:
            progress = run.start_from_warmup(Path(warm_start)) if warm_start else Progress()
        trained_from = progress.epoch
        progress = fit(run.session, progress, config.max_epochs, run.keep_epoch, on_epoch_end)
        if not procs.main:
            return None
        session = run.session
        if progress.epoch == trained_from:  # resumed at its last epoch: fit wrote no curves
            write_curves(run.live_dir, progress.history)
        test_split = session.encode(session.test_docs)
        continuation = None
        if progress.continuation_apart:
            session.model.load_state_dict(checkpoints.load_best(run.continuation_path, run.fingerprint))
            continuation = session.evaluate(test_split, desc="test, the continuation's best")[0]
        session.model.load_state_dict(checkpoints.load_best(run.best_path, run.fingerprint))
        test, test_scores = session.evaluate(test_split, keep_predictions=True, desc="test")
        write_predictions(out_dir / "predictions.npz", test_split.ids, np.packbits(test_scores > 0, axis=1),
                          session.num_labels, run=run_identity(config))
        dev_scores = session.evaluate(session.dev_split, keep_predictions=True)[1]
        write_scores(out_dir / "scores.npz", session.dev_split.ids, dev_scores, test_split.ids, test_scores,
                     run=run_identity(config))
        if session.initial_label_words is not None:
            write_label_words(out_dir / "label_words.npz", session.initial_label_words.numpy(),
                              session.model.label_words.detach().cpu().numpy())
        metrics = run_metrics(config, test, progress, run.timing, run.context(),
                              continuation=test if continuation is None else continuation)
        save_classifier(session.model, session.tokenizer, session.hierarchy, asdict(config), out_dir / MODEL_FOLDER,
                        results={key: metrics[key] for key in CARD_RESULTS})
        write_json(metrics, out_dir / "metrics.json")
        logger.info(f"{config.run_name()}: test micro-F1 {metrics['micro_f1']:.4f} macro-F1 {metrics['macro_f1']:.4f} "
            f"(best epoch {progress.best_epoch}, {progress.stop_reason}); wrote {out_dir}")
        if not keep_checkpoints:  # the best model is now out_dir/model/, a DVC output
            for path in (run.last_path, run.best_path, run.continuation_path):
                path.unlink(missing_ok=True)
        return metrics


def warmup(config: TrainConfig, data_dir: str | Path, state_file: str | Path, out_dir: str | Path,
           checkpoint_dir: str | Path, on_epoch_end: Callable[[int], None] | None = None,
           keep_checkpoints: bool = False) -> None:
    """Train the first warmup_epochs epochs (no Mixup) of a family; save the state to state_file
    (byte-identical for identical training) and its course and timing to out_dir/metrics.json."""
    if not config.is_warmup or config.mixing != "none":
        raise ValueError("warmup() takes the config of a warm-up: mixing none, max_epochs None")
    checkpoint_dir = Path(checkpoint_dir)
    device = resolve_device(config.device)
    with processes(device) as procs, run_log(Path(out_dir) / LOG_FILE if procs.main else None):
        run = Run(config, Path(data_dir), checkpoint_dir, procs, device)
        progress = run.resume() or Progress()
        progress = fit(run.session, progress, config.warmup_epochs, run.keep_epoch, on_epoch_end)
        training_state = run.session.training_state(run.session.gather_rng_states())
        if not procs.main:
            return
        # The best model is stored only when it is not the last one (saves a model's size).
        keep_best = 0 < progress.best_epoch < progress.epoch
        best_model = checkpoints.load_best(run.best_path, run.fingerprint) if keep_best else None
        checkpoints.save(checkpoints.warmup_state(progress, training_state, run.warmup_fingerprint, best_model),
                         Path(state_file))
        write_json({"variant": config.variant, "seed": config.seed, "train_fraction": config.train_fraction,
                    "warmup_epochs": config.warmup_epochs, "epochs_run": progress.epoch,
                    "best_epoch": progress.best_epoch, "stopped_early": progress.stopped_early,
                    **timing_metrics(run.timing), **run.context(), "history": progress.history},
                   Path(out_dir) / "metrics.json")
        logger.info(f"warm-up {config.run_name()}: {progress.epoch} epochs; wrote {state_file}")
        if not keep_checkpoints:
            shutil.rmtree(checkpoint_dir, ignore_errors=True)
