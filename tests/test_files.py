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
