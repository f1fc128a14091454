"""Micro- and macro-F1 over label decisions, accumulated batch by batch (vectorised numpy).

All values are fractions in [0, 1].
- micro-F1: over every (document, label) decision, 2 TP / (2 TP + FP + FN); with its precision
  TP / (TP + FP) and recall TP / (TP + FN), and the predicted and gold labels per document.
- macro-F1: mean over EVERY label of the hierarchy of its F1; a label never gold nor predicted has
  F1 = 0 (as in the published HTC evaluation), so the mean is always over |V| labels.
- per depth: the same two restricted to the labels of each depth.
- by frequency (paper Fig. 7): macro-F1 within three buckets of labels by their training frequency,
  the terciles of the labels sorted by (train count, id): "rare", "medium", "frequent". Terciles hold
  equal numbers of labels on every dataset, whatever its count scale; their count ranges are reported.
Only per-label TP/FP/FN counts (int64) are kept, so RCV1's 781k test documents stream through.

Threshold-free (test set only, `average_precision`): average precision of the scores, which ranks
(document, label) pairs without the 0 threshold, computed by scikit-learn's average_precision_score:
- micro AP: over every (document, label) pair of the test set;
- macro AP: mean over the labels with at least one gold document in the test set of each label's AP
  over the documents (a label without any has no AP; their number is reported);
- per depth: the same two over the labels of each depth.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from lhmix.core.errors import LhmixError
from lhmix.data.hierarchy import Hierarchy

FREQUENCY_BUCKETS = ("rare", "medium", "frequent")


def multi_hot(label_lists: Sequence[Sequence[int]], num_labels: int) -> np.ndarray:
    """bool [N, num_labels] with row i true at the labels of document i."""
    lengths = np.fromiter((len(labels) for labels in label_lists), dtype=np.int64, count=len(label_lists))
    columns = np.fromiter((label for labels in label_lists for label in labels), dtype=np.int64,
                          count=int(lengths.sum()))
    if columns.size and (columns.min() < 0 or columns.max() >= num_labels):
        raise LhmixError(f"label ids must be in 0..{num_labels - 1}; got {columns.min()}..{columns.max()}")
    matrix = np.zeros((len(label_lists), num_labels), dtype=bool)
    matrix[np.repeat(np.arange(len(label_lists)), lengths), columns] = True
    return matrix


def _f1(tp: np.ndarray, fp: np.ndarray, fn: np.ndarray) -> np.ndarray:
    """Elementwise 2TP / (2TP + FP + FN), 0 where the denominator is 0."""
    denominator = 2 * tp + fp + fn
    return np.divide(2 * tp, denominator, out=np.zeros(np.shape(tp), dtype=np.float64),
                     where=denominator > 0)


def _ratio(numerator, denominator) -> float:
    return float(numerator / denominator) if denominator else 0.0


def _micro_macro(tp, fp, fn) -> dict:
    """micro/macro-F1 and the micro precision and recall they come from."""
    tp_all, fp_all, fn_all = int(tp.sum()), int(fp.sum()), int(fn.sum())
    return {"micro_f1": float(_f1(tp_all, fp_all, fn_all)),
            "macro_f1": float(_f1(tp, fp, fn).mean()) if tp.size else 0.0,
            "precision": _ratio(tp_all, tp_all + fp_all), "recall": _ratio(tp_all, tp_all + fn_all)}


def frequency_buckets(train_label_counts: np.ndarray) -> dict[str, np.ndarray]:
    """Label ids of each tercile of training frequency (ties broken by label id)."""
    counts = np.asarray(train_label_counts)
    order = np.lexsort((np.arange(counts.size), counts))
    return dict(zip(FREQUENCY_BUCKETS, np.array_split(order, len(FREQUENCY_BUCKETS))))


def _micro_macro_ap(scores: np.ndarray, gold: np.ndarray) -> dict:
    from sklearn.metrics import average_precision_score

    has_gold = gold.any(axis=0)
    micro = float(average_precision_score(gold.ravel(), scores.ravel())) if gold.any() else 0.0
    macro = (float(average_precision_score(gold[:, has_gold], scores[:, has_gold], average="macro"))
             if has_gold.any() else 0.0)
    return {"micro_ap": micro, "macro_ap": macro, "ap_labels": int(has_gold.sum())}


def average_precision(scores: np.ndarray, gold: np.ndarray, hierarchy: Hierarchy) -> dict:
    """{micro_ap, macro_ap, ap_labels, per_depth_ap: {depth: {...}}} of float scores [N, V] against the
    bool gold matrix [N, V]; ap_labels: how many labels have a gold document (macro AP averages them)."""
    scores, gold = np.asarray(scores, dtype=np.float64), np.asarray(gold, dtype=bool)
    if scores.shape != gold.shape or scores.ndim != 2 or scores.shape[1] != len(hierarchy):
        raise LhmixError(f"expected scores and gold of shape [N, {len(hierarchy)}]; got {scores.shape} and {gold.shape}")
    result = _micro_macro_ap(scores, gold)
    result["per_depth_ap"] = {}
    for depth in range(1, hierarchy.depth + 1):
        ids = np.array(hierarchy.labels_at(depth), dtype=np.int64)
        result["per_depth_ap"][str(depth)] = _micro_macro_ap(scores[:, ids], gold[:, ids])
    return result


class F1Accumulator:
    def __init__(self, num_labels: int):
        self.num_labels = num_labels
        self.tp = np.zeros(num_labels, dtype=np.int64)
        self.fp = np.zeros(num_labels, dtype=np.int64)
        self.fn = np.zeros(num_labels, dtype=np.int64)
        self.num_docs = 0

    def update(self, pred: np.ndarray, gold: np.ndarray) -> None:
        """Add a batch of decisions: bool [N, V] predicted and gold label matrices."""
        pred, gold = np.asarray(pred, dtype=bool), np.asarray(gold, dtype=bool)
        if pred.shape != gold.shape or pred.ndim != 2 or pred.shape[1] != self.num_labels:
            raise LhmixError(f"expected pred and gold of shape [N, {self.num_labels}]; "
                             f"got {pred.shape} and {gold.shape}")
        self.tp += (pred & gold).sum(axis=0)
        self.fp += (pred & ~gold).sum(axis=0)
        self.fn += (~pred & gold).sum(axis=0)
        self.num_docs += pred.shape[0]

    def result(self, hierarchy: Hierarchy, train_label_counts: np.ndarray) -> dict:
        if len(hierarchy) != self.num_labels or len(train_label_counts) != self.num_labels:
            raise LhmixError(f"hierarchy ({len(hierarchy)}) and train counts ({len(train_label_counts)}) "
                             f"must cover the {self.num_labels} labels")
        tp, fp, fn = self.tp, self.fp, self.fn
        result = _micro_macro(tp, fp, fn)
        result["num_docs"] = self.num_docs
        # Labels per document, predicted and gold: the recall/precision trade-off in one pair.
        result["predicted_per_doc"] = _ratio(int(tp.sum() + fp.sum()), self.num_docs)
        result["gold_per_doc"] = _ratio(int(tp.sum() + fn.sum()), self.num_docs)
        result["per_depth"] = {}
        for depth in range(1, hierarchy.depth + 1):
            ids = np.array(hierarchy.labels_at(depth), dtype=np.int64)
            result["per_depth"][str(depth)] = _micro_macro(tp[ids], fp[ids], fn[ids])
        per_label = _f1(tp, fp, fn)
        counts = np.asarray(train_label_counts)
        buckets = frequency_buckets(counts)
        result["by_frequency"] = {name: float(per_label[ids].mean()) if ids.size else 0.0
                                  for name, ids in buckets.items()}
        result["frequency_buckets"] = {
            name: {"labels": int(ids.size),
                   "min_train_count": int(counts[ids].min()) if ids.size else 0,
                   "max_train_count": int(counts[ids].max()) if ids.size else 0}
            for name, ids in buckets.items()}
        return result
