"""The label tree and the data contract writer."""
import json
import os
import stat

import pytest

from lhmix.core.errors import LhmixError
from lhmix.datasets.contract import PreparedDataset, write_dataset
from lhmix.data.hierarchy import Hierarchy

PATHS = [("Sci", "Physics"), ("Sci", "Biology"), ("Arts", "Music"), ("Arts",)]


def test_ids_are_ordered_by_depth_then_path_whatever_the_input_order():
    tree, id_of = Hierarchy.from_paths(reversed(PATHS), names={("Sci",): "Science"})
    assert [(l.id, l.name, l.parent, l.depth) for l in tree.labels] == [
        (0, "Arts", None, 1), (1, "Science", None, 1),
        (2, "Music", 0, 2), (3, "Biology", 1, 2), (4, "Physics", 1, 2)]
    assert id_of[("Sci", "Physics")] == 4
    assert tree.labels_at(2) == [2, 3, 4]
    assert tree.ancestors(4) == [1]
    assert tree.with_ancestors([4, 2]) == [0, 1, 2, 4]
    assert tree.local_hierarchy([4, 1, 3]) == ((1,), (3, 4))
    assert Hierarchy.from_json(json.loads(json.dumps(tree.to_json()))).labels == tree.labels


def _dataset(docs_by_split):
    tree, _ = Hierarchy.from_paths(PATHS)
    return PreparedDataset("toy", tree, docs_by_split)


def test_writes_contract_files_and_table1_stats(tmp_path):
    docs = {"train": [{"id": "a", "text": "quarks", "labels": [1, 4]}, {"id": "b", "text": "jazz", "labels": [0, 2]}],
            "dev": [{"id": "c", "text": "cells", "labels": [1, 3]}], "test": [{"id": "d", "text": "art", "labels": [0]}]}
    dataset = _dataset(docs)
    dataset.dropped["no_label"] = 2
    stats = write_dataset(dataset, tmp_path / "toy")
    assert stats == {"dataset": "toy", "depth": 2, "num_labels": 5, "labels_per_level": [2, 3],
                     "avg_labels_per_doc": 1.75, "splits": {"train": 2, "dev": 1, "test": 1}, "docs_total": 4,
                     "dropped": {"no_label": 2}, "single_path": True}
    lines = (tmp_path / "toy" / "train.jsonl").read_text().splitlines()
    assert lines[0] == '{"id":"a","labels":[1,4],"text":"quarks"}'
    assert json.loads((tmp_path / "toy" / "stats.json").read_text()) == stats


@pytest.mark.parametrize("bad_doc, problem", [
    ({"id": "x", "text": "t", "labels": [4]}, "every ancestor"),
    ({"id": "x", "text": "t", "labels": []}, "non-empty"),
    ({"id": "x", "text": "  ", "labels": [0]}, '"text" "  ": expected a non-empty string'),
    ({"id": "x", "text": None, "labels": [0]}, '"text" null: expected a non-empty string'),
    ({"id": "x", "text": "t", "labels": [0, 9]}, "label ids in 0..4"),
])
def test_a_bad_document_leaves_no_output_behind(tmp_path, bad_doc, problem):
    (tmp_path / "toy").mkdir()
    (tmp_path / "toy" / "old.txt").write_text("previous output")
    docs = {"train": [{"id": "a", "text": "quarks", "labels": [1, 4]}], "dev": [bad_doc], "test": []}
    with pytest.raises(LhmixError, match=problem):
        write_dataset(_dataset(docs), tmp_path / "toy")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["toy"]
    assert (tmp_path / "toy" / "old.txt").read_text() == "previous output"


def test_duplicate_ids_across_splits_are_refused(tmp_path):
    docs = {"train": [{"id": "a", "text": "x", "labels": [0]}], "dev": [{"id": "a", "text": "y", "labels": [0]}],
            "test": []}
    with pytest.raises(LhmixError, match="appears twice"):
        write_dataset(_dataset(docs), tmp_path / "toy")


def test_the_processed_folder_gets_the_usual_mode_not_mkdtemp_s_0700(tmp_path):
    previous = os.umask(0o002)
    try:
        write_dataset(_dataset({split: [{"id": split, "text": "t", "labels": [0]}] for split in ("train", "dev", "test")}),
                      tmp_path / "toy")
    finally:
        os.umask(previous)
    assert stat.S_IMODE((tmp_path / "toy").stat().st_mode) == 0o775


def test_an_empty_split_is_refused_where_it_is_made(tmp_path):
    """NYT with every test-list document missing gave a 0-line test.jsonl and a test F1 of 0.0 as a result."""
    docs = {"train": [{"id": "a", "text": "quarks", "labels": [1, 4]}], "dev": [{"id": "c", "text": "cells",
            "labels": [1, 3]}], "test": []}
    dataset = _dataset(docs)
    dataset.dropped["missing_file"] = 7
    with pytest.raises(LhmixError, match=r"toy/test.jsonl: no documents: dataset 'toy' has an empty test split "
                                         r"\(documents dropped: missing_file: 7\)"):
        write_dataset(dataset, tmp_path / "toy")
    assert list(tmp_path.iterdir()) == []  # nothing half-written
