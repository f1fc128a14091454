"""The paired bootstrap over test documents (lhmix.reporting.bootstrap) against hand-computed values."""
import numpy as np
import pytest

from lhmix.core.errors import LhmixError
from lhmix.reporting import bootstrap
from lhmix.training.outputs import write_predictions

GOLD = np.array([[1, 0], [0, 1]], dtype=bool)
PREDICTED = np.array([[1, 1], [0, 0]], dtype=bool)


def test_f1_with_document_weights():
    counts = bootstrap.RunCounts(PREDICTED, GOLD)
    # weights 1, 1: TP 1 (doc 0, label 0), FP 1 (doc 0, label 1), FN 1 (doc 1, label 1): micro 2/4;
    # label 0: F1 1, label 1: 0 -> macro 0.5.  Weights 2, 0: TP 2, FP 2, FN 0: micro 4/6; macro again 0.5.
    micro, macro = counts.f1(np.array([[1.0, 1.0], [2.0, 0.0], [0.0, 2.0]]))
    assert micro == pytest.approx([0.5, 4 / 6, 0.0])
    assert macro == pytest.approx([0.5, 0.5, 0.0])


def test_resamples_draw_every_document_set_of_n_reproducibly():
    chunks = list(bootstrap.resample_counts(5, 7, seed=3))
    counts = np.concatenate(chunks)
    assert counts.shape == (7, 5)
    assert (counts.sum(axis=1) == 5).all()
    again = np.concatenate(list(bootstrap.resample_counts(5, 7, seed=3)))
    assert (counts == again).all()


def test_seed_means_pair_the_variants_on_the_same_resamples():
    perfect = bootstrap.RunCounts(GOLD, GOLD)
    empty = bootstrap.RunCounts(np.zeros_like(GOLD), GOLD)
    half = bootstrap.RunCounts(PREDICTED, GOLD)
    means = bootstrap.seed_means({"a": [perfect, perfect], "b": [empty], "c": [perfect, empty]}, 2, resamples=50)
    assert (means["a"]["micro_f1"] == 100).all()
    assert (means["b"]["macro_f1"] == 0).all()
    assert (means["c"]["micro_f1"] == 50).all()   # the mean over its two seeds on every resample
    assert bootstrap.interval(means["a"]["micro_f1"], means["b"]["micro_f1"]) == {"low": 100.0, "high": 100.0,
                                                                                   "resamples": 50}
    values = bootstrap.seed_means({"h": [half]}, 2, resamples=10)["h"]["micro_f1"]
    assert all(min(abs(v - allowed) for allowed in (0.0, 50.0, 100 * 4 / 6)) < 1e-9 for v in values)


def test_interval_is_the_central_95_percent():
    a, b = np.arange(1001, dtype=float), np.zeros(1001)
    assert bootstrap.interval(a, b) == pytest.approx({"low": 25.0, "high": 975.0, "resamples": 1001})


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
