"""Thresholds tuned on dev (lhmix.reporting.thresholds) against hand-computed cases, and proof that the test scores
never reach them."""
import numpy as np
import pytest

from lhmix.core.errors import LhmixError
from lhmix.reporting import thresholds
from lhmix.training.outputs import write_scores


def test_best_threshold_maximises_micro_f1_with_hand_computed_cases():
    # scores 3, 2, 1, -0.5, -2 with gold 1, 0, 1, 0, 0: the top 1, 2, 3, 4, 5 give F1 2/3, 2/4, 4/5, 4/6, 4/7;
    # the top 3 is best, cut anywhere in (-0.5, 1): 0 is such a cut, and the nearest 0
    assert thresholds.best_threshold(np.array([3, 2, 1, -0.5, -2]), np.array([1, 0, 1, 0, 0])) == 0.0
    # all scores negative: nothing passes 0 (F1 0); the top 2 are exactly the gold (F1 1): cut between -2 and -3
    assert thresholds.best_threshold(np.array([-1, -2, -3, -4]), np.array([1, 1, 0, 0])) == -2.5
    # tied scores move together: top 2 (the two 1s) F1 2/4, all three 4/5: below the lowest score
    assert thresholds.best_threshold(np.array([1, 1, -1]), np.array([1, 0, 1])) == -2.0
    # the positive scored lowest, all below 0: predicting nothing (at 0: F1 0) against everything (2/4): everything
    assert thresholds.best_threshold(np.array([-3, -4, -5]), np.array([0, 0, 1])) == -6.0
    # the same scores above 0: 0 predicts everything too, and is the nearest 0 of the equal cuts
    assert thresholds.best_threshold(np.array([5, 4, 3]), np.array([0, 0, 1])) == 0.0
    # no dev positive: nothing can be gained, F1 0 everywhere: 0 kept
    assert thresholds.best_threshold(np.array([0.5, -0.5]), np.array([0, 0])) == 0.0


def test_one_threshold_per_depth_and_decisions_at_it():
    depths = np.array([1, 1, 2])
    dev = np.array([[2.0, -1.0, -3.0], [-1.0, 1.0, -4.0]])
    gold = np.array([[1, 0, 1], [0, 1, 0]], dtype=bool)
    # depth 1: scores 2, -1, -1, 1 with gold 1, 0, 0, 1: the top 2 (F1 1) from 0, nearest 0 of (-1, 1): 0;
    # depth 2: -3 (gold), -4: the top 1, cut at -3.5
    cut = thresholds.tune(dev, gold, depths)
    assert cut == {1: 0.0, 2: -3.5}
    decided = thresholds.decide(np.array([[0.5, -0.1, -3.2], [-2.0, 0.1, -3.9]]), cut, depths)
    assert decided.tolist() == [[True, False, True], [False, True, False]]


DEV_IDS, TEST_IDS = ["d0", "d1", "d2"], ["t0", "t1"]
DEPTHS = np.array([1, 2])
DEV_SCORES = np.array([[1.5, -2.0], [-0.5, -1.0], [0.25, -3.0]])
DEV_GOLD = np.array([[1, 1], [0, 1], [1, 0]], dtype=bool)
TEST_SCORES = np.array([[0.5, -1.5], [-1.0, -2.5]])


def test_tuned_thresholds_never_read_the_test_scores(tmp_path):
    path = tmp_path / "scores.npz"
    write_scores(path, DEV_IDS, DEV_SCORES, TEST_IDS, TEST_SCORES)
    cut, decided = thresholds.tuned_decisions(path, DEV_IDS, DEV_GOLD, TEST_IDS, DEPTHS)
    # depth 1: 1.5 and 0.25 are the gold: cut 0 (nearest 0 of (-0.5, 0.25)); depth 2: -1 and -2 gold, -3 not:
    # cut between -2 and -3
    assert cut == {1: 0.0, 2: -2.5}
    assert decided.tolist() == [[True, True], [False, False]]
    # the test scores permuted, then poisoned (NaN, infinities, huge values): the thresholds do not move,
    # only the test decisions
    for poisoned in (TEST_SCORES[::-1], TEST_SCORES.T.copy().reshape(2, 2) * -1,
                     np.array([[np.nan, np.inf], [-np.inf, 6e4]])):
        write_scores(path, DEV_IDS, DEV_SCORES, TEST_IDS, poisoned)
        again, decided_again = thresholds.tuned_decisions(path, DEV_IDS, DEV_GOLD, TEST_IDS, DEPTHS)
        assert again == cut
        assert decided_again.tolist() != decided.tolist()
    # and the dev scores do move them
    write_scores(path, DEV_IDS, DEV_SCORES - 5, TEST_IDS, TEST_SCORES)
    assert thresholds.tuned_decisions(path, DEV_IDS, DEV_GOLD, TEST_IDS, DEPTHS)[0] == {1: -5.125, 2: -7.5}


def test_scores_are_checked_against_the_split(tmp_path):
    path = tmp_path / "scores.npz"
    write_scores(path, DEV_IDS, DEV_SCORES, TEST_IDS, TEST_SCORES)
    with np.load(path) as archive:
        assert archive["dev_scores"].dtype == np.float16
    with pytest.raises(LhmixError, match="dev scores of shape .* not the 4 dev documents x 2 labels"):
        thresholds.read_scores(path, "dev", DEV_IDS + ["d3"], 2)
    with pytest.raises(LhmixError, match="missing; run `dvc repro`"):
        thresholds.read_scores(tmp_path / "none.npz", "dev", DEV_IDS, 2)
    (tmp_path / "bad.npz").write_bytes(b"not a zip")
    with pytest.raises(LhmixError, match="not a readable scores file"):
        thresholds.read_scores(tmp_path / "bad.npz", "test", TEST_IDS, 2)
