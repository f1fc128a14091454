"""One `dvc repro` of the tiny profile per test session (the `tiny_repro` fixture of conftest.py), shared by the
integration tests that read what it makes: every stage takes seconds of start-up, so each test building its own
cost minutes. A test that changes the project works on a writable_copy of it."""
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class TinyRepro:
    root: Path     # a git copy of the repository on the tiny profile after one whole `dvc repro`: read it only
    stdout: str    # what that `dvc repro` printed


def build_tiny_repro(folder: Path) -> TinyRepro:
    from test_pipeline import _copy_with_profile, _run

    root = _copy_with_profile(folder / "repo", "tiny")
    return TinyRepro(root, _run(["dvc", "repro"], root).stdout)


def writable_copy(built: Path, destination: Path) -> Path:
    """A copy of a built project to change: the workspace, git and DVC's state copied; DVC's cache hard-linked,
    since DVC only adds files to it (written aside, then moved in) and never writes into one."""
    cache = Path(".dvc") / "cache"
    shutil.copytree(built, destination, symlinks=True,
                    ignore=lambda folder, names: ["cache"] if Path(folder) == built / ".dvc" else [])
    if (built / cache).is_dir():
        subprocess.run(["cp", "-al", str(built / cache), str(destination / cache)], check=True)
    return destination
