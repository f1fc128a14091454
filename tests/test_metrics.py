import numpy as np
import pytest
from sklearn.metrics import f1_score

from lhmix.core.errors import LhmixError
from lhmix.data.hierarchy import Hierarchy
from lhmix.training.metrics import F1Accumulator, frequency_buckets, multi_hot

# ids: a=0, b=1, a/a1=2, a/a2=3
HIERARCHY, _ = Hierarchy.from_paths([("a", "a1"), ("a", "a2"), ("b",)])
GOLD = [[0, 2], [0, 3], [0, 2]]
PRED = [[0, 2], [0, 2], [0]]
TRAIN_COUNTS = np.array([10, 0, 6, 3])


def test_multi_hot():
    assert multi_hot([[0, 2], [], [3]], 4).tolist() == [
        [True, False, True, False], [False, False, False, False], [False, False, False, True]]
    assert multi_hot([], 4).shape == (0, 4)
    with pytest.raises(LhmixError, match="0..3"):
        multi_hot([[4]], 4)


def test_hand_computed_f1():
    accumulator = F1Accumulator(4)
    accumulator.update(multi_hot(PRED, 4), multi_hot(GOLD, 4))
    result = accumulator.result(HIERARCHY, TRAIN_COUNTS)
    # per label (tp, fp, fn): a (3,0,0) F1 1; b (0,0,0) F1 0 (never gold nor predicted);
    # a1 (1,1,1) F1 0.5; a2 (0,0,1) F1 0.  Totals tp 4, fp 1, fn 2.
    assert result["micro_f1"] == pytest.approx(8 / 11)
    assert result["macro_f1"] == pytest.approx((1 + 0 + 0.5 + 0) / 4)
    assert result["precision"] == pytest.approx(4 / 5)
    assert result["recall"] == pytest.approx(4 / 6)
    assert result["predicted_per_doc"] == pytest.approx(5 / 3)
    assert result["gold_per_doc"] == 2.0
    assert result["per_depth"]["1"] == pytest.approx(
        {"micro_f1": 1.0, "macro_f1": 0.5, "precision": 1.0, "recall": 1.0})
    # depth 2: tp 1, fp 1, fn 2
    assert result["per_depth"]["2"] == pytest.approx(
        {"micro_f1": 2 / 5, "macro_f1": 0.25, "precision": 1 / 2, "recall": 1 / 3})
    # terciles by (train count, id): rare = {b, a2}, medium = {a1}, frequent = {a}
    assert result["by_frequency"] == pytest.approx({"rare": 0.0, "medium": 0.5, "frequent": 1.0})
    assert result["frequency_buckets"]["rare"] == {"labels": 2, "min_train_count": 0, "max_train_count": 3}
    assert result["num_docs"] == 3


def test_batches_accumulate_like_one_pass_and_match_sklearn():
    rng = np.random.default_rng(0)
    gold = rng.random((1000, 30)) < 0.2
    pred = rng.random((1000, 30)) < 0.2
    gold[:, 7] = pred[:, 7] = False  # a label never seen counts as F1 0 in the macro mean
    labels = Hierarchy.from_paths([(f"l{i}",) for i in range(30)])[0]
    whole, batched = F1Accumulator(30), F1Accumulator(30)
    whole.update(pred, gold)
    for start in range(0, 1000, 128):
        batched.update(pred[start:start + 128], gold[start:start + 128])
    counts = gold.sum(axis=0)
    assert whole.result(labels, counts) == batched.result(labels, counts)
    result = whole.result(labels, counts)
    assert result["micro_f1"] == pytest.approx(f1_score(gold, pred, average="micro"))
    assert result["macro_f1"] == pytest.approx(f1_score(gold, pred, average="macro", zero_division=0))


def test_frequency_buckets_break_ties_by_id():
    buckets = frequency_buckets(np.array([5, 5, 1, 5, 9, 1]))
    assert {name: ids.tolist() for name, ids in buckets.items()} == {
        "rare": [2, 5], "medium": [0, 1], "frequent": [3, 4]}


def test_shape_errors():
    accumulator = F1Accumulator(4)
    with pytest.raises(LhmixError, match=r"\[N, 4\]"):
        accumulator.update(np.zeros((2, 3), bool), np.zeros((2, 3), bool))
    with pytest.raises(LhmixError, match="4 labels"):
        accumulator.result(HIERARCHY, np.zeros(3))
