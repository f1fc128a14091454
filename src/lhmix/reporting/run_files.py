"""A run's files as the reporting reads them: metrics.json must be the file of the run params.yaml names it for
(variant, seed and the settings the plan fixes), and every field the report reads must hold what its writer
(lhmix.training.outputs) puts there; predictions.npz and scores.npz, when they name their run, must name this one.

A file copied from another run's folder, or edited, stops the report with one line naming the file and the field,
instead of being reported under the wrong name. Fields the file does not have are left to the reader that needs
them (which names the missing key), except variant and seed, which every run and warm-up writes. An older
predictions.npz or scores.npz names no run: it is still held to the test set's ids and label count
(lhmix.reporting.bootstrap, lhmix.reporting.thresholds), which a copy from another run of the same dataset passes.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from lhmix.core.errors import MalformedInput
from lhmix.core.histogram import BINS
from lhmix.pipeline.plan import Run, read_metrics

METRICS, PREDICTIONS, SCORES = "metrics.json", "predictions.npz", "scores.npz"
RERUN = "re-run its stage (dvc repro --force)"
STOP_REASONS = ("early_stopping", "epoch_cap")
COUNTS = ("predicted_per_doc", "gold_per_doc", "stage_seconds", "train_seconds", "examples_per_second")
EPOCHS = ("epochs_run", "best_epoch", "epochs_trained", "warmup_epochs", "max_epochs")
MIXING = ("lambda", "s")   # histograms of what mixing used, both in [0, 1] (lhmix.core.histogram)
QUANTILES = ("q05", "q50", "q95")


def identity(run: Run) -> dict:
    """What a file of `run` must say it is: variant and seed, and the settings the plan fixes for it (alpha and
    beta of the mixings that read them, the training fraction of a sparse run, the graph of a Table 6 run)."""
    fixed = {"alpha": run.alpha, "beta": run.beta, "train_fraction": run.fraction, "graph": run.graph}
    return {"variant": run.variant, "seed": run.seed, **{key: value for key, value in fixed.items() if value is not None}}


def read_run_metrics(run: Run) -> dict:
    """metrics.json of `run` (lhmix.pipeline.plan.read_metrics: an object of fractions), checked to be this run's
    and its other fields checked; the run's predictions.npz and scores.npz checked to be this run's."""
    path = run.path / METRICS
    metrics = read_metrics(run)
    for key in ("variant", "seed"):
        if key not in metrics:
            raise MalformedInput(path, None, f"no '{key}': not a run's metrics written by this pipeline; {RERUN}")
    _check_identity(metrics, run, path)
    check_fields(metrics, path)
    for name in (PREDICTIONS, SCORES):
        if (run.path / name).is_file():
            _check_identity(_named_run(run.path / name), run, run.path / name)
    return metrics


def _check_identity(found: dict, run: Run, path: Path) -> None:
    for key, expected in identity(run).items():
        if key in found and not _same(found[key], expected):
            raise MalformedInput(path, None, f"'{key}' = {found[key]!r}, but params.yaml reads this file for "
                                             f"{run.variant} seed {run.seed} ({key} {expected!r}): the file of "
                                             f"another run?; {RERUN}")


def _same(found, expected) -> bool:
    if isinstance(expected, float):
        return _is_number(found) and math.isclose(found, expected, rel_tol=1e-12)
    if isinstance(expected, int):
        return type(found) is int and found == expected
    return found == expected


def _named_run(path: Path) -> dict:
    """{variant, seed} an .npz of a run names (none in files of an older code)."""
    try:
        with np.load(path, allow_pickle=False) as archive:
            return {key: archive[key].item() for key in ("variant", "seed") if key in archive.files}
    except Exception as error:  # a damaged archive: numpy and zipfile raise many kinds
        raise MalformedInput(path, None, f"not a readable .npz file ({type(error).__name__}: "
                                         f"{' '.join(str(error).split())[:200]}); {RERUN}") from None


def check_fields(metrics: dict, path: Path) -> None:
    """Every field beyond the scores that the report reads, where the file has it (the scores themselves:
    lhmix.pipeline.plan.read_metrics)."""
    def bad(key, value, expected):
        shown = repr(value)
        raise MalformedInput(path, None, f"'{key}' = {shown if len(shown) <= 80 else shown[:77] + '...'}: expected "
                                         f"{expected}; {RERUN}")

    for key in COUNTS:
        if key in metrics and not (_is_number(metrics[key]) and metrics[key] >= 0):
            bad(key, metrics[key], "a finite number >= 0")
    for key in EPOCHS:
        if key in metrics and not (type(metrics[key]) is int and metrics[key] >= 0):
            bad(key, metrics[key], "an integer >= 0")
    if "stop_reason" in metrics and metrics["stop_reason"] not in STOP_REASONS:
        bad("stop_reason", metrics["stop_reason"], " or ".join(STOP_REASONS))
    if "by_frequency" in metrics:
        buckets = metrics["by_frequency"]
        if not isinstance(buckets, dict) or not all(_is_fraction(value) for value in buckets.values()):
            bad("by_frequency", buckets, "an object of fractions in [0, 1] (macro-F1 per frequency bucket)")
    if "history" in metrics:
        _check_history(metrics["history"], bad)
    if "continuation" in metrics:
        _check_continuation(metrics["continuation"], bad)
    for name in MIXING:
        if name in metrics:
            problem = _histogram_problem(metrics[name])
            if problem:
                bad(name, metrics[name], problem)


def _check_history(history, bad) -> None:
    """One point per epoch trained or warmed up, in order: epoch, train loss, dev micro- and macro-F1."""
    if not isinstance(history, list) or not history:
        bad("history", history, "a non-empty list of epochs")
    for index, point in enumerate(history):
        if not isinstance(point, dict) or type(point.get("epoch")) is not int or point["epoch"] != index + 1:
            bad(f"history[{index}]", point, f"an object with 'epoch' {index + 1}")
        if not _is_number(point.get("train_loss")):
            bad(f"history[{index}].train_loss", point.get("train_loss"), "a finite number")
        for key in ("dev_micro_f1", "dev_macro_f1"):
            if not _is_fraction(point.get(key)):
                bad(f"history[{index}].{key}", point.get(key), "a fraction in [0, 1]")


def _check_continuation(continuation, bad) -> None:
    """The best dev epoch after the warm-up and its test scores (lhmix.training.outputs.run_metrics)."""
    if not isinstance(continuation, dict) or type(continuation.get("best_epoch")) is not int \
            or continuation["best_epoch"] < 0:
        bad("continuation", continuation, "an object with an integer 'best_epoch' >= 0")
    for key in ("micro_f1", "macro_f1", "precision", "recall"):
        if not _is_fraction(continuation.get(key)):
            bad(f"continuation.{key}", continuation.get(key), "a fraction in [0, 1]")
    if not (_is_number(continuation.get("predicted_per_doc")) and continuation["predicted_per_doc"] >= 0):
        bad("continuation.predicted_per_doc", continuation.get("predicted_per_doc"), "a finite number >= 0")


def _histogram_problem(summary) -> str | None:
    """Why `summary` is not a histogram of lhmix.model.mixup.histogram_summary, or None."""
    if not isinstance(summary, dict) or type(summary.get("n")) is not int or summary["n"] < 0:
        return "an object with a count 'n' >= 0"
    if summary["n"] == 0:
        return None
    if not all(_is_fraction(summary.get(key)) for key in ("mean", *QUANTILES) if key == "mean" or key in summary):
        return f"'mean' (and {', '.join(QUANTILES)}) in [0, 1]"
    first, counts = summary.get("first_bin"), summary.get("counts")
    if (type(first) is not int or not isinstance(counts, list) or first < 0 or first + len(counts) > BINS
            or not all(type(count) is int and count >= 0 for count in counts)):
        return f"'first_bin' and 'counts' (integers >= 0) within the {BINS} bins"
    if sum(counts) != summary["n"]:
        return f"'counts' that add up to n = {summary['n']}"
    return None


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _is_fraction(value) -> bool:
    return _is_number(value) and 0 <= value <= 1
