"""tools/repro_parallel.py (lhmix.pipeline.runner) left alone on a cluster, on small synthetic DVC repositories
(seconds each), through submitit's local executor and local workers: the dry run, "k of N stages, ETA" lines,
resources by stage kind, and a restart while a killed runner's job still runs (issue 28, item 3)."""
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from lhmix.pipeline.jobs import JobRecord, Recorded, process_start
from lhmix.pipeline.resources import RESOURCES, kind_of, named_kind
from lhmix.pipeline.runner import clock, eta
from tests.test_runner_safety import REPO, RUNNER, _environment, _synthetic, _wait_for

# three stages of both kinds, in a chain; each output says which timeout and GPUs its job got from submitit
CHAIN = {
    "prepare": {"cmd": "sleep 1 && echo \"$SUBMITIT_LOCAL_TIMEOUT_S [$CUDA_VISIBLE_DEVICES]\" > p", "outs": ["p"]},
    "train_x": {"cmd": "sleep 1 && echo \"$SUBMITIT_LOCAL_TIMEOUT_S [$CUDA_VISIBLE_DEVICES]\" > t", "deps": ["p"],
                "outs": ["t"]},
    "report": {"cmd": "cat p t > r", "deps": ["t"], "outs": ["r"]},
}
TIMESTAMP = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d"


def _runner(root: Path, *arguments, wait: bool = True):
    command = [sys.executable, str(RUNNER), *arguments]
    if wait:
        return subprocess.run(command, cwd=root, env=_environment(), capture_output=True, text=True, timeout=120)
    return subprocess.Popen(command, cwd=root, env=_environment(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def _submitit(tmp_path: Path) -> list[str]:
    return ["--executor", "submitit-local", "--submitit-folder", str(tmp_path / "jobs")]


def _status_clean(root: Path) -> bool:
    status = subprocess.run(["dvc", "status"], cwd=root, env=_environment(), capture_output=True, text=True)
    return "up to date" in status.stdout


def test_the_dry_run_prints_the_plan_and_changes_nothing(tmp_path):
    root = _synthetic(tmp_path / "repo", CHAIN)
    (root / "p").write_text("an earlier output\n")   # a run would remove it first
    cluster = _runner(root, "--dry-run", *_submitit(tmp_path), "--jobs", "4", "--slurm", "gpu.timeout_min=1440",
                      "--slurm", "cpus_per_task=2")
    local = _runner(root, "--dry-run", "--devices", "0,1", "--jobs", "2")
    assert cluster.returncode == local.returncode == 0, cluster.stderr + local.stderr
    lines = cluster.stdout.splitlines()
    assert lines[0] == "plan: 3 stage(s) to consider, in this order, 4 at a time (submitit-local)"
    assert [line.split()[1] for line in lines[1:4]] == ["prepare", "train_x", "report"]
    assert lines[1].endswith("cpu-kind stage; submitit-local: cpus_per_task=2 gpus_per_node=0 mem_gb=32 "
                             "timeout_min=120")
    assert lines[2].endswith("gpu-kind stage; submitit-local: cpus_per_task=2 gpus_per_node=1 mem_gb=64 "
                             "timeout_min=1440")
    assert local.stdout.splitlines()[2].endswith("train_x  gpu-kind stage; one of GPUs 0,1 (the free slot's)")
    assert (root / "p").read_text() == "an earlier output\n"
    assert not any((root / name).exists() for name in ("t", "r", "dvc.lock", ".dvc/tmp/parallel"))
    assert not (tmp_path / "jobs").exists()


def test_progress_lines_say_k_of_n_with_an_eta(tmp_path):
    root = _synthetic(tmp_path / "repo", CHAIN)
    result = _runner(root, "--jobs", "1", "--devices", "")
    assert result.returncode == 0, result.stderr
    progress = [line for line in result.stderr.splitlines() if re.search(r" of 3 stages", line)]
    assert [int(re.match(rf"{TIMESTAMP} INFO (\d) of 3 stages", line).group(1)) for line in progress] == [1, 2, 3]
    # after prepare only a cpu stage ran: train_x is estimated from all stages, report from its kind's
    assert "; ETA " in progress[0] and "at " in progress[0]
    assert "cpu: median 1s of 1 cpu stage(s); gpu: median 1s of all 1 stage(s) that ran; over 1 worker(s)" in \
        progress[0]
    assert "ETA" not in progress[2]
    assert "\r" not in result.stderr   # a log file reads as lines


def test_submitit_jobs_get_their_kinds_resources(tmp_path):
    root = _synthetic(tmp_path / "repo", CHAIN)
    result = _runner(root, *_submitit(tmp_path), "--jobs", "2", "--slurm", "gpu.timeout_min=30")
    assert result.returncode == 0, result.stderr
    assert (root / "p").read_text() == "7200 []\n"       # the cpu default: 120 min, no GPU
    assert (root / "t").read_text() == "1800 [0]\n"      # a GPU; the gpu kind's timeout overridden to 30 min
    assert _status_clean(root)


def test_the_eta_is_the_median_of_the_stages_kind_shared_by_the_workers():
    durations = {"gpu": [10.0, 30.0, 20.0, 4.0], "cpu": [4.0]}
    # gpu median 15, cpu 4: (15 - 5) + (4 - 0) + (4 - 1) + max(15 - 50, 0) over min(8 workers, 4 stages)
    seconds, basis = eta(durations, [("gpu", 5.0), ("cpu", 0.0), ("cpu", 1.0), ("gpu", 50.0)], 8)
    assert seconds == pytest.approx(17.0 / 4)
    assert basis == "cpu: median 4s of 1 cpu stage(s); gpu: median 15s of 4 gpu stage(s); over 4 worker(s)"
    # no cpu stage ran: the median of all five (4, 10, 12, 20, 30), 12, for each of 3 cpu stages, over 2 workers
    seconds, basis = eta({"gpu": durations["gpu"] + [12.0]}, [("cpu", 0.0)] * 3, 2)
    assert seconds == pytest.approx(36.0 / 2)
    assert basis == "cpu: median 12s of all 5 stage(s) that ran; over 2 worker(s)"
    assert eta({}, [("cpu", 0.0)], 2) == (None, "")
    assert (clock(3725), clock(185), clock(12)) == ("1h02m", "3m05s", "12s")


def test_every_stage_of_dvc_yaml_has_a_kind():
    stages = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    assert [name for name in stages if named_kind(name) is None] == []
    assert [kind_of(name) for name in ("check", "similarity@wos", "augment_bt@wos", "report", "hpt_warmup@wos-0",
                                       "train_lhmix@wos-prompt-0", "bt_train@wos-1", "table6_none@wos-x-0")] == \
        ["cpu", "cpu", "cpu", "cpu", "gpu", "gpu", "gpu", "gpu"]


# a training stage that runs until the test creates `release` (60 s at most: a failing test leaves nothing running;
# each run appends to runs.txt, which is no output), and a report that reads it
SLOW = {
    "train_slow": {"cmd": "echo run >> runs.txt && echo partial > o && touch started && "
                          "for i in $(seq 600); do [ -f release ] && break; sleep 0.1; done && echo two >> o",
                   "outs": ["o"]},
    "report": {"cmd": "cp o r", "deps": ["o"], "outs": ["r"]},
}


def _killed_while_running(root: Path, executor: list[str]) -> None:
    """Start a runner, SIGKILL it (only it: the stage's job goes on) once the slow stage has started."""
    # its output to nowhere: submitit's local job inherits it, and would hold a pipe open after the kill
    first = subprocess.Popen([sys.executable, str(RUNNER), "--jobs", "1", *executor], cwd=root, env=_environment(),
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _wait_for(root / "started")
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=30)


@pytest.mark.parametrize("executor", ["local", "submitit-local"])
def test_a_restart_keeps_a_running_jobs_outputs_and_waits_for_it(tmp_path, executor):
    root = _synthetic(tmp_path / "repo", SLOW)
    chosen = _submitit(tmp_path) if executor == "submitit-local" else ["--devices", ""]
    _killed_while_running(root, chosen)
    refused = _runner(root, "--jobs", "1", *chosen)
    assert refused.returncode == 1, refused.stderr
    assert re.fullmatch(rf"repro_parallel: stage 'train_slow' is still running as {executor} job \d+, started "
                        rf"{TIMESTAMP}: its outputs are kept; wait for it with --on-running wait, or cancel it "
                        "and start again", refused.stderr.strip().splitlines()[-1]), refused.stderr
    assert (root / "o").read_text() == "partial\n"
    waiting = _runner(root, "--jobs", "1", "--on-running", "wait", *chosen, wait=False)
    seen = []
    while not seen or f"waiting for train_slow, still running as {executor} job" not in seen[-1]:
        seen.append(waiting.stderr.readline())
        assert seen[-1], "".join(seen)
    (root / "release").touch()
    out, err = waiting.communicate(timeout=120)
    assert waiting.returncode == 0, "".join(seen) + err
    assert (root / "runs.txt").read_text() == "run\n"      # not run again
    assert (root / "o").read_text() == (root / "r").read_text() == "partial\ntwo\n"
    assert _status_clean(root)


def test_a_job_that_ended_while_no_runner_watched_is_committed_not_rerun(tmp_path):
    root = _synthetic(tmp_path / "repo", SLOW)
    _killed_while_running(root, ["--devices", ""])
    (root / "release").touch()
    deadline = time.monotonic() + 30
    while not list((root / ".dvc" / "tmp" / "parallel").rglob("train_slow.exit")):   # its exit status written
        assert time.monotonic() < deadline
        time.sleep(0.2)
    again = _runner(root, "--jobs", "1", "--devices", "")
    assert again.returncode == 0, again.stderr
    assert re.search(rf"{TIMESTAMP} INFO done while no runner watched: train_slow \(local job \d+, started "
                     rf"{TIMESTAMP}\); committed", again.stderr), again.stderr
    assert (root / "runs.txt").read_text() == "run\n"
    assert (root / "r").read_text() == "partial\ntwo\n"
    assert _status_clean(root)


def test_the_readme_and_the_help_quote_the_resource_defaults():
    readme = " ".join((REPO / "docs" / "paper-scale.md").read_text(encoding="utf-8").split())
    usage = " ".join(RUNNER.read_text(encoding="utf-8").split())
    cpu, gpu = RESOURCES["cpu"], RESOURCES["gpu"]
    assert f"ask for no GPU, {cpu['cpus_per_task']} CPUs, {cpu['mem_gb']} GB and {cpu['timeout_min']} min" in readme
    assert (f"for {gpu['gpus_per_node']} GPU, {gpu['cpus_per_task']} CPUs, {gpu['mem_gb']} GB and "
            f"{gpu['timeout_min']} min") in readme
    for kind in (cpu, gpu):
        assert " ".join(f"{key}={value}" for key, value in kind.items()) in usage


@pytest.mark.parametrize("text, problem", [("{not json", r"1: not JSON"),
                                           ('{"a": {"stage": "a"}}', r": the record of stage 'a' is not one")])
def test_a_damaged_job_record_is_named_in_one_line_and_nothing_runs(tmp_path, text, problem):
    root = _synthetic(tmp_path / "repo", {"a": {"cmd": "echo a > a.out", "outs": ["a.out"]}})
    records = root / ".dvc" / "tmp" / "parallel" / "jobs.json"
    records.parent.mkdir(parents=True)
    records.write_text(text)
    result = _runner(root, "--jobs", "1", "--devices", "")
    assert result.returncode == 1
    assert re.fullmatch(rf"repro_parallel: {re.escape(str(records))}:?{problem}.*", result.stderr.strip()), \
        result.stderr
    assert not (root / "a.out").exists()


def test_a_local_job_whose_leader_was_killed_alone_still_runs_while_its_group_does():
    worker = subprocess.Popen(["bash", "-c", "sleep 30 & wait"], start_new_session=True)
    record = JobRecord("train_x", "local", str(worker.pid), "x.log", time.time(),
                       process_start=process_start(worker.pid), status_file="x.exit")
    try:
        time.sleep(0.3)   # the sleep started
        assert Recorded(record).running()
        worker.kill()     # the leader only
        worker.wait()
        assert Recorded(record).running()   # its sleep goes on in its group
    finally:
        os.killpg(worker.pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while Recorded(record).running():
        assert time.monotonic() < deadline
        time.sleep(0.1)


@pytest.mark.parametrize("given, refusal", [("foo=1", "the cpu stages' parameters: Parameter 'foo' need to be "
                                                       "prefixed by an executor name."),
                                            ("gpu.timeout_min=1.5", "the gpu stages' parameters: Parameter "
                                                                    "\"timeout_min\" expected type")])
def test_a_parameter_submitit_refuses_stops_the_runner_before_anything_runs(tmp_path, given, refusal):
    root = _synthetic(tmp_path / "repo", CHAIN)
    result = _runner(root, *_submitit(tmp_path), "--slurm", given)
    assert result.returncode == 1
    assert result.stderr.strip().startswith(f"repro_parallel: --slurm: submitit refuses {refusal}"), result.stderr
    assert "\n" not in result.stderr.strip()
    assert not (root / "p").exists()
