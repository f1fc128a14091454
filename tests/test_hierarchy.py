"""Loading labels.json: every problem with the file is an error naming it, never a traceback."""
import json

import pytest

from lhmix.core.errors import MalformedInput
from lhmix.data.hierarchy import Hierarchy

# a=0 b=1 | a1=2 a2=3 (under a) b1=4 (under b)
ROWS = [{"id": 0, "name": "a", "parent": None, "depth": 1},
        {"id": 1, "name": "b", "parent": None, "depth": 1},
        {"id": 2, "name": "a1", "parent": 0, "depth": 2},
        {"id": 3, "name": "a2", "parent": 0, "depth": 2},
        {"id": 4, "name": "b1", "parent": 1, "depth": 2}]


def with_row(index, **changes):
    rows = [dict(row) for row in ROWS]
    rows[index].update(changes)
    return rows


def test_a_sound_file_loads(tmp_path):
    path = tmp_path / "labels.json"
    path.write_text(json.dumps(ROWS))
    assert Hierarchy.load(path).to_json() == ROWS


@pytest.mark.parametrize("rows, problem", [
    (with_row(3, parent=999), "label 3: parent 999"),
    (with_row(3, parent=-4), "label 3: parent -4"),            # not label 1 by negative indexing
    (with_row(2, parent=3), "label 2: depth 2, parent 3 at depth 2"),   # a cycle breaks the depth rule
    (with_row(4, depth=3), "label 4: depth 3, parent 1 at depth 1"),
    (with_row(0, parent=1), "label 0: depth 1 with parent 1"),
    (with_row(1, depth=2), "label 1: depth 2 with no parent"),
    ([ROWS[1], ROWS[0], *ROWS[2:]], "position 0: id 1,"),
    ([*ROWS[:2], ROWS[4], ROWS[2], ROWS[3]], "position 2: id 4,"),
    ([ROWS[2], ROWS[0], ROWS[1]], "position 0: id 2,"),
    (with_row(2, id="two"), "label at position 2"),
    (with_row(2, depth=True), "label at position 2"),
    ([*ROWS[:4], {"id": 4, "name": "b1", "parent": 1}], '"depth"'),
    ([*ROWS, "b2"], "label at position 5"),
    ({"labels": ROWS}, "a list of labels"),
])
def test_a_corrupt_tree_names_the_file_and_the_label(tmp_path, rows, problem):
    path = tmp_path / "labels.json"
    path.write_text(json.dumps(rows))
    with pytest.raises(MalformedInput, match=problem) as caught:
        Hierarchy.load(path)
    assert str(caught.value).startswith(f"{path}: ")


def test_labels_out_of_depth_order_are_refused(tmp_path):
    rows = [{"id": 0, "name": "a", "parent": None, "depth": 1},
            {"id": 1, "name": "a1", "parent": 0, "depth": 2},
            {"id": 2, "name": "b", "parent": None, "depth": 1}]
    path = tmp_path / "labels.json"
    path.write_text(json.dumps(rows))
    with pytest.raises(MalformedInput, match="label 2: depth 1 after a label at depth 2"):
        Hierarchy.load(path)


@pytest.mark.parametrize("content, line, problem", [
    (b'[\n{"id": 0,\n', 3, "not JSON"),
    ('[\n{"id": 0, "name": "caf\u00e9"'.encode("latin-1"), 2, "not UTF-8"),
])
def test_a_file_that_is_not_json_names_the_line(tmp_path, content, line, problem):
    path = tmp_path / "labels.json"
    path.write_bytes(content)
    with pytest.raises(MalformedInput, match=problem) as caught:
        Hierarchy.load(path)
    assert str(caught.value).startswith(f"{path}:{line}: ")
