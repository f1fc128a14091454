"""lhmix.data: reading splits, subsets, batching, padding and targets."""
import json

import numpy as np
import pytest
import torch

from lhmix.datasets.contract import PreparedDataset, write_dataset
from lhmix.data.documents import Documents, read_dataset
from lhmix.training.batches import (CHUNK_BATCHES, Encoded, Ragged, collate, length_batches, shard,
                                    sorted_batches, train_subset)
from lhmix.core.errors import MalformedInput, ParamError
from lhmix.data.hierarchy import Hierarchy


def small_dataset(tmp_path):
    hierarchy, id_of = Hierarchy.from_paths([("a", "a1"), ("a", "a2"), ("b", "b1")])
    docs = [{"id": f"d{i}", "labels": hierarchy.with_ancestors([id_of[path]]), "text": f"text {i}"}
            for i, path in enumerate([("a", "a1"), ("a", "a2"), ("b", "b1"), ("a", "a1"), ("b", "b1"), ("a", "a2")])]
    write_dataset(PreparedDataset("toy", hierarchy, {"train": docs[:4], "dev": docs[4:5], "test": docs[5:]}),
                  tmp_path / "toy")
    return tmp_path / "toy", hierarchy


def test_read_dataset_keeps_file_order_and_labels(tmp_path):
    folder, hierarchy = small_dataset(tmp_path)
    read_hierarchy, splits = read_dataset(folder)
    assert len(read_hierarchy) == 5  # a, b, a1, a2, b1
    assert splits["train"].ids == ["d0", "d1", "d2", "d3"]
    # ids: a=0 b=1 a1=2 a2=3 b1=4
    assert splits["train"].labels == [[0, 2], [0, 3], [1, 4], [0, 2]]
    assert splits["dev"].texts == ["text 4"]
    assert splits["test"].ids == ["d5"]


def replace_line(path, number, doc):
    lines = path.read_text().splitlines()
    lines[number - 1] = json.dumps(doc)
    path.write_text("\n".join(lines) + "\n")


# the tree of small_dataset: a=0 b=1 | a1=2 a2=3 (under a) b1=4 (under b)
@pytest.mark.parametrize("doc, problem", [
    ([0, 2], 'expected an object with "id", "labels", "text"'),
    ({"id": "x", "text": "t"}, '"labels"'),
    ({"id": "", "labels": [0], "text": "t"}, '"id" "": expected a non-empty string'),
    ({"id": 5, "labels": [0], "text": "t"}, '"id" 5: expected a non-empty string'),
    ({"id": "x", "labels": [], "text": "t"}, "non-empty list of label ids in 0..4"),
    ({"id": "x", "labels": [0, 7], "text": "t"}, "non-empty list of label ids in 0..4"),
    ({"id": "x", "labels": [True], "text": "t"}, "non-empty list of label ids in 0..4"),
    ({"id": "x", "labels": "0", "text": "t"}, "non-empty list of label ids in 0..4"),
    ({"id": "x", "labels": [2, 0], "text": "t"}, "ascending"),
    ({"id": "x", "labels": [0, 2, 2], "text": "t"}, "ascending"),
    ({"id": "x", "labels": [2], "text": "t"}, "label 2 lacks its parent 0"),          # stripped to the leaf
    ({"id": "x", "labels": [0, 4], "text": "t"}, "label 4 lacks its parent 1"),       # inconsistent path
    ({"id": "x", "labels": [0, 2], "text": None}, '"text" null: expected a non-empty string'),
    ({"id": "x", "labels": [0, 2], "text": " "}, '"text" " ": expected a non-empty string'),
    ({"id": "d0", "labels": [0, 2], "text": "t"}, '"id" "d0" appears twice'),
])
def test_a_document_breaking_the_contract_names_file_line_and_expectation(tmp_path, doc, problem):
    folder, _ = small_dataset(tmp_path)
    replace_line(folder / "train.jsonl", 2, doc)
    with pytest.raises(MalformedInput, match=problem) as caught:
        read_dataset(folder)
    assert str(caught.value).startswith(f"{folder / 'train.jsonl'}:2: ")


def test_an_id_repeated_in_another_split_names_the_later_line(tmp_path):
    folder, _ = small_dataset(tmp_path)
    replace_line(folder / "dev.jsonl", 1, {"id": "d1", "labels": [1, 4], "text": "t"})
    with pytest.raises(MalformedInput, match='"d1" appears twice') as caught:
        read_dataset(folder)
    assert str(caught.value).startswith(f"{folder / 'dev.jsonl'}:1: ")
    read_dataset(folder, ("dev", "test"))  # unique among the splits read


def test_a_line_that_is_not_json_or_not_utf8_names_the_line(tmp_path):
    folder, _ = small_dataset(tmp_path)
    path = folder / "train.jsonl"
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(lines[0] + b'{"id": "x", "labels": [0], "text": "caf\xe9"}\n' + lines[1])
    with pytest.raises(MalformedInput, match=f"{path}:2: not UTF-8"):
        read_dataset(folder)
    path.write_bytes(lines[0] + b"{not json\n")
    with pytest.raises(MalformedInput, match=f"{path}:2: not JSON"):
        read_dataset(folder)


def test_prepare_records_whether_every_document_is_one_path(tmp_path):
    folder, _ = small_dataset(tmp_path / "one")
    assert json.loads((folder / "stats.json").read_text())["single_path"] is True
    tree, _ = Hierarchy.from_paths([("a", "a1"), ("a", "a2"), ("b", "b1")])
    two_paths = {"id": "d", "labels": [0, 2, 3], "text": "t"}
    one = [{"id": name, "labels": [0, 2], "text": "t"} for name in ("e", "f")]
    write_dataset(PreparedDataset("toy", tree, {"train": [two_paths], "dev": one[:1], "test": one[1:]}),
                  tmp_path / "two")
    assert json.loads((tmp_path / "two" / "stats.json").read_text())["single_path"] is False
    read_dataset(tmp_path / "two")


@pytest.mark.parametrize("labels, problem", [
    ([0, 2, 3], "labels 2 and 3"),    # two leaves under a
    ([0, 1, 2], "labels 0 and 1"),    # two roots
])
def test_a_single_path_dataset_refuses_a_second_path(tmp_path, labels, problem):
    folder, _ = small_dataset(tmp_path)
    replace_line(folder / "dev.jsonl", 1, {"id": "x", "labels": labels, "text": "t"})
    with pytest.raises(MalformedInput, match=f"{problem} are not one path") as caught:
        read_dataset(folder)
    assert str(caught.value).startswith(f"{folder / 'dev.jsonl'}:1: ")


def test_a_folder_prepared_before_the_flag_reads_as_multi_path(tmp_path):
    folder, _ = small_dataset(tmp_path)
    stats = json.loads((folder / "stats.json").read_text())
    del stats["single_path"]
    (folder / "stats.json").write_text(json.dumps(stats))
    replace_line(folder / "dev.jsonl", 1, {"id": "x", "labels": [0, 2, 3], "text": "t"})
    assert read_dataset(folder)[1]["dev"].labels == [[0, 2, 3]]
    replace_line(folder / "dev.jsonl", 1, {"id": "x", "labels": [2, 3], "text": "t"})
    with pytest.raises(MalformedInput, match="lacks its parent"):
        read_dataset(folder)


def test_a_single_path_flag_that_is_not_a_boolean_names_stats_json(tmp_path):
    folder, _ = small_dataset(tmp_path)
    (folder / "stats.json").write_text('{"single_path": "yes"}')
    with pytest.raises(MalformedInput, match=f"{folder / 'stats.json'}: .*true or false"):
        read_dataset(folder)


def docs_numbered(n):
    return Documents(ids=[f"d{i}" for i in range(n)], texts=[str(i) for i in range(n)],
                     labels=[[i % 3] for i in range(n)])


def test_train_subset_is_fixed_nested_and_in_file_order():
    docs = docs_numbered(100)
    half, tenth = train_subset(docs, 0.5), train_subset(docs, 0.1)
    assert len(half) == 50
    assert len(tenth) == 10
    assert train_subset(docs, 0.5).ids == half.ids           # deterministic
    assert set(tenth.ids) <= set(half.ids)                   # nested
    positions = [int(i[1:]) for i in half.ids]
    assert positions == sorted(positions)                    # file order kept
    assert half.ids != docs.ids[:50]                         # a random subset, not the head
    assert train_subset(docs, 1.0) is docs
    assert len(train_subset(docs_numbered(3), 0.01)) == 1    # at least one document


@pytest.mark.parametrize("fraction", [0, -0.1, 1.5])
def test_train_subset_rejects_bad_fraction(fraction):
    with pytest.raises(ParamError, match="train_fraction"):
        train_subset(docs_numbered(5), fraction)


def test_ragged_rows_and_lengths():
    ragged = Ragged([[5, 6, 7], [], [8]])
    assert ragged.lengths.tolist() == [3, 0, 1]
    assert ragged.row(0).tolist() == [5, 6, 7]
    assert ragged.row(1).tolist() == []
    assert ragged.row(2).tolist() == [8]


def test_collate_pads_to_longest_in_batch_and_builds_targets():
    docs = Documents(ids=["a", "b", "c"], texts=["", "", ""], labels=[[0, 2], [1], [0, 3]])
    split = Encoded.build(docs, [[101, 7, 102], [101, 8, 9, 10, 102], [101, 102]])
    batch = collate(split, [2, 0], pad_id=0, num_labels=4)
    assert batch.input_ids.tolist() == [[101, 102, 0], [101, 7, 102]]  # 3 = longest of the two
    assert batch.attention_mask.tolist() == [[1, 1, 0], [1, 1, 1]]
    assert batch.targets.tolist() == [[1, 0, 0, 1], [1, 0, 1, 0]]
    assert batch.targets.dtype == torch.float32
    assert batch.indices.tolist() == [2, 0]


def test_length_batches_cover_every_document_once_and_depend_on_seed_and_epoch_only():
    rng = np.random.default_rng(1)
    lengths = rng.integers(5, 60, size=1000)
    batches = length_batches(lengths, batch_size=16, seed=3, epoch=2)
    flat = sorted(i for batch in batches for i in batch)
    assert flat == list(range(1000))
    assert all(len(b) == 16 for b in batches[:-1] if len(b) != 1000 % 16)
    assert length_batches(lengths, 16, seed=3, epoch=2) == batches
    assert length_batches(lengths, 16, seed=3, epoch=3) != batches
    assert length_batches(lengths, 16, seed=4, epoch=2) != batches


def test_length_batches_group_similar_lengths():
    rng = np.random.default_rng(0)
    lengths = rng.integers(1, 500, size=16 * CHUNK_BATCHES)  # one chunk: fully sorted inside
    batches = length_batches(lengths, batch_size=16, seed=0, epoch=1)
    spread = np.mean([np.ptp(lengths[b]) for b in batches])
    assert spread < 0.05 * np.ptp(lengths)
    # ... while the order of the batches themselves is shuffled
    firsts = [lengths[b].min() for b in batches]
    assert firsts != sorted(firsts)


def test_length_batches_merge_a_too_small_last_batch():
    batches = length_batches(np.full(33, 10), batch_size=16, seed=0, epoch=1, min_size=2)
    assert sorted(len(b) for b in batches) == [16, 17]
    batches = length_batches(np.full(33, 10), batch_size=16, seed=0, epoch=1)
    assert sorted(len(b) for b in batches) == [1, 16, 16]


def test_sorted_batches_and_shard():
    batches = sorted_batches(np.array([5, 1, 3, 2]), batch_size=3)
    assert batches == [[1, 3, 2], [0]]
    assert shard([10, 11, 12, 13, 14], rank=0, world_size=2) == [10, 12, 14]
    assert shard([10, 11, 12, 13, 14], rank=1, world_size=2) == [11, 13]
