"""A run's course: Progress (its epochs, dev scores and the early-stopping rule) and Timing (its seconds).

Both are saved in every checkpoint (lhmix.training.checkpoints) and summed up in metrics.json
(lhmix.training.outputs); the loop (lhmix.training.loop) records each epoch here. Torch-free, so that
the reporting can read TIMING_KEYS without a model.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from lhmix.core.vocabulary import EARLY_STOPPING, check_choice

# The metrics.json keys that time a stage: they differ between any two runs of the same settings...
VARYING_TIMING_KEYS = ("stage_seconds", "train_seconds", "examples_per_second")
# ... and with epochs_trained, between a run from scratch and the same run continuing a warm-up.
TIMING_KEYS = (*VARYING_TIMING_KEYS, "epochs_trained")


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
    # the best dev macro-F1 epoch after the warm-up (every epoch when there is none): the continuation's own
    # model, which the report scores beside the one selection over all epochs keeps
    best_continuation_epoch: int = 0
    best_continuation_dev_macro_f1: float = -1.0
    best_continuation_dev_micro_f1: float = -1.0
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
        if epoch > warmup_epochs and dev["macro_f1"] > self.best_continuation_dev_macro_f1:
            self.best_continuation_epoch = epoch
            self.best_continuation_dev_macro_f1, self.best_continuation_dev_micro_f1 = dev["macro_f1"], dev["micro_f1"]
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

    @property
    def continuation_apart(self) -> bool:
        """The best epoch after the warm-up is not the best epoch: selection over all epochs kept a warm-up
        epoch, and the continuation's own model needs a checkpoint of its own."""
        return self.best_continuation_epoch not in (0, self.best_epoch)

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
