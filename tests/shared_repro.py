"""One `dvc repro` of the tiny profile per test run (the `tiny_repro` fixture of conftest.py), shared by the
integration tests that read what it makes, across pytest-xdist's workers too: every stage takes seconds of
start-up, so each test building its own cost minutes. It starts in the background as soon as collection finds a
test that reads it, and conftest.py runs those tests last, so the other tests run while it builds. A test that
changes the project works on a writable_copy of it."""
import os
import shutil
import subprocess
import sys
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

import pytest

DONE, FAILED, OUTPUT, PID = "done", "failed", "stdout.txt", "pid"
# the run's build folder, where collection started it (conftest.py)
BUILD = pytest.StashKey[Path]()
_started: list[subprocess.Popen] = []   # the build this process started, if it did


@dataclass(frozen=True)
class TinyRepro:
    root: Path     # a git copy of the repository on the tiny profile after one whole `dvc repro`: read it only
    stdout: str    # what that `dvc repro` printed


def start(folder: Path) -> subprocess.Popen | None:
    """Start the build into `folder` (python tests/shared_repro.py FOLDER), unless another process of this test run
    did (the folder exists): the process, or None."""
    try:
        folder.mkdir(parents=True)
    except FileExistsError:
        return None
    with open(folder / "build.log", "w") as log:
        process = subprocess.Popen([sys.executable, __file__, str(folder)], stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    (folder / PID).write_text(str(process.pid))
    _started.append(process)
    return process


def stop(finished: bool) -> None:
    """At the end of this process's tests: wait for the build it started (another worker may still read it), or
    stop it when the run was cut short (`finished` false)."""
    for process in _started:
        if process.poll() is None:
            if finished:
                process.wait()
            else:
                os.killpg(process.pid, 15)


def wait(folder: Path, timeout: float = 3600.0) -> TinyRepro:
    """The finished build of `folder`; a failed one, or a builder that died, fails the test with its output."""
    deadline = time.monotonic() + timeout
    while not (folder / DONE).exists():
        if (folder / FAILED).exists():
            pytest.fail(f"the tiny profile's dvc repro failed:\n{(folder / FAILED).read_text()}", pytrace=False)
        if time.monotonic() > deadline or not _alive(folder):
            pytest.fail(f"the tiny profile's dvc repro did not finish; its log:\n{_tail(folder / 'build.log')}",
                        pytrace=False)
        time.sleep(0.5)
    return TinyRepro(folder / "repo", (folder / OUTPUT).read_text())


def _alive(folder: Path) -> bool:
    for process in _started:
        process.poll()   # reaps it: a dead child is then gone for os.kill too
    if (folder / DONE).exists() or (folder / FAILED).exists():
        return True
    try:
        os.kill(int((folder / PID).read_text()), 0)
    except (FileNotFoundError, ValueError):
        return True   # started a moment ago: no pid written yet
    except ProcessLookupError:
        return (folder / DONE).exists() or (folder / FAILED).exists()
    return True


def _tail(path: Path, lines: int = 60) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.is_file() else "(no log)"


def _build(folder: Path) -> None:
    from test_pipeline import _copy_with_profile, _run

    try:
        root = _copy_with_profile(folder / "repo", "tiny")
        stdout = _run(["dvc", "repro"], root).stdout
    except BaseException:
        (folder / FAILED).write_text(traceback.format_exc())
        raise
    (folder / OUTPUT).write_text(stdout)
    (folder / DONE).write_text("")   # last: a reader never sees half the output


def writable_copy(built: Path, destination: Path) -> Path:
    """A copy of a built project to change: the workspace, git and DVC's state copied; DVC's cache hard-linked,
    since DVC only adds files to it (written aside, then moved in) and never writes into one."""
    cache = Path(".dvc") / "cache"
    shutil.copytree(built, destination, symlinks=True,
                    ignore=lambda folder, names: ["cache"] if Path(folder) == built / ".dvc" else [])
    if (built / cache).is_dir():
        subprocess.run(["cp", "-al", str(built / cache), str(destination / cache)], check=True)
    return destination


if __name__ == "__main__":
    _build(Path(sys.argv[1]))
