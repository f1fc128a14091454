"""Decisions at thresholds tuned on dev: threshold or ranking, settled directly.

The paper decides every label at score > 0. Mixup moves where the scores cross 0 (more labels per document),
so a difference in F1 at 0 mixes a better ranking with a moved operating point. Here each prompt-family run
gets one threshold per depth, chosen on DEV alone: the one that maximises the dev micro-F1 of that depth's
labels (micro: one threshold acts on every label of the depth at once, and micro-F1 is the score it moves
directly; a macro-F1 over the rare labels of a dev set is too noisy to steer by). Test is then decided at
those thresholds: score > threshold of the label's depth. The test scores are read only after the thresholds
are fixed, and nothing of them reaches `tune` (tests/test_thresholds.py poisons them to prove it).

Among thresholds of equal dev micro-F1 the one nearest 0 is kept (0 itself where it is among them), so a run
whose dev optimum is the paper's threshold is scored as the paper scores it. The scores come from the run's
scores.npz (lhmix.training.outputs.write_scores: float16 dev and test scores of its best checkpoint).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from lhmix.core.errors import LhmixError


def read_scores(path: Path, split: str, ids: list[str], num_labels: int) -> np.ndarray:
    """float32 [N, V] scores of `split` (dev or test) from a run's scores.npz, checked against the split's ids."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as archive:
            scores, run_ids = archive[f"{split}_scores"], archive[f"{split}_ids"].tolist()
    except FileNotFoundError:
        raise LhmixError(f"{path}: missing; run `dvc repro` so that every prompt-family run has its scores") from None
    except Exception as error:
        raise LhmixError(f"{path}: not a readable scores file ({type(error).__name__}: {error})") from None
    if scores.shape != (len(ids), num_labels) or run_ids != list(ids):
        raise LhmixError(f"{path}: {split} scores of shape {scores.shape} for {len(run_ids)} documents, not the "
                         f"{len(ids)} {split} documents x {num_labels} labels of this dataset in {split}.jsonl "
                         "order; re-run `dvc repro`")
    return scores.astype(np.float32)


def best_threshold(scores: np.ndarray, gold: np.ndarray) -> float:
    """The threshold t maximising micro-F1 of the decisions score > t over these (document, label) pairs; among
    equal F1 the t nearest 0. Candidates: 0, and a cut between every two distinct scores (their midpoint),
    above the highest (nothing predicted) and below the lowest (everything)."""
    values = np.asarray(scores, dtype=np.float64).ravel()
    positives = np.asarray(gold, dtype=bool).ravel()
    distinct = np.unique(values)  # ascending
    candidates = np.concatenate([[0.0, distinct[-1], distinct[0] - 1.0], (distinct[1:] + distinct[:-1]) / 2])
    order = np.argsort(values, kind="stable")
    sorted_values, sorted_positives = values[order], positives[order]
    # predicted at t: the pairs above t; true positives among them from the cumulative count of positives
    below = np.searchsorted(sorted_values, candidates, side="right")
    positives_below = np.concatenate([[0], np.cumsum(sorted_positives)])[below]
    total = int(positives.sum())
    true_positives = total - positives_below
    predicted = values.size - below
    denominator = predicted + total
    f1 = np.divide(2.0 * true_positives, denominator, out=np.zeros(len(candidates)), where=denominator > 0)
    best = np.flatnonzero(f1 == f1.max())
    return float(candidates[best[np.argmin(np.abs(candidates[best]))]])


def tune(dev_scores: np.ndarray, dev_gold: np.ndarray, label_depths: np.ndarray) -> dict[int, float]:
    """{depth: threshold} from dev alone."""
    label_depths = np.asarray(label_depths)
    return {int(depth): best_threshold(dev_scores[:, label_depths == depth], dev_gold[:, label_depths == depth])
            for depth in np.unique(label_depths)}


def decide(scores: np.ndarray, thresholds: dict[int, float], label_depths: np.ndarray) -> np.ndarray:
    """bool [N, V]: score > the threshold of the label's depth."""
    cut = np.array([thresholds[int(depth)] for depth in label_depths])
    return np.asarray(scores) > cut[None, :]


def tuned_decisions(path: Path, dev_ids: list[str], dev_gold: np.ndarray, test_ids: list[str],
                    label_depths: np.ndarray) -> tuple[dict[int, float], np.ndarray]:
    """A run's ({depth: threshold} tuned on dev, its test decisions there) from its scores.npz."""
    thresholds = tune(read_scores(path, "dev", dev_ids, len(label_depths)), dev_gold, label_depths)
    return thresholds, decide(read_scores(path, "test", test_ids, len(label_depths)), thresholds, label_depths)
