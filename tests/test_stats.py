"""Stats, plots and report on synthetic run files laid out as the pipeline lays them out."""
import json
import math

import pytest

from lhmix.reporting import plots
from lhmix.reporting import report
from lhmix.reporting import stats
from lhmix.core.errors import LhmixError
from lhmix.reporting.runs import main_runs, sparse_runs, sweep_runs

PARAMS = {"families": ["bert", "prompt"], "mixings": ["none", "mixup"], "seeds": [0, 1, 2],
          "alpha": 1.0, "beta": 0.75,
          "sweeps": {"seed": 0, "alpha": [0.1, 1], "beta": [0.7, 1], "sparse": [0.5, 0.1]}}
DATASET_STATS = {"depth": 2, "num_labels": 5, "labels_per_level": [2, 3], "avg_labels_per_doc": 2.0,
                 "splits": {"train": 10, "dev": 2, "test": 3}, "dropped": {"too_rare": 4}}
# Macro-F1 (fraction) per seed: prompt_lhmix beats prompt by 0.01, 0.02, 0.03.
MACRO = {"prompt_lhmix": [0.51, 0.52, 0.53], "prompt": [0.50, 0.50, 0.50]}


def _metrics(macro: float, epochs: int = 2) -> dict:
    return {"micro_f1": macro + 0.1, "macro_f1": macro,
            "per_depth": {"1": {"micro_f1": 0.9, "macro_f1": 0.8}, "2": {"micro_f1": 0.5, "macro_f1": 0.4}},
            "by_frequency": {"rare": 0.2, "frequent": 0.7},
            "history": [{"epoch": e, "dev_macro_f1": macro - 0.01 * (epochs - e), "train_loss": macro}
                        for e in range(1, epochs + 1)],
            "train_seconds": 10.0, "examples_per_second": 100.0}


def _write_runs(root, skip=()):
    for run in main_runs(PARAMS, "toy", root=root):
        macro = MACRO.get(run.variant, [0.4, 0.41, 0.42])[run.seed]
        if (run.variant, run.seed) not in skip:
            run.path.mkdir(parents=True)
            (run.path / "metrics.json").write_text(json.dumps(_metrics(macro)))
    for run in [*sum(sweep_runs(PARAMS, "toy", root=root).values(), []), *sparse_runs(PARAMS, "toy", root=root)]:
        run.path.mkdir(parents=True)
        (run.path / "metrics.json").write_text(json.dumps(_metrics(0.45)))


def test_run_paths_match_dvc_yaml_layout(tmp_path):
    runs = main_runs(PARAMS, "toy", root=tmp_path)
    assert len(runs) == 2 * 3 * 3
    names = {(r.variant, r.path.name) for r in runs if r.seed == 1}
    assert ("prompt_lhmix", "prompt-lhmix-s1") in names and ("bert", "bert-none-s1") in names
    assert sweep_runs(PARAMS, "toy", root=tmp_path)["alpha"][0].path.name == "alpha-0.1"
    assert sparse_runs(PARAMS, "toy", root=tmp_path)[0].path.name == "f0.5-prompt-none"


def test_summary_and_ttests_against_hand_computed_values(tmp_path):
    _write_runs(tmp_path)
    results = stats.collect(PARAMS, "toy", root=tmp_path)
    summary = stats.summarize(results["main"])
    assert list(summary) == stats.VARIANT_ORDER
    assert summary["prompt_lhmix"]["macro_f1"] == {"mean": 52.0, "std": 1.0, "n": 3}
    # Final-epoch train loss of the synthetic history: macro - 0 = macro, mean 0.52.
    assert summary["prompt_lhmix"]["train_loss"]["mean"] == pytest.approx(0.52)
    assert summary["prompt"]["macro_f1"]["std"] == 0.0
    tests = stats.ttests(results["main"])
    assert "prompt_lhmix" not in tests
    # Paired: differences 1, 2, 3 points -> t = 2 / (1 / sqrt 3) = 3.4641, df 2 -> two-sided p = 0.07418.
    assert tests["prompt"]["macro_f1"]["paired_p"] == pytest.approx(0.07418, abs=1e-4)
    # Welch with zero variance on one side: t = 2 / (1 / sqrt 3), df = 2 as well.
    assert tests["prompt"]["macro_f1"]["welch_p"] == pytest.approx(0.07418, abs=1e-4)
    metrics = stats.dvc_metrics(summary)
    assert metrics["prompt_lhmix"]["macro_f1"]["mean"] == 52.0
    table = stats.markdown("toy", DATASET_STATS, results, summary, tests, table3_seed=0)
    assert "| prompt_lhmix | 3 | 62.00 +- 1.00 | 52.00 +- 1.00 |" in table
    assert "too_rare: 4" in table
    curves = stats.curves_rows(results)
    # prompt: dev macro-F1 at epoch 2 equals its test macro 0.50 on every seed; prompt_lhmix: mean of .51 .52 .53
    assert {"variant": "prompt", "epoch": 2, "dev_macro_f1": 50.0} in curves
    assert {"variant": "prompt_lhmix", "epoch": 1, "dev_macro_f1": 51.0} in curves
    assert [row["variant"] for row in curves[:2]] == ["bert", "bert"]


def test_ttest_with_one_seed_is_not_available():
    rows = [{"variant": "prompt_lhmix", "seed": 0, "micro_f1": 1.0, "macro_f1": 1.0},
            {"variant": "prompt", "seed": 0, "micro_f1": 0.5, "macro_f1": 0.5}]
    assert stats.ttests(rows)["prompt"]["macro_f1"] == {"paired_p": None, "welch_p": None}


def test_missing_run_named_in_params_fails_with_its_path(tmp_path):
    _write_runs(tmp_path, skip={("bert_mixup", 2)})
    with pytest.raises(LhmixError, match="bert-mixup-s2/metrics.json"):
        stats.collect(PARAMS, "toy", root=tmp_path)


def test_stale_runs_outside_params_are_ignored(tmp_path):
    _write_runs(tmp_path)
    stale = tmp_path / "toy" / "main" / "prompt-lhmix-s9"
    stale.mkdir()
    (stale / "metrics.json").write_text(json.dumps(_metrics(0.99)))
    results = stats.collect(PARAMS, "toy", root=tmp_path)
    assert {r["seed"] for r in results["main"]} == {0, 1, 2}


def test_figures_and_report_are_written(tmp_path):
    _write_runs(tmp_path)
    results = stats.collect(PARAMS, "toy", root=tmp_path)
    paths = plots.draw_all(results, tmp_path / "figures")
    assert [p.name for p in paths] == [name for name, _ in report.FIGURES]
    assert all(p.stat().st_size > 5000 for p in paths)
    again = plots.draw_all(results, tmp_path / "figures-again")
    assert [p.read_bytes() for p in paths] == [p.read_bytes() for p in again]
    summary = stats.summarize(results["main"])
    tables = {"toy": stats.markdown("toy", DATASET_STATS, results, summary, stats.ttests(results["main"]), 0)}
    page = report.render(["toy"], {"toy": results}, tables, {"python": "3.x"})
    assert "### Table 4: mean +- std over seeds (F1 in %)" in page
    assert "](../results/toy/figures/fig5_sweeps.png)" in page
    assert "| main | 18 | 180 | 100.0 |" in page
    assert not math.isnan(summary["bert"]["micro_f1"]["mean"])
