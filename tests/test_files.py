"""A file is replaced only by a complete write."""
import pytest

from lhmix.core.files import replaced_on_success


def test_success_replaces_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "sub" / "out.txt"
    with replaced_on_success(target) as temporary:
        temporary.write_text("new")
    assert target.read_text() == "new" and sorted(p.name for p in target.parent.iterdir()) == ["out.txt"]


def test_failure_keeps_the_old_file_and_removes_the_temporary(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with replaced_on_success(target) as temporary:
            temporary.write_text("half")
            raise RuntimeError("killed")
    assert target.read_text() == "old" and sorted(p.name for p in tmp_path.iterdir()) == ["out.txt"]


def test_two_writers_of_one_file_get_their_own_temporaries(tmp_path):
    target = tmp_path / "out.txt"
    with replaced_on_success(target) as first, replaced_on_success(target) as second:
        assert first != second and first.parent == second.parent == tmp_path
        first.write_text("first")
        second.write_text("second")
    assert target.read_text() == "first" and sorted(p.name for p in tmp_path.iterdir()) == ["out.txt"]
