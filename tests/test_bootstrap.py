"""The paired bootstrap over test documents (lhmix.reporting.bootstrap) against hand-computed values."""
import numpy as np
import pytest

from lhmix.core.errors import LhmixError
from lhmix.reporting import bootstrap
from lhmix.training.outputs import write_predictions

GOLD = np.array([[1, 0], [0, 1]], dtype=bool)
PREDICTED = np.array([[1, 1], [0, 0]], dtype=bool)


def test_f1_with_document_weights():
    counts = bootstrap.RunCounts(PREDICTED, GOLD, label_depths=np.array([1, 2]))
    # weights 1, 1: TP 1 (doc 0, label 0), FP 1 (doc 0, label 1), FN 1 (doc 1, label 1): micro 2/4;
    # label 0: F1 1, label 1: 0 -> macro 0.5.  Weights 2, 0: TP 2, FP 2, FN 0: micro 4/6; macro again 0.5.
    scores = counts.f1(np.array([[1.0, 1.0], [2.0, 0.0], [0.0, 2.0]]))
    assert scores["micro_f1"] == pytest.approx([0.5, 4 / 6, 0.0])
    assert scores["macro_f1"] == pytest.approx([0.5, 0.5, 0.0])
    # per depth: label 0 alone is depth 1 (F1 1, 1, and nothing to score on doc 1: 0), label 1 depth 2 (always 0)
    assert scores["micro_f1@1"] == pytest.approx([1.0, 1.0, 0.0])
    assert scores["micro_f1@2"] == pytest.approx([0.0, 0.0, 0.0])


def test_resamples_draw_every_document_set_of_n_reproducibly():
    chunks = list(bootstrap.resample_counts(5, 7, seed=3))
    counts = np.concatenate(chunks)
    assert counts.shape == (7, 5)
    assert (counts.sum(axis=1) == 5).all()
    again = np.concatenate(list(bootstrap.resample_counts(5, 7, seed=3)))
    assert (counts == again).all()
    seeds = bootstrap.seed_counts(3, 11, stream=1)
    assert seeds.shape == (11, 3)
    assert (seeds.sum(axis=1) == 3).all()
    assert (seeds == bootstrap.seed_counts(3, 11, stream=1)).all()
    assert not (seeds == bootstrap.seed_counts(3, 11, stream=2)).all()


def test_basic_interval_reflects_the_quantiles_about_the_observed_value():
    # replicates 0..1000: quantiles 25 and 975. Observed 600: basic [1200 - 975, 1200 - 25]; the percentile
    # interval [25, 975] would sit wherever the replicates' bias puts it
    interval = bootstrap.basic_interval(600.0, np.arange(1001, dtype=float))
    assert (interval["low"], interval["high"]) == pytest.approx((225.0, 1175.0))
    assert interval["resamples"] == 1001


# A 2-seed x 3-document case, one label, gold: documents 0 and 1 positive, 2 negative.
TINY_GOLD = np.array([[1], [1], [0]], dtype=bool)
TINY = {("a", 0): [1, 1, 1], ("a", 1): [1, 0, 0], ("b", 0): [0, 0, 0], ("b", 1): [1, 1, 0]}
# Fixed resamples: document weights and, for each, the seed draws
DOCUMENT_DRAWS = np.array([[1, 1, 1], [3, 0, 0], [0, 1, 2], [0, 0, 3]], dtype=float)
SEED_DRAWS = np.array([[1, 1], [2, 0], [0, 2], [1, 1]], dtype=float)


def _tiny_runs():
    return {key: bootstrap.RunCounts(np.array(decided, dtype=bool)[:, None], TINY_GOLD)
            for key, decided in TINY.items()}


def test_two_level_bootstrap_on_fixed_resamples_against_hand_computed_values():
    scores = {key: 100 * run.f1(DOCUMENT_DRAWS)["micro_f1"] for key, run in _tiny_runs().items()}
    # a seed 0 decides every document positive: weights 1,1,1: TP 2, FP 1 -> 4/5; 3,0,0: TP 3 -> 1;
    # 0,1,2: TP 1, FP 2 -> 2/4; 0,0,3: FP 3 -> 0.  a seed 1 (document 0 only): 2/3, 1, 0 (FN 1), 0 (nothing).
    # b seed 0 decides nothing: 0 everywhere; b seed 1 decides documents 0, 1: 1, 1, 1, 0 (nothing).
    assert scores[("a", 0)] == pytest.approx([80, 100, 50, 0])
    assert scores[("a", 1)] == pytest.approx([200 / 3, 100, 0, 0])
    assert scores[("b", 0)] == pytest.approx([0, 0, 0, 0])
    assert scores[("b", 1)] == pytest.approx([100, 100, 100, 0])
    a = np.stack([scores[("a", 0)], scores[("a", 1)]], axis=1)
    b = np.stack([scores[("b", 0)], scores[("b", 1)]], axis=1)
    # paired: per-seed differences 80, 100, 50, 0 and -100/3, 0, -100, 0; seeds drawn {0, 1}, {0, 0}, {1, 1}, {0, 1}
    replicates = bootstrap.difference_replicates(a, b, SEED_DRAWS, SEED_DRAWS)
    assert replicates == pytest.approx([(80 - 100 / 3) / 2, 100, -100, 0])
    # observed (every seed, every document): (80 + 200/3) / 2 - (0 + 100) / 2 = 70/3
    observed = 70 / 3
    # sorted -100, 0, 70/3, 100; numpy's linear quantiles at 0.025 x 3 and 0.975 x 3:
    # -100 + 0.075 x 100 = -92.5 and 70/3 + 0.925 x (100 - 70/3) = 94.25
    interval = bootstrap.basic_interval(observed, replicates)
    assert (interval["low"], interval["high"]) == pytest.approx((2 * observed - 94.25, 2 * observed + 92.5))
    # two independent groups draw their seeds apart: a draws as above, b the reverse order ({0, 1}, {1, 1},
    # {0, 0}, {0, 1}): a seed 0 on resample 2 (100) minus b seed 1 (100); a seed 1 on resample 3 (0) minus b seed 0 (0)
    welch = bootstrap.difference_replicates(a, b, SEED_DRAWS, SEED_DRAWS[::-1])
    assert welch == pytest.approx([70 / 3, 100 - 100, 0 - 0, 0 - 0])


def test_two_level_replicates_center_on_the_enumerated_bootstrap_distribution():
    # every (seed draw, document draw) of the tiny case: 4 x 27 equally likely; the mean of the exact two-level
    # distribution of the paired difference, against the mean of the drawn replicates
    import itertools
    runs = _tiny_runs()
    every_document_draw = np.array([np.bincount(draw, minlength=3) for draw in itertools.product(range(3), repeat=3)],
                                   dtype=float)
    every_seed_draw = np.array([np.bincount(draw, minlength=2) for draw in itertools.product(range(2), repeat=2)],
                               dtype=float)
    per_seed = {key: 100 * run.f1(every_document_draw)["micro_f1"] for key, run in runs.items()}
    differences = np.stack([per_seed[("a", s)] - per_seed[("b", s)] for s in (0, 1)], axis=1)   # [27, 2]
    exact = np.mean([(differences * seeds).sum(axis=1) / 2 for seeds in every_seed_draw])
    observed, replicated = bootstrap.replicates(runs, 3, resamples=20_000, seed=5)
    assert observed[("a", 0)]["micro_f1"] == pytest.approx(80)
    a = np.stack([replicated[("a", s)]["micro_f1"] for s in (0, 1)], axis=1)
    b = np.stack([replicated[("b", s)]["micro_f1"] for s in (0, 1)], axis=1)
    drawn = bootstrap.difference_replicates(a, b, *[bootstrap.seed_counts(2, 20_000, stream=1)] * 2)
    assert drawn.mean() == pytest.approx(exact, abs=3 * drawn.std() / np.sqrt(drawn.size))
    # compare() is this basic interval on these replicates, about the observed seed-mean difference
    interval = bootstrap.compare(observed, replicated, [("a", 0), ("a", 1)], [("b", 0), ("b", 1)], "micro_f1",
                                 paired=True)
    assert interval["observed"] == pytest.approx(70 / 3)
    expected = bootstrap.basic_interval(70 / 3, drawn)
    assert (interval["low"], interval["high"]) == pytest.approx((expected["low"], expected["high"]))


def test_decisions_must_be_the_test_sets(tmp_path):
    path = tmp_path / "predictions.npz"
    write_predictions(path, ["d0", "d1"], np.packbits(PREDICTED, axis=1), 2)
    assert (bootstrap.read_decisions(path, ["d0", "d1"], 2) == PREDICTED).all()
    with pytest.raises(LhmixError, match="not the 3 test documents"):
        bootstrap.read_decisions(path, ["d0", "d1", "d2"], 2)
    with pytest.raises(LhmixError, match="missing; run `dvc repro`"):
        bootstrap.read_decisions(tmp_path / "none.npz", ["d0"], 2)
    (tmp_path / "bad.npz").write_bytes(b"not a zip")
    with pytest.raises(LhmixError, match="not a readable predictions file"):
        bootstrap.read_decisions(tmp_path / "bad.npz", ["d0"], 2)
