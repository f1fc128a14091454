"""docs/paper-scale.md's "Data under DVC" commands, run as written: a small fake WOS in its real format is added to DVC,
pushed to a local-folder remote, and a fresh clone pulls it and builds data/processed/wos from it."""
import os
import re
import subprocess
import sys
from pathlib import Path

from test_pipeline import _copy_with_profile
from test_wos import ROWS, write_xlsx

REPO = Path(__file__).resolve().parents[1]
SECTION = "## Data under DVC\n"
README_REMOTE = "/shared/lhmix-remote"
README_CLONE = "git clone <your repository> lhmix-repro"


def _readme_blocks() -> list[str]:
    """The shell blocks of docs/paper-scale.md's "Data under DVC" section, in order."""
    text = (REPO / "docs" / "paper-scale.md").read_text(encoding="utf-8")
    section = text[text.index(SECTION):]
    section = section[:section.index("\n## ", 1)]
    return re.findall(r"```sh\n(.*?)```", section, flags=re.S)


def _bash(script: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
           "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"}
    result = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=cwd, env=env, capture_output=True,
                            text=True)
    assert result.returncode == 0, f"{script}\nfailed:\n{result.stdout}\n{result.stderr}"
    return result


def _tracked(root: Path, path: str) -> list[str]:
    return subprocess.run(["git", "ls-files", path], cwd=root, capture_output=True, text=True,
                          check=True).stdout.split()


def test_readme_data_commands_add_push_clone_pull_and_prepare(tmp_path):
    owner_block, clone_block = _readme_blocks()
    assert README_REMOTE in owner_block and README_CLONE in clone_block
    root = _copy_with_profile(tmp_path / "repo", "default")
    raw = write_xlsx(root / "data/raw/wos")
    remote = tmp_path / "remote"

    _bash(owner_block.replace(README_REMOTE, str(remote)), root)
    assert _tracked(root, "data/raw/wos") == []              # the raw files never enter git
    assert set(_tracked(root, "data/raw")) >= {"data/raw/wos.dvc", "data/raw/.gitignore"}
    assert "/wos" in (root / "data/raw/.gitignore").read_text().split()
    assert any(path.is_file() for path in remote.rglob("*"))

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    _bash(clone_block.replace(README_CLONE, f"git clone {root} lhmix-repro"), elsewhere)
    clone = elsewhere / "lhmix-repro"
    assert (clone / "data/raw/wos/Meta-data/Data.xlsx").read_bytes() == raw.read_bytes()
    lines = sum(len((clone / "data/processed/wos" / f"{split}.jsonl").read_text().splitlines())
                for split in ("train", "dev", "test"))
    assert lines == len(ROWS)
    status = subprocess.run([Path(sys.executable).parent / "dvc", "status", "prepare@wos"], cwd=clone,
                            capture_output=True, text=True, check=True).stdout
    assert "up to date" in status, status
