"""A two-level bootstrap over seeds and test documents: the second interval of every comparison on F1.

The t-tests of lhmix.reporting.stats see only the spread over seeds; a test set adds its own sampling error,
largest for macro-F1's rare labels. Each of RESAMPLES replicates draws both, from a fixed seed:
1. the test documents with replacement (one draw shared by every run: the variants stay paired on documents);
2. the seeds with replacement (a paired comparison draws one set of seeds for both variants, which continue
   the same warm-up of each seed; two independent groups, Welch's case, draw each side's seeds on its own).
The replicate of a comparison "a - b" is the mean over the drawn seeds of a's F1 on the drawn documents minus
the same for b, in points, as the claims compare means over seeds.

The interval is the basic bootstrap interval (Davison and Hinkley 1997, 5.2):
    [2 theta_hat - q(0.975), 2 theta_hat - q(0.025)]
with theta_hat the observed difference (every seed, every document) and q the quantiles of the replicates.
Not the percentile interval [q(0.025), q(0.975)]: macro-F1 on a resample is biased (a rare label's F1 moves
with how many of its few documents are drawn), and the basic interval reflects that bias back, where the
percentile interval shifts with it. Not BCa: its acceleration is a jackknife of one sample, which a two-level
design (seeds x documents) does not define without choosing how the levels combine; the basic interval needs
no such choice.

Decisions come from each run's predictions.npz (bit-packed, test.jsonl order) or from a threshold tuned on
dev (lhmix.reporting.thresholds); per run only sparse true-positive / false-positive / false-negative matrices
are kept, so large test sets fit in memory.
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
MICRO, MACRO = "micro_f1", "macro_f1"
F1S = (MICRO, MACRO)
SEED_STREAMS = (1, 2)  # the random streams of the seed draws of a and b (a paired comparison uses a's for both)


def depth_metric(depth) -> str:
    """The key of micro-F1 restricted to the labels of one depth: micro_f1@2."""
    return f"{MICRO}@{depth}"


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
    """One run's decisions against gold as sparse 0/1 matrices [N, V], and the depth of each label."""

    def __init__(self, predicted: np.ndarray, gold: np.ndarray, label_depths: np.ndarray | None = None):
        self.tp = sparse.csr_matrix(predicted & gold, dtype=np.float64)
        self.fp = sparse.csr_matrix(predicted & ~gold, dtype=np.float64)
        self.fn = sparse.csr_matrix(~predicted & gold, dtype=np.float64)
        self.label_depths = np.ones(gold.shape[1], dtype=int) if label_depths is None else np.asarray(label_depths)

    def f1(self, counts: np.ndarray) -> dict[str, np.ndarray]:
        """{micro_f1, macro_f1, micro_f1@<depth>...: [B]} as fractions, for document weights `counts` [B, N] (how
        often each document was drawn)."""
        return self.f1_of_columns(np.ascontiguousarray(np.asarray(counts, dtype=float).T))

    def f1_of_columns(self, columns: np.ndarray) -> dict[str, np.ndarray]:
        """f1 of the weights given as contiguous columns [N, B], so that many runs share one transposition (the
        sparse product is 4x faster on contiguous columns: 4,813 documents x 131 labels x 2,000 replicates)."""
        tp, fp, fn = ((matrix.T @ columns).T for matrix in (self.tp, self.fp, self.fn))  # [B, V]
        scores = {MICRO: _f1(tp.sum(axis=1), fp.sum(axis=1), fn.sum(axis=1)), MACRO: _f1(tp, fp, fn).mean(axis=1)}
        for depth in np.unique(self.label_depths):
            at = self.label_depths == depth
            scores[depth_metric(int(depth))] = _f1(tp[:, at].sum(axis=1), fp[:, at].sum(axis=1), fn[:, at].sum(axis=1))
        return scores


def _f1(tp, fp, fn):
    denominator = 2 * tp + fp + fn
    return np.divide(2 * tp, denominator, out=np.zeros(np.shape(tp)), where=denominator > 0)


def resample_counts(num_docs: int, resamples: int, seed: int):
    """Chunks of document weights [chunk, N]: each row counts the draws of N documents with replacement."""
    rng = np.random.default_rng(seed)
    chunk = max(1, min(resamples, CELLS_PER_CHUNK // max(num_docs, 1)))
    for start in range(0, resamples, chunk):
        size = min(chunk, resamples - start)
        yield _draw_counts(rng, num_docs, size)


def _draw_counts(rng: np.random.Generator, n: int, size: int) -> np.ndarray:
    """[size, n]: each row counts n draws with replacement among n items."""
    drawn = rng.integers(0, n, size=(size, n))
    offsets = (np.arange(size) * n)[:, None]
    return np.bincount((drawn + offsets).ravel(), minlength=size * n).reshape(size, n).astype(float)


def seed_counts(num_seeds: int, resamples: int, stream: int, seed: int = SEED) -> np.ndarray:
    """[resamples, num_seeds]: how often each seed is drawn in each replicate; the same for equal arguments, so
    that every comparison of one kind and size draws the same seeds."""
    return _draw_counts(np.random.default_rng([seed, stream, num_seeds]), num_seeds, resamples)


def replicates(runs: dict, num_docs: int, resamples: int = RESAMPLES, seed: int = SEED
               ) -> tuple[dict, dict]:
    """(observed, replicates) of every run of `runs` ({key: RunCounts}), in points: observed {key: {metric:
    float}} on the whole test set, replicates {key: {metric: [resamples]}} on the shared document resamples."""
    observed = {key: {metric: 100 * float(values[0]) for metric, values in run.f1(np.ones((1, num_docs))).items()}
                for key, run in runs.items()}
    parts = {key: {} for key in runs}
    for counts in resample_counts(num_docs, resamples, seed):
        columns = np.ascontiguousarray(counts.T)
        for key, run in runs.items():
            for metric, values in run.f1_of_columns(columns).items():
                parts[key].setdefault(metric, []).append(100 * values)
    return observed, {key: {metric: np.concatenate(chunks) for metric, chunks in metrics.items()}
                      for key, metrics in parts.items()}


def seed_mean_replicates(per_seed: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """[B]: the mean over the drawn seeds, per replicate; per_seed [B, n] a score per replicate and seed,
    counts [B, n] the seed draws."""
    return (per_seed * counts).sum(axis=1) / counts.sum(axis=1)


def difference_replicates(a: np.ndarray, b: np.ndarray, counts_a: np.ndarray, counts_b: np.ndarray) -> np.ndarray:
    """[B] replicates of mean(a) - mean(b) over the drawn seeds; a [B, n_a], b [B, n_b] per replicate and seed.
    A paired comparison passes the same counts (and seeds in the same order) for both."""
    return seed_mean_replicates(a, counts_a) - seed_mean_replicates(b, counts_b)


def basic_interval(observed: float, replicates: np.ndarray, confidence: float = CONFIDENCE) -> dict:
    """The basic bootstrap interval of `observed`: 2 observed - the upper and lower quantiles of the replicates
    (numpy's linear interpolation between order statistics)."""
    tail = 100 * (1 - confidence) / 2
    low, high = np.percentile(np.asarray(replicates), [tail, 100 - tail])
    return {"low": 2 * observed - float(high), "high": 2 * observed - float(low), "observed": observed,
            "resamples": int(np.size(replicates)), "method": "basic, seeds x test documents"}


def compare(observed: dict, replicated: dict, a_keys: list, b_keys: list, metric: str, paired: bool) -> dict | None:
    """The basic interval of mean(a) - mean(b) on `metric` over the runs `a_keys` and `b_keys` (keys of
    `replicates`, one per seed; paired: the same seeds in the same order); None when a side has no run."""
    if not a_keys or not b_keys:
        return None
    a = np.stack([replicated[key][metric] for key in a_keys], axis=1)
    b = np.stack([replicated[key][metric] for key in b_keys], axis=1)
    counts_a = seed_counts(len(a_keys), len(a), SEED_STREAMS[0])
    counts_b = counts_a if paired else seed_counts(len(b_keys), len(b), SEED_STREAMS[1])
    theta = (float(np.mean([observed[key][metric] for key in a_keys]))
             - float(np.mean([observed[key][metric] for key in b_keys])))
    return basic_interval(theta, difference_replicates(a, b, counts_a, counts_b))
