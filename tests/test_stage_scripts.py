"""The training stage scripts on the toy project: arguments, params checks before training, Table 6's
graph argument, usage errors, DDP through torchrun.
"""
import json
import os
import sys

import pytest

from toy import REPO, project, stage, write_params  # noqa: F401  (project is a fixture)


def test_stage_rejects_bad_beta_before_training(project):
    write_params(project)
    done = stage(project, sys.executable, str(REPO / "stages" / "train.py"), "--data", "data/processed/toy",
                 "--family", "prompt", "--mixing", "lhmix", "--seed", "0", "--alpha", "1", "--beta", "0.4",
                 "--out", "runs/bad")
    assert done.returncode == 1
    assert "parameter 'beta' = 0.4: expected a number in (0.5, 1]" in done.stderr
    assert not (project / "runs" / "bad").exists()
    assert not (project / "checkpoints").exists()


def test_table6_stages_train_the_graph_given_and_read_no_graph_param(project):
    """warmup.py and train.py --graph (Table 6) override model.prompt.graph, never read it, and a run
    of another graph cannot continue the warm-up."""
    write_params(project)
    log = project / "params-read.jsonl"
    log.unlink(missing_ok=True)
    common = ("--data", "data/processed/toy", "--family", "prompt", "--seed", "0")
    warm = stage(project, sys.executable, str(REPO / "stages" / "warmup.py"), *common, "--graph", "gcn",
                 "--state", "data/warmup/gcn.pt", "--out", "runs/gcn/warmup", env={"LHMIX_PARAMS_LOG": str(log)})
    assert warm.returncode == 0, warm.stderr[-3000:]
    run_gcn = stage(project, sys.executable, str(REPO / "stages" / "train.py"), *common, "--mixing", "none",
                    "--graph", "gcn", "--warm-start", "data/warmup/gcn.pt", "--out", "runs/gcn/prompt",
                    env={"LHMIX_PARAMS_LOG": str(log)})
    assert run_gcn.returncode == 0, run_gcn.stderr[-3000:]
    assert json.loads((project / "runs/gcn/prompt/metrics.json").read_text())["graph"] == "gcn"
    reads = [set(json.loads(line)["read"]) for line in log.read_text().splitlines()]
    assert len(reads) == 2
    assert (all("model.prompt.head" in read and "model.prompt.graph" not in read
                                   for read in reads))
    plain = stage(project, sys.executable, str(REPO / "stages" / "train.py"), *common, "--mixing", "none",
                  "--warm-start", "data/warmup/gcn.pt", "--out", "runs/gcn/plain")
    assert plain.returncode == 1
    assert "trained with other settings" in plain.stderr
    bert = stage(project, sys.executable, str(REPO / "stages" / "warmup.py"), "--data", "data/processed/toy", "--family",
                 "bert", "--seed", "0", "--graph", "gat", "--state", "data/warmup/bert.pt", "--out", "runs/bert")
    assert bert.returncode == 1
    assert "'graph' = 'gat': expected no graph for the bert family" in bert.stderr
    assert not (project / "runs" / "bert").exists()


@pytest.mark.parametrize("script, own", [("train.py", ("--mixing", "none")), ("warmup.py", ("--state", "x.pt"))])
def test_an_unknown_graph_is_a_usage_error(project, script, own):
    done = stage(project, sys.executable, str(REPO / "stages" / script), "--data", "data/processed/toy", "--family", "prompt",
                 "--seed", "0", "--graph", "gin", "--out", "runs/x", *own)
    assert done.returncode == 2
    assert "argument --graph: invalid choice: 'gin'" in done.stderr


@pytest.mark.parametrize("script", ["train.py", "warmup.py", "prepare.py", "similarity.py", "stats.py",
                                    "plots.py", "augment.py", "augment_bt.py"])
def test_stage_scripts_without_their_arguments_print_usage(project, script):
    done = stage(project, sys.executable, str(REPO / "stages" / script))
    assert done.returncode == 2
    assert "the following arguments are required" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("script", ["check.py", "report.py"])
def test_stage_scripts_that_take_no_arguments_refuse_one(project, script):
    done = stage(project, sys.executable, str(REPO / "stages" / script), "--no-such-option")
    assert done.returncode == 2
    assert "unrecognized arguments: --no-such-option" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_damaged_results_file_stops_plots_naming_file_and_line(project):
    results = project / "results" / "toy" / "results.json"
    results.parent.mkdir(parents=True, exist_ok=True)
    results.write_text('{"main":\n  {"prompt": [1, 2,]}}\n')
    done = stage(project, sys.executable, str(REPO / "stages" / "plots.py"), "toy")
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert f"plots toy: results{os.sep}toy{os.sep}results.json:2: not JSON (" in done.stderr
    assert not (project / "results" / "toy" / "figures").exists()


def test_ddp_two_processes_on_cpu(project):
    write_params(project, max_epochs=2)
    done = stage(project, "--nproc_per_node", "2", "--standalone", str(REPO / "stages" / "train.py"),
                 "--data", "data/processed/toy", "--family", "prompt", "--mixing", "mixup", "--seed", "0", "--out", "runs/ddp",
                 launcher=(sys.executable, "-m", "torch.distributed.run"))
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stderr.count("wrote runs/ddp") == 1  # rank 0 alone writes
    metrics = json.loads((project / "runs" / "ddp" / "metrics.json").read_text())
    assert metrics["world_size"] == 2
    assert metrics["epochs_run"] == 2
    assert metrics["train_docs"] == 64
