"""A paired bootstrap over test documents: the second interval of every claim on F1.

The t-tests of lhmix.reporting.stats see only the spread over seeds; a test set of a few hundred documents
adds its own sampling error, largest for macro-F1's rare labels. Here the test documents are resampled with
replacement, RESAMPLES times from a fixed seed, and every run is scored on the same resamples (the pairing);
a variant's statistic on a resample is the mean over its seeds of micro- or macro-F1, as the claims compare
means over seeds. The interval of a claim "a > b" is the 2.5 / 97.5 % percentiles of a - b over the
resamples (percentile bootstrap, Efron and Tibshirani 1993), in F1 points.

Decisions come from each run's predictions.npz (bit-packed, test.jsonl order); per run only sparse
true-positive / false-positive / false-negative matrices are kept, so large test sets fit in memory.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from scipy import sparse

from lhmix.core.errors import LhmixError

RESAMPLES = 10_000
SEED = 0
CONFIDENCE = 0.95
CELLS_PER_CHUNK = 20_000_000  # resample counts held at once: chunk x documents


def read_decisions(path: Path, ids: list[str], num_labels: int) -> np.ndarray:
    """bool [N, V] test decisions of a run, checked against the test set's ids and label count."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as archive:
            packed, run_ids, labels = archive["packed"], archive["ids"].tolist(), int(archive["num_labels"])
    except FileNotFoundError:
        raise LhmixError(f"{path}: missing; run `dvc repro` so that every run named in params.yaml exists") from None
    except Exception as error:
        raise LhmixError(f"{path}: not a readable predictions file ({type(error).__name__}: {error})") from None
    if labels != num_labels or run_ids != list(ids):
        raise LhmixError(f"{path}: decisions for {len(run_ids)} documents and {labels} labels, not the "
                         f"{len(ids)} test documents and {num_labels} labels of this dataset in test.jsonl order; "
                         "re-run `dvc repro`")
    return np.unpackbits(packed, axis=1, count=num_labels).astype(bool)


class RunCounts:
    """One run's decisions against gold as sparse 0/1 matrices [N, V]."""

    def __init__(self, predicted: np.ndarray, gold: np.ndarray):
        self.tp = sparse.csr_matrix(predicted & gold, dtype=np.float64)
        self.fp = sparse.csr_matrix(predicted & ~gold, dtype=np.float64)
        self.fn = sparse.csr_matrix(~predicted & gold, dtype=np.float64)

    def f1(self, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(micro-F1, macro-F1) [B] for document weights `counts` [B, N] (how often each document was drawn)."""
        tp, fp, fn = ((matrix.T @ counts.T).T for matrix in (self.tp, self.fp, self.fn))  # [B, V]
        return _f1(tp.sum(axis=1), fp.sum(axis=1), fn.sum(axis=1)), _f1(tp, fp, fn).mean(axis=1)


def _f1(tp, fp, fn):
    denominator = 2 * tp + fp + fn
    return np.divide(2 * tp, denominator, out=np.zeros(np.shape(tp)), where=denominator > 0)


def resample_counts(num_docs: int, resamples: int, seed: int):
    """Chunks of document weights [chunk, N]: each row counts the draws of N documents with replacement."""
    rng = np.random.default_rng(seed)
    chunk = max(1, min(resamples, CELLS_PER_CHUNK // max(num_docs, 1)))
    for start in range(0, resamples, chunk):
        size = min(chunk, resamples - start)
        drawn = rng.integers(0, num_docs, size=(size, num_docs))
        offsets = (np.arange(size) * num_docs)[:, None]
        yield np.bincount((drawn + offsets).ravel(), minlength=size * num_docs).reshape(size, num_docs).astype(float)


def seed_means(runs: dict[str, list[RunCounts]], num_docs: int, resamples: int = RESAMPLES,
               seed: int = SEED) -> dict[str, dict[str, np.ndarray]]:
    """{variant: {micro_f1, macro_f1: [resamples]}}, each the mean over the variant's runs (seeds), in points;
    every variant scored on the same resamples."""
    parts = {variant: {"micro_f1": [], "macro_f1": []} for variant in runs}
    for counts in resample_counts(num_docs, resamples, seed):
        for variant, variant_runs in runs.items():
            scores = [run.f1(counts) for run in variant_runs]
            parts[variant]["micro_f1"].append(100 * np.mean([micro for micro, _ in scores], axis=0))
            parts[variant]["macro_f1"].append(100 * np.mean([macro for _, macro in scores], axis=0))
    return {variant: {metric: np.concatenate(chunks) for metric, chunks in metrics.items()}
            for variant, metrics in parts.items()}


def interval(a: np.ndarray, b: np.ndarray) -> dict:
    """The percentile interval of a - b over paired resamples."""
    differences = np.asarray(a) - np.asarray(b)
    tail = 100 * (1 - CONFIDENCE) / 2
    low, high = np.percentile(differences, [tail, 100 - tail])
    return {"low": float(low), "high": float(high), "resamples": int(differences.size)}
