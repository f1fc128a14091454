"""tools/apply_profile.py: a profile merges into params.yaml, or fails in one line leaving params.yaml as it was."""
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]


def apply(tmp_path: Path, profile: str, *extra) -> subprocess.CompletedProcess:
    shutil.copy(ROOT / "params.yaml", tmp_path / "params.yaml")
    (tmp_path / "profile.yaml").write_text(profile)
    return subprocess.run([sys.executable, str(ROOT / "tools" / "apply_profile.py"), "profile.yaml", *extra],
                          cwd=tmp_path, capture_output=True, text=True, timeout=60)


def test_a_profile_merges_key_by_key(tmp_path):
    done = apply(tmp_path, "train:\n  lr: 3.0e-5\nsweeps:\n  alpha: [1, 2]\n")
    assert done.returncode == 0, done.stderr
    text = (tmp_path / "params.yaml").read_text()
    assert "lr: 3.0e-5" in text and "alpha: [1, 2]" in text and "batch_size: 16" in text
    assert "# LH-Mix mixing ratio" in text  # comments kept


@pytest.mark.parametrize("profile, message", [
    ("train:\n  lr: [1\n", "profile.yaml:3: not valid YAML (expected ',' or ']'"),
    ("train:\n  lr: 1.0e-3\n  lr: 2.0e-3\n", "profile.yaml:3: not valid YAML (found duplicate key \"lr\""),
    ("train: {}\n", "'train' is a section of params.yaml (max_length, batch_size, "),
    ("train: 5\n", "it cannot replace it by 5"),
    ("train:\n", "it cannot replace it by None"),
    ("augment:\n  eda:\n    num_augs: 4\n", "'augment.eda.num_augs' is not a key of params.yaml; expected one of "
                                            "alpha, num_aug, seed"),
    ("- a list\n", "profile.yaml: expected a mapping of params keys"),
])
def test_a_bad_profile_fails_in_one_line_and_leaves_params_as_they_were(tmp_path, profile, message):
    done = apply(tmp_path, profile)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert done.stderr.startswith("apply_profile: ") and len(done.stderr.strip().splitlines()) == 1
    assert message in done.stderr
    assert (tmp_path / "params.yaml").read_text() == (ROOT / "params.yaml").read_text()


def test_help_and_unknown_arguments(tmp_path):
    assert "Apply a profile of params/" in apply(tmp_path, "{}", "--help").stdout
    done = apply(tmp_path, "{}", "--no-such-option")
    assert done.returncode == 2 and "unrecognized arguments: --no-such-option" in done.stderr
