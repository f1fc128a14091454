"""tools/repro_parallel.py (lhmix.pipeline.runner): DVC's stages N at a time give what `dvc repro` gives.

On the tiny profile, a few stages with branches (the similarity table beside two warm-ups, two trainings
beside each other): sequential `dvc repro` (the session's whole profile, tests/shared_repro.py, when another test
builds it), the runner with 2 workers in a copy, and the submitit path through submitit's local executor in
another. Outputs are compared file by file, timings aside (seconds and examples/s, the run logs' timestamps),
which differ between any two runs.
"""
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import shared_repro
from lhmix.training.progress import VARYING_TIMING_KEYS
from tests.test_pipeline import _copy_with_profile, _run

TARGETS = ["train_lhmix@wordnet-prompt-0", "train_none@wordnet-bert-1"]


def _without_timing(value):
    if isinstance(value, dict):
        return {k: _without_timing(v) for k, v in value.items() if k not in VARYING_TIMING_KEYS}
    if isinstance(value, list):
        return [_without_timing(v) for v in value]
    return value


def _outputs(root: Path, stages=None) -> dict[str, object]:
    """Every file of every output dvc.lock records (of `stages`, default all), timing aside; with each stage's
    recorded deps and params."""
    lock = yaml.safe_load((root / "dvc.lock").read_text())["stages"]
    files, records = {}, {}
    for name, entry in lock.items():
        if stages is not None and name not in stages:
            continue
        records[name] = {"deps": entry.get("deps"), "params": entry.get("params"), "cmd": entry.get("cmd")}
        for out in entry.get("outs", []):
            path = root / out["path"]
            for file in sorted([path] if path.is_file() else path.rglob("*")):
                if not file.is_file() or file.suffix == ".log":
                    continue
                key = file.relative_to(root).as_posix()
                files[key] = (_without_timing(json.loads(file.read_text())) if file.suffix == ".json"
                              else file.read_bytes())
    return {"files": files, "records": records}


@pytest.fixture(scope="module")
def sequential(request, tmp_path_factory):
    """`dvc repro` of the tiny profile, one stage after the other (read only): the session's whole pipeline when
    another test builds it anyway, else TARGETS alone in a copy of its own."""
    if shared_repro.BUILD in request.config.stash:
        return request.getfixturevalue("tiny_repro").root
    root = _copy_with_profile(tmp_path_factory.mktemp("sequential") / "repo", "tiny")
    _run(["dvc", "repro", *TARGETS], root)
    return root


def _upstream(root: Path, targets: list[str]) -> set[str]:
    """The stages `dvc repro targets` runs in a fresh copy: the targets and every stage they depend on."""
    from dvc.repo import Repo
    from dvc.repo.graph import get_subgraph_of_nodes

    with Repo(str(root)) as repo:
        graph = repo.index.graph
        stages = [stage for stage in graph if stage.name in targets]
        assert len(stages) == len(targets), targets
        return {stage.name for stage in get_subgraph_of_nodes(graph, stages).nodes}


def _recorded_since_copied(root: Path) -> set[str]:
    """The stages whose dvc.lock entry differs from the one the copy was committed with."""
    committed = yaml.safe_load(_run(["git", "show", "HEAD:dvc.lock"], root).stdout)["stages"]
    lock = yaml.safe_load((root / "dvc.lock").read_text())["stages"]
    return {name for name, entry in lock.items() if committed.get(name) != entry}


def _parallel(root: Path, *options) -> subprocess.CompletedProcess:
    return _run([sys.executable, "tools/repro_parallel.py", *options, *TARGETS], root)


def _most_at_once(log: str) -> int:
    running, most = 0, 0
    for line in log.splitlines():
        running += bool(re.search(r"running stage '", line)) - bool(re.search(r" (done|failed): ", line))
        most = max(most, running)
    return most


def test_two_workers_give_what_dvc_repro_gives(sequential, tmp_path):
    root = _copy_with_profile(tmp_path / "repo", "tiny")
    result = _parallel(root, "--jobs", "2", "--devices", "")
    assert _most_at_once(result.stderr) == 2, result.stderr
    assert "Data and pipelines are up to date" in _run(["dvc", "status", *TARGETS], root).stdout
    stages = _upstream(root, TARGETS)
    assert _recorded_since_copied(root) == stages  # the runner ran these and nothing else
    expected, got = _outputs(sequential, stages), _outputs(root, stages)
    assert sorted(got["files"]) == sorted(expected["files"])
    for name in expected["files"]:
        assert got["files"][name] == expected["files"][name], name
    assert got["records"] == expected["records"]
    again = _parallel(root, "--jobs", "2", "--devices", "")
    assert "Data and pipelines are up to date" in again.stderr


def test_each_worker_gets_one_gpu_and_the_threads_asked_for(monkeypatch):
    from lhmix.pipeline.runner import LocalProcesses
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    assert "OMP_NUM_THREADS" not in LocalProcesses(2).environment(0)  # as sequential: identical bits
    assert LocalProcesses(2, threads=3).environment(1)["OMP_NUM_THREADS"] == "3"
    assert "CUDA_VISIBLE_DEVICES" not in LocalProcesses(2).environment(1)
    gpus = LocalProcesses(4, ["0", "1"])
    assert [gpus.environment(slot)["CUDA_VISIBLE_DEVICES"] for slot in range(4)] == ["0", "1", "0", "1"]


def test_the_submitit_path_through_its_local_executor(sequential, tmp_path):
    root = _copy_with_profile(tmp_path / "repo", "tiny")
    target = "warmup@wordnet-bert-1"  # with check and prepare: three jobs, part of what the sequential run made
    result = _run([sys.executable, "tools/repro_parallel.py", "--jobs", "2", "--executor", "submitit-local",
                   "--submitit-folder", str(tmp_path / "jobs"), target], root)
    assert "Data and pipelines are up to date" in _run(["dvc", "status", target], root).stdout
    stages = {"check", "prepare@wordnet", target}
    assert "3 stage(s) ran" in result.stderr
    assert _outputs(root, stages) == _outputs(sequential, stages)


def test_a_failing_stage_stops_its_dependants_lets_the_others_finish_and_is_named(tmp_path):
    root = _copy_with_profile(tmp_path / "repo", "tiny")
    dvc_yaml = (root / "dvc.yaml").read_text()
    # the bert warm-ups fail: their trainings must not run; the prompt branch finishes
    launch = "python stages/warmup.py --data 'data/processed/${item.dataset}' --family '${item.family}'"
    assert dvc_yaml.count(launch) == 1
    broken = dvc_yaml.replace(launch, "test '${item.family}' = prompt && " + launch)
    (root / "dvc.yaml").write_text(broken)
    result = _run([sys.executable, "tools/repro_parallel.py", "--jobs", "2", "--devices", "", *TARGETS], root,
                  check=False)
    assert result.returncode == 1
    assert "stage 'warmup@wordnet-bert-1' failed" in result.stderr
    assert "not run: train_none@wordnet-bert-1 (depends on a failed stage)" in result.stderr
    assert "done: train_lhmix@wordnet-prompt-0" in result.stderr


def test_an_unknown_target_is_named(tmp_path):
    root = _copy_with_profile(tmp_path / "repo", "tiny")
    result = _run([sys.executable, "tools/repro_parallel.py", "--jobs", "2", "no_such_stage"], root, check=False)
    assert result.returncode == 1
    assert "no stage named 'no_such_stage'" in result.stderr
