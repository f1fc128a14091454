"""tools/repro_parallel.py (lhmix.pipeline.runner) beside other processes, on small synthetic DVC repositories
(seconds each): one runner per workspace, no orphaned workers, a commit that fails named (issue 29, items 3-5)."""
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
RUNNER = REPO / "tools" / "repro_parallel.py"


def _environment() -> dict:
    return {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}


def _synthetic(root: Path, stages: dict) -> Path:
    root.mkdir()
    (root / "dvc.yaml").write_text(yaml.safe_dump({"stages": stages}))
    for args in (["git", "init", "-q"], ["dvc", "init", "-q"], ["git", "add", "-A"],
                 ["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "synthetic"]):
        subprocess.run(args, cwd=root, env=_environment(), check=True, capture_output=True)
    return root


def _start(root: Path, *targets) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(RUNNER), "--jobs", "2", "--devices", "", *targets], cwd=root,
                            env=_environment(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for(path: Path, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.1)


def _living(marker: str) -> list[int]:
    """The processes (zombies aside) named `marker` (their argv[0], as `exec -a` sets it)."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if (entry / "cmdline").read_bytes().split(b"\0")[0] == marker.encode() and \
                    (entry / "stat").read_text().rsplit(")", 1)[1].split()[0] != "Z":
                found.append(int(entry.name))
        except (OSError, ValueError, IndexError):
            continue
    return found


def test_one_runner_per_workspace_and_dvc_repro_refused_beside_it(tmp_path):
    root = _synthetic(tmp_path / "repo", {
        "slow": {"cmd": "touch started && echo partial > o2 && sleep 12 && echo two >> o2", "outs": ["o2"]},
        "reader": {"cmd": "cp o2 o3", "deps": ["o2"], "outs": ["o3"]}})
    first = _start(root)
    _wait_for(root / "started")
    second = _start(root)
    beside = subprocess.Popen(["dvc", "repro"], cwd=root, env=_environment(), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    second.stdout, second.stderr = second.communicate(timeout=60)
    beside.stdout, beside.stderr = beside.communicate(timeout=60)
    out, err = first.communicate(timeout=120)
    assert first.returncode == 0, err
    assert second.returncode == 1
    assert second.stderr.strip().splitlines()[-1].startswith("repro_parallel: another runner or DVC process "
                                                             "holds this workspace"), second.stderr
    assert beside.returncode != 0
    assert "Unable to acquire lock" in beside.stderr + beside.stdout
    assert (root / "o2").read_text() == "partial\ntwo\n"
    assert (root / "o3").read_text() == "partial\ntwo\n"
    status = subprocess.run(["dvc", "status"], cwd=root, env=_environment(), capture_output=True, text=True)
    assert "up to date" in status.stdout


def test_each_runner_writes_its_own_logs(tmp_path):
    root = _synthetic(tmp_path / "repo", {"one": {"cmd": "echo one > o", "outs": ["o"]}})
    first = _start(root)
    first.communicate(timeout=60)
    (root / "o").unlink()
    second = _start(root)
    second.communicate(timeout=60)
    assert first.returncode == second.returncode == 0
    logs = sorted((root / ".dvc" / "tmp" / "parallel").rglob("one.log"))
    assert len(logs) == 2
    assert logs[0].parent != logs[1].parent


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_stops_every_worker_and_exits_in_one_line(tmp_path, signum):
    marker = f"lhmix-worker-{uuid.uuid4().hex}"
    root = _synthetic(tmp_path / "repo", {
        name: {"cmd": f"touch {name}.started && exec -a {marker} sleep 60", "outs": [f"{name}.out"]}
        for name in ("a", "b")})
    runner = _start(root)
    _wait_for(root / "a.started")
    _wait_for(root / "b.started")
    time.sleep(0.3)   # both sleeps started
    assert len(_living(marker)) == 2
    runner.send_signal(signum)
    out, err = runner.communicate(timeout=30)
    deadline = time.monotonic() + 10
    while _living(marker) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _living(marker) == []
    assert runner.returncode == 128 + signum
    assert "Traceback" not in err
    last = err.strip().splitlines()[-1]
    assert last.startswith(f"repro_parallel: stopped by {signal.Signals(signum).name}; stopped 2 running stage(s)"), err
    assert not (root / "dvc.lock").exists()   # nothing committed


def test_the_submitit_path_cancels_its_jobs_on_sigterm(tmp_path):
    marker = f"lhmix-worker-{uuid.uuid4().hex}"
    root = _synthetic(tmp_path / "repo", {"a": {"cmd": f"touch a.started && exec -a {marker} sleep 60",
                                                 "outs": ["a.out"]}})
    runner = subprocess.Popen([sys.executable, str(RUNNER), "--jobs", "1", "--executor", "submitit-local",
                               "--submitit-folder", str(tmp_path / "jobs")], cwd=root, env=_environment(),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _wait_for(root / "a.started")
    time.sleep(0.5)
    assert len(_living(marker)) == 1
    runner.send_signal(signal.SIGTERM)
    out, err = runner.communicate(timeout=60)
    deadline = time.monotonic() + 15
    while _living(marker) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _living(marker) == []
    assert runner.returncode == 128 + signal.SIGTERM
    assert err.strip().splitlines()[-1].startswith("repro_parallel: stopped by SIGTERM; stopped 1 running stage"), err


def test_a_failed_commit_names_the_stage_and_lets_the_others_finish(tmp_path):
    root = _synthetic(tmp_path / "repo", {
        "no_out": {"cmd": "echo 'exits 0 without its out'", "outs": ["missing"]},
        "slow": {"cmd": "sleep 3 && echo done > o", "outs": ["o"]},
        "after": {"cmd": "cat missing > p", "deps": ["missing"], "outs": ["p"]}})
    runner = _start(root)
    out, err = runner.communicate(timeout=120)
    assert runner.returncode == 1
    assert "Traceback" not in err
    assert "failed: no_out (its command exited 0, but DVC could not record it: " in err, err
    assert "output 'missing' does not exist" in err
    assert "not run: after (depends on a failed stage)" in err
    assert "done: slow" in err
    assert (root / "o").read_text() == "done\n"
