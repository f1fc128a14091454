"""lhmix.reporting.figure6: ranks of label words by cosine, checked by hand on fixed vectors; the label
params.yaml asks for; the t-SNE layout; the file `dvc metrics` reads."""
import numpy as np
import pytest

from lhmix.core.errors import LhmixError, MalformedInput, ParamError
from lhmix.data.hierarchy import Hierarchy
from lhmix.reporting import figure6

# ids: A 0, B 1, a1 2, a2 3, b1 4
TREE = Hierarchy.from_paths([("A", "a1"), ("A", "a2"), ("B", "b1")])[0]
INITIAL = np.array([[1, 0], [0, 1], [1, 0.1], [-1, 0], [1, 1]])
TRAINED = np.array([[0, 1], [1, 0.1], [1, 0.1], [2, 0.2], [-1, 0]])


def test_ranks_by_cosine_by_hand():
    # against a1 = (1, 0.1), |a1| = sqrt 1.01: A 1 / sqrt 1.01, B 0.1 / sqrt 1.01, a2 -1 / sqrt 1.01,
    # b1 1.1 / (sqrt 1.01 sqrt 2)
    rank, cosine = figure6.ranks(INITIAL, 2)
    assert cosine[[0, 1, 3, 4]] == pytest.approx([0.99504, 0.09950, -0.99504, 0.77396], abs=1e-5)
    assert rank.tolist() == [1, 3, 0, 4, 2]
    # after: B and a2 both point as a1 does (cosine 1): the lower id, B, ranks first
    rank, cosine = figure6.ranks(TRAINED, 2)
    assert cosine[1] == pytest.approx(1.0)
    assert cosine[3] == pytest.approx(1.0)
    assert rank.tolist() == [3, 1, 0, 2, 4]


def test_entering_the_top_k_counts_only_labels_from_outside():
    before = np.array([0, 20, 4, 16, 2, 3])
    after = np.array([0, 1, 2, 10, 30, 15])
    # top 3: ids 1 (20 -> 1) and 2 (4 -> 2); top 15: 1 (20 -> 1) and 3 (16 -> 10), not 2 (already 4) nor 5
    assert figure6.entered(before, after) == {"entered_top3": 2, "entered_top15": 2}


def test_neighbours_ranks_and_relations():
    result = figure6.figure6(TREE, 2, INITIAL, TRAINED)
    assert result["label"]["name"] == "a1"
    assert result["labels"] == 5
    assert result["tops"] == [3, 15]
    rows = [(n["name"], n["relation"], n["rank_before"], n["rank_after"]) for n in result["neighbours"]]
    assert rows == [("B", "other", 3, 1), ("a2", "sibling", 4, 2), ("A", "parent", 1, 3), ("b1", "peer", 2, 4)]
    assert (result["entered_top3"], result["entered_top15"]) == (1, 0)  # a2: 4 -> 2
    assert all(len(n["xy_before"]) == 2 and len(n["xy_after"]) == 2 for n in result["neighbours"])
    assert figure6.relation(TREE, 0, 2) == "child"


def test_only_the_labels_near_before_or_after_are_shown(monkeypatch):
    monkeypatch.setattr(figure6, "NEIGHBOURS", 1)
    shown = figure6.figure6(TREE, 2, INITIAL, TRAINED)["neighbours"]
    assert [n["name"] for n in shown] == ["B", "A"]  # nearest after, nearest before


def test_layout_is_the_same_for_the_same_vectors():
    vectors = np.random.default_rng(0).normal(size=(12, 8))
    assert figure6.tsne(vectors) == figure6.tsne(vectors.copy())
    # unit length first: only the directions (the cosines) count
    assert np.asarray(figure6.tsne(vectors * 3.0)) == pytest.approx(np.asarray(figure6.tsne(vectors)), abs=1e-3)


def test_the_label_params_ask_for():
    deep = Hierarchy.from_paths([("A", "a", "x"), ("A", "a", "y"), ("A", "b", "z"), ("B", "c", "u"),
                                 ("B", "c", "v"), ("B", "c", "w")])[0]
    names = {label.id: label.name for label in deep.labels}
    # depth 3: x, y (2 under a), z (1), u, v, w (3 under c): the lowest id under c
    assert names[figure6.default_label(deep)] == "u"
    assert figure6.default_label(TREE) == 2  # depth 2 tree: a1 and a2 have a sibling, a1 first
    assert figure6.choose_label(TREE, "b1", "toy") == 4
    assert figure6.choose_label(TREE, {"wordnet": "a2", "wos": "zzz"}, "wordnet") == 3
    assert figure6.choose_label(TREE, {"wos": "a2"}, "wordnet") == 2  # another dataset's label: the default
    assert figure6.choose_label(TREE, 1, "toy") == 1
    with pytest.raises(ParamError, match="'figure6.label' = 'zzz': expected null, a label name or id of toy"):
        figure6.choose_label(TREE, "zzz", "toy")
    twice = Hierarchy.from_paths([("A", "x"), ("B", "x")])[0]
    with pytest.raises(ParamError, match=r"ids \[2, 3\] share it"):
        figure6.choose_label(twice, "x", "toy")


def test_label_words_files_are_checked(tmp_path):
    with pytest.raises(LhmixError, match="label_words.npz: missing"):
        figure6.read_label_words(tmp_path / "label_words.npz", 5)
    np.savez(tmp_path / "label_words.npz", initial=INITIAL, trained=TRAINED[:4])
    with pytest.raises(MalformedInput, match=r"label_words.npz: expected 'trained' of shape \[5 labels"):
        figure6.read_label_words(tmp_path / "label_words.npz", 5)


def test_metrics_file_keys_neighbours_by_name():
    result = {**figure6.figure6(TREE, 2, INITIAL, TRAINED), "variant": "prompt_lhmix", "seed": 0,
              "control": {"variant": "prompt", "entered_top3": 0, "entered_top15": 0}}
    metrics = figure6.keyed_by_name(result)
    assert metrics["label"] == "a1"
    assert metrics["entered_top3"] == 1
    assert metrics["control"]["entered_top3"] == 0
    assert metrics["neighbours"]["a2"] == {"rank_before": 4, "rank_after": 2, "cosine_before": -0.995,
                                           "cosine_after": 1.0}
    twice = Hierarchy.from_paths([("A", "x"), ("B", "x"), ("B", "y")])[0]
    vectors = np.eye(5)
    keys = figure6.keyed_by_name({**figure6.figure6(twice, 4, vectors, vectors), "variant": "v", "seed": 0,
                                "control": result["control"]})["neighbours"]
    assert sorted(keys) == ["A", "B", "x (id 2)", "x (id 3)"]
