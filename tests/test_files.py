"""A file is replaced only by a complete write; a write that fails names the file."""
from pathlib import Path

import pytest

from lhmix.core.errors import LhmixError
from lhmix.core.files import replaced_on_success, write_json


def test_success_replaces_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "sub" / "out.txt"
    with replaced_on_success(target) as temporary:
        temporary.write_text("new")
    assert target.read_text() == "new"
    assert sorted(p.name for p in target.parent.iterdir()) == ["out.txt"]


def test_failure_keeps_the_old_file_and_removes_the_temporary(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with replaced_on_success(target) as temporary:
            temporary.write_text("half")
            raise RuntimeError("killed")
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.txt"]


def test_two_writers_of_one_file_get_their_own_temporaries(tmp_path):
    target = tmp_path / "out.txt"
    with replaced_on_success(target) as first, replaced_on_success(target) as second:
        assert first != second
        assert first.parent == second.parent == tmp_path
        first.write_text("first")
        second.write_text("second")
    assert target.read_text() == "first"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.txt"]


def test_a_full_disk_names_the_file_asked_for_not_the_temporary(tmp_path, monkeypatch):
    target = tmp_path / "metrics.json"
    target.write_text("old")

    def full_disk(self, *args, **kwargs):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(Path, "write_text", full_disk)
    with pytest.raises(LhmixError) as error:
        write_json({"a": 1}, target)
    assert str(error.value) == (f"{target}: cannot write (No space left on device); check the free disk space "
                                f"and that {tmp_path} is writable")
    monkeypatch.undo()
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["metrics.json"]


def test_a_file_where_a_folder_of_the_path_should_be_is_named(tmp_path):
    (tmp_path / "results").write_text("not a folder")
    with pytest.raises(LhmixError, match=f"results/wordnet/metrics.json: cannot write: {tmp_path}/results is a "
                                         "file, not a folder"):
        write_json({}, tmp_path / "results" / "wordnet" / "metrics.json")


def test_an_error_about_another_file_inside_the_block_passes_through(tmp_path):
    with pytest.raises(FileNotFoundError):
        with replaced_on_success(tmp_path / "out.txt"):
            open(tmp_path / "missing-input.txt", encoding="utf-8")
