"""The benchmark's arithmetic against hand-computed values (its timings are measured by `make bench`)."""
import re
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from lhmix import benchmark
from script_loader import load_script
from toy import config, project  # noqa: F401  (project is a fixture)

# hidden 4, feed-forward 8, 2 layers
TOY = SimpleNamespace(hidden_size=4, intermediate_size=8, num_hidden_layers=2, vocab_size=10)


def test_forward_flops_counts_matmuls_only():
    # batch 2, length 3 -> 6 tokens; per layer: 6 * (4*16 + 2*4*8) = 6 * 128 = 768 multiply-adds,
    # attention 2 * (2 * 9 * 4) = 144; head 2 docs * 5 labels * 4 = 40; FLOPs = 2 * (2 * 912 + 40) = 3728
    assert benchmark.forward_flops(TOY, batch_size=2, length=3, num_labels=5) == 3728.0
    assert benchmark.training_flops(TOY, 2, 3, 5) == 3 * 3728.0
    # + the MLM transform on 2 docs x 2 depths (4 * 16) and 1.5 MLM positions x (16 + 4 * 10) = 84:
    # 2 * (64 + 84) = 296 more
    assert benchmark.forward_flops(TOY, 2, 3, 5, transformed_states=4, mlm_positions=1.5) == 3728.0 + 296


def test_padding_share_by_batch_longest_and_fixed_width():
    lengths = np.array([2, 4, 3, 3])
    # batches {0,1} padded to 4 and {2,3} to 3: 8 + 6 = 14 processed, 12 real -> 2/14
    assert benchmark.padding_share(lengths, [[0, 1], [2, 3]]) == pytest.approx(2 / 14)
    # padded to 8 everywhere: 32 processed -> 20/32
    assert benchmark.padding_share(lengths, [[0, 1], [2, 3]], pad_to=8) == pytest.approx(20 / 32)


def test_random_batches_cover_every_document_once():
    batches = benchmark.random_batches(10, 4, seed=0)
    assert sorted(sum(batches, [])) == list(range(10))
    assert [len(b) for b in batches] == [4, 4, 2]


def test_matmul_peak_is_the_best_shape():
    result = benchmark.matmul_peak([(64, 64, 64), (128, 64, 32)], repeats=2)
    assert result["peak_gflops"] == max(result["gflops_by_shape"].values()) > 0


def test_adam_step_timing_leaves_the_model_untouched():
    import torch

    model = torch.nn.Linear(8, 4)
    before = [p.detach().clone() for p in model.parameters()]
    assert benchmark.adam_step_seconds(model, fused=True, repeats=2) > 0
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))


@pytest.mark.parametrize("status_code, repro_runs", [(1, 0), (0, 3)])
def test_bench_runs_dvc_repro_only_on_an_up_to_date_pipeline(monkeypatch, status_code, repro_runs):
    # A `dvc repro` on a stale pipeline would re-run stages and rewrite the tracked dvc.lock.
    bench = load_script("tools/bench.py")
    commands = []

    def run(command, **_):
        commands.append(command)
        return SimpleNamespace(returncode=status_code if "status" in command else 0, stderr="")

    monkeypatch.setattr(bench.subprocess, "run", run)
    result = bench.dvc_noop()
    assert commands.count(["dvc", "--wait-for-lock", "repro"]) == repro_runs  # waits for another DVC's lock
    assert (result["seconds"] is None) == (repro_runs == 0)


def test_a_failing_dvc_repro_is_reported_not_raised(monkeypatch):
    """Another `dvc repro` holding the lock ended make bench with a traceback and lost its measurements."""
    bench = load_script("tools/bench.py")

    def run(command, **_):
        failed = "repro" in command
        return SimpleNamespace(returncode=255 if failed else 0,
                               stderr="ERROR: Unable to acquire lock. Most likely another DVC process is running\n")
    monkeypatch.setattr(bench.subprocess, "run", run)
    assert bench.dvc_noop() == {"seconds": None, "why": "`dvc repro` failed (exit 255: ERROR: Unable to acquire "
                                                        "lock. Most likely another DVC process is running)"}


def test_bench_writes_only_its_own_report():
    source = (Path(__file__).parents[1] / "tools" / "bench.py").read_text()
    written = re.findall(r'Path\("([^"]+)"\)\.write_', source)
    assert written
    assert all(path.startswith(("reports/bench.", "reports/bench-speedup.")) for path in written)
    assert "open(" not in source
    assert "write_json" not in source
    assert "write_torch" not in source


def test_the_published_similarity_row_names_its_padding_mask_and_ratio():
    bench = load_script("tools/bench.py")
    row = {"label_length": 512, "attention_mask": False, "timed_steps": 8, "frozen_median_step_seconds": 0.6112,
           "published_median_step_seconds": 7.5819, "published_vs_frozen": 5.84}
    assert bench.published_similarity_line(row) == ("| prompt_lhmix step, published similarity (512 tokens, no mask) "
                                                    "vs frozen | 7.5819 s vs 0.6112 s (5.84x, paired on the batch) |")
    assert "(64 tokens, masked)" in bench.published_similarity_line({**row, "label_length": 64, "attention_mask": True})
    assert bench.PARTS["published"] is bench.part_published


def test_step_breakdown_times_the_training_steps_own_computation(project):
    """The breakdown's phases compute the loss of Session.train_step: two fresh sessions of one seed, one
    stepped by the breakdown and one by train_step, give the same losses step after step."""
    import torch

    from lhmix.training.batches import length_batches
    from lhmix.training.devices import Processes
    from lhmix.training.loop import Session

    def session():
        return Session(config("prompt", warmup_epochs=0, mlm_weight=1.0), project / "data" / "processed" / "toy",
                       Processes(), torch.device("cpu"))
    timed = session()
    batches = length_batches(timed.train_split.lengths, 16, 0, 1)[:3]
    phases, losses = benchmark.step_breakdown(timed, batches)
    stepped = session()
    assert losses == [stepped.train_step(batch, False)[0].item() for batch in batches]
    assert list(phases) == list(benchmark.STEP_PHASES)
    assert all(seconds > 0 for seconds in phases.values())


def test_against_an_old_tree_runs_old_new_old_and_divides_by_the_old_runs_mean(monkeypatch, tmp_path):
    bench = load_script("tools/bench.py")
    calls, rates = [], iter([100.0, 160.0, 60.0])

    def run_part(part, tree=bench.ROOT):
        calls.append((part, tree))
        variants = {"prompt": {"examples_per_second": next(rates), "mfu": 0.1},
                    "prompt_lhmix": {"step_time_vs_prompt": 1.01}}
        return {"matmul": {"peak_gflops": 200.0}, "variants": variants}
    monkeypatch.setattr(bench, "run_part", run_part)
    comparison = bench.compare(tmp_path)
    assert calls == [("train", tmp_path), ("train", bench.ROOT), ("train", tmp_path)]
    assert [run["tree"] for run in comparison["runs"]] == ["old", "new", "old"]
    assert comparison["old_examples_per_second"] == 80.0
    assert comparison["new_vs_old"] == 2.0
    assert "160.0 / 80.0 = 2.0x" in bench.comparison_markdown(comparison)
