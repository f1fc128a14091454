"""tools/ablation.py (`make ablation`): its overrides, folder names and table arithmetic against hand-computed
values; its trainings are the library's own (tested in test_train) and take the full run's time."""
import math
from pathlib import Path

import pytest

from lhmix.core.params import Params
from lhmix.core.profiles import overridden
from lhmix.training.config import TrainConfig
from script_loader import load_script
from toy import project  # noqa: F401  (a fixture)

ROOT = Path(__file__).parents[1]


@pytest.fixture(scope="module")
def ablation():
    return load_script("tools/ablation.py")


def test_each_change_undoes_what_it_says_on_the_default(ablation):
    default = Params.load(ROOT / "params.yaml").values
    expected = {"linear head": {"head": "linear"}, "no MLM loss": {"mlm_weight": 0.0},
                "short schedule": {"warmup_epochs": 1, "max_epochs": 2},
                "all three (the project before)": {"head": "linear", "mlm_weight": 0.0,
                                                   "warmup_epochs": 1, "max_epochs": 2},
                "published loss": {"loss": "per_document"},
                "published early stopping": {"early_stopping": "published", "patience": 6}}
    assert set(ablation.CHANGES) == set(expected)
    base = TrainConfig.from_params(Params(default), "prompt", "lhmix", 0)
    for name, (_, overrides) in ablation.CHANGES.items():
        config = TrainConfig.from_params(Params(overridden(default, overrides)), "prompt", "lhmix", 0)
        changed = {field: getattr(config, field) for field in expected[name]}
        assert changed == expected[name]
        assert all(getattr(base, field) != value for field, value in expected[name].items()), name


def test_folder_names_are_plain(ablation):
    assert ablation.folder_name("all three (the project before)") == "all-three-the-project-before"
    assert ablation.folder_name("no MLM loss") == "no-mlm-loss"


def _metrics(micro, macro, per_doc=3.0, stopped=True, epochs=20):
    return {"micro_f1": micro, "macro_f1": macro, "predicted_per_doc": per_doc, "stopped_early": stopped,
            "epochs_run": epochs, "best_epoch": epochs - 5, "warmup_epochs": 5}   # selected after its warm-up


def test_row_means_and_the_paired_lhmix_difference(ablation):
    runs = {0: {"none": _metrics(0.70, 0.40, 2.5), "mixup": _metrics(0.69, 0.41), "lhmix": _metrics(0.68, 0.50, 3.5)},
            1: {"none": _metrics(0.72, 0.42, 2.7), "mixup": _metrics(0.71, 0.43, stopped=False),
                "lhmix": _metrics(0.70, 0.54, 3.7)}}
    row = ablation.row_of(runs)
    assert row["prompt.micro_f1"]["mean"] == pytest.approx(71.0)
    assert row["prompt.micro_f1"]["std"] == pytest.approx(math.sqrt(2))   # 70, 72
    assert row["prompt_lhmix.predicted_per_doc"]["mean"] == pytest.approx(3.6)
    assert row["prompt_mixup.stopped_early"] == 1
    # macro differences 10 and 12 points: mean 11, sd sqrt(2), se 1, t 11 on 1 df (Cauchy):
    # p = 1 - (2 / pi) atan(11), not below 0.05
    macro = row["lhmix_vs_prompt.macro_f1"]
    assert macro["diff"] == pytest.approx(11.0)
    assert macro["t"] == pytest.approx(11.0)
    assert macro["p"] == pytest.approx(1 - 2 / math.pi * math.atan(11.0))
    assert macro["verdict"] == "inconclusive"
    assert row["lhmix_vs_prompt.micro_f1"]["diff"] == pytest.approx(-2.0)


def test_markdown_names_every_configuration_and_the_machine(ablation):
    runs = {s: {m: _metrics(0.7 + 0.01 * s, 0.4 + 0.02 * s + (0.05 if m == "lhmix" else 0)) for m in ablation.MIXINGS}
            for s in (0, 1, 2)}
    rows = {ablation.DEFAULT: ablation.row_of(runs), "linear head": ablation.row_of(runs)}
    text = ablation.markdown(rows, {"linear head": "p_v = w_v . h + b_v"}, [0, 1, 2],
                             {"minutes": 1.5, "machine": "2 cores, 150 GFLOP/s"})
    assert "1.5 min on 2 cores, 150 GFLOP/s" in text
    lines = [line for line in text.splitlines() if line.startswith("| ")]
    assert len(lines) == 2 + 2
    assert lines[2].startswith(f"| {ablation.DEFAULT} |")
    # the same 5-point gain on every seed: no spread, so no test, and no verdict beyond inconclusive
    assert "+5.00" in lines[2]
    assert "inconclusive" in lines[2]


def test_only_keeps_the_rows_measured_before(ablation, tmp_path, monkeypatch):
    runs = {s: {m: _metrics(0.7, 0.4 + 0.01 * s) for m in ablation.MIXINGS} for s in (0, 1)}
    earlier = {"meta": {"minutes": 30.0, "machine": "2 cores, 170 GFLOP/s", "seeds": [0, 1], "dataset": "wordnet"},
               "rows": {ablation.DEFAULT: ablation.row_of(runs), "linear head": ablation.row_of(runs)}}
    path = tmp_path / "ablation.json"
    path.write_text(__import__("json").dumps(earlier))
    kept = ablation.kept_rows(path, [0, 1])
    assert kept["linear head"]["measured"] == {"minutes": 30.0, "machine": "2 cores, 170 GFLOP/s"}
    with pytest.raises(SystemExit, match="holds seeds \\[0, 1\\], not \\[0\\]"):
        ablation.kept_rows(path, [0])
    rows = {ablation.DEFAULT: {**ablation.row_of(runs), "measured": {"minutes": 5.0, "machine": "m"}},
            "linear head": kept["linear head"]}
    text = ablation.markdown(rows, {}, [0, 1], {"minutes": 5.0, "machine": "m"})
    assert "- linear head: measured by an earlier run (30.0 min for the rows of that run, 2 cores, 170 GFLOP/s)" in text
    assert "| 20.0, 20.0 |" in text
    # a row scored on another test split says so: its numbers are not comparable with the default's row
    text = ablation.markdown(rows, {}, [0, 1], {"minutes": 5.0, "machine": "m", "test_documents": 24069})
    assert ("170 GFLOP/s; scored on an earlier test split, not the current 24,069-document one: compare it with the "
            "rows of its own run, not with the default's)") in text
    rows["linear head"]["measured"]["test_documents"] = 24069
    assert "earlier test split" not in ablation.markdown(rows, {}, [0, 1], {"minutes": 5.0, "machine": "m",
                                                                           "test_documents": 24069})


# ----------------------------------------------------------------------------- the published similarity's rows

def _published(micro, macro, s_values, lambdas, epochs):
    """A published prompt_lhmix run's metrics: F1, the s and lambda summaries of its mixed pairs, a history with
    a warm-up epoch and `epochs` mixed ones ({'s_mean': ...} each)."""
    import torch
    from lhmix.model import mixup

    def summary(values):
        values = torch.tensor(values)
        return mixup.histogram_summary(mixup.histogram(values).tolist(), float(values.sum()))
    return {**_metrics(micro, macro), "s": summary(s_values), "lambda": summary(lambdas),
            "history": [{"epoch": 1}] + [{"epoch": 2 + i, **epoch} for i, epoch in enumerate(epochs)]}


def test_a_regime_reads_its_alpha_and_beta_where_params_hold_them(ablation):
    params = {"alpha": 1.0, "beta": 0.75, "spread": {"alpha": 10.0, "beta": 1.0, "fixed_lambda": 0.815}}
    assert ablation.regime_ratio(params, "main") == {"alpha": 1.0, "beta": 0.75}
    assert ablation.regime_ratio(params, "spread") == {"alpha": 10.0, "beta": 1.0}


def test_published_row_pools_s_and_lambda_and_pairs_each_seed_with_its_control(ablation):
    epochs = {0: [{"s_mean": 0.96, "lambda_mean": 0.51}, {"s_mean": 0.90, "lambda_mean": 0.53}],
              1: [{"s_mean": 0.98, "lambda_mean": 0.505}, {"s_mean": 0.94, "lambda_mean": 0.52},
                  {"s_mean": 0.80, "lambda_mean": 0.55}]}
    runs = {0: {"lhmix": _published(0.70, 0.50, [1.0, 0.9], [0.5, 0.525], epochs[0]),
                "fixed_lambda": {**_metrics(0.71, 0.48), "fixed_lambda": 0.51}},
            1: {"lhmix": _published(0.72, 0.56, [0.8, 0.8], [0.55, 0.55], epochs[1]),
                "fixed_lambda": {**_metrics(0.72, 0.50), "fixed_lambda": 0.52}}}
    row = ablation.published_row(runs, margin=1.0)
    assert row["fixed_lambda"] == {0: 0.51, 1: 0.52}
    assert row["lhmix.macro_f1"]["mean"] == pytest.approx(53.0)
    assert row["fixed_lambda.micro_f1"]["mean"] == pytest.approx(71.5)
    # the four pairs pooled: s 1.0, 0.9, 0.8, 0.8 -> mean 0.875, median bin of 0.8 (centre 0.8005)
    assert row["s"]["mean"] == pytest.approx(0.875)
    assert row["s"]["q50"] == pytest.approx(0.8005)
    assert row["lambda"]["mean"] == pytest.approx((0.5 + 0.525 + 0.55 + 0.55) / 4, abs=1e-6)
    # mixed epochs both seeds reached (2), seed means; the warm-up epoch left out
    assert row["by_mixed_epoch"] == [pytest.approx({"s_mean": 0.97, "lambda_mean": 0.5075}),
                                     pytest.approx({"s_mean": 0.92, "lambda_mean": 0.525})]
    macro = row["published_vs_fixed.macro_f1"]
    assert macro["diff"] == pytest.approx(4.0)   # 2 and 6 points
    assert macro["verdict"] == "inconclusive"     # t = 2 on 1 df
    assert macro["equivalence"] == "too weak to tell"
    assert row["published_vs_fixed.micro_f1"]["diff"] == pytest.approx(-0.5)
    assert "equivalence" not in ablation.published_row(runs, margin=None)["published_vs_fixed.macro_f1"]
    assert row["one_model_seeds"] == []
    # seed 1's two runs both kept their warm-up (best epoch 3 of a 5-epoch warm-up, 9 run): one model there
    for variant in ("lhmix", "fixed_lambda"):
        runs[1][variant].update(best_epoch=3, warmup_epochs=5, epochs_run=9)
    assert ablation.published_row(runs, margin=1.0)["one_model_seeds"] == [1]


def test_published_markdown_has_a_row_per_regime_with_its_quantiles(ablation):
    epoch = {f"{name}_{q}": value for name, values in (("s", (0.9, 0.95, 1.0)), ("lambda", (0.5, 0.51, 0.52)))
             for q, value in zip(("q05", "q50", "q95"), values)} | {"s_mean": 0.95, "lambda_mean": 0.51}
    runs = {s: {"lhmix": _published(0.70, 0.50 + 0.01 * s, [0.95], [0.51], [epoch]),
                "fixed_lambda": {**_metrics(0.70, 0.50), "fixed_lambda": 0.51}} for s in (0, 1)}
    params = {"alpha": 1.0, "beta": 0.75, "spread": {"alpha": 10.0, "beta": 1.0},
              "similarity": {"source": "frozen", "label_length": 512, "attention_mask": False}}
    rows = {regime: ablation.published_row(runs, None) for regime in ablation.PUBLISHED_REGIMES}
    text = "\n".join(ablation.published_markdown(rows, params))
    assert "padded to 512 tokens without an attention mask" in text
    lines = [line for line in text.splitlines() if line.startswith("| ")]
    assert len(lines) == 2 + 2
    assert lines[2].startswith("| main (1, 0.75) | 0.900/0.950/1.000 / 0.900/0.950/1.000 | "
                               "0.500/0.510/0.520 / 0.500/0.510/0.520 | 0.510 (0.51) | 70.00 / 50.50 | 70.00 / 50.00 |")
    assert lines[3].startswith("| spread (10, 1) |")
    # both runs of both seeds kept their warm-up: TOST's "equivalent" would compare a model with itself
    rows["main"]["one_model_seeds"] = [0, 1]
    rows["main"]["published_vs_fixed.macro_f1"]["equivalence"] = "equivalent within +-1"
    text = "\n".join(ablation.published_markdown(rows, params))
    assert "too weak to tell (TOST alone: equivalent within +-1); one model on 2 of 2 seeds" in text


def test_published_rows_train_each_regime_and_a_control_at_its_mean_lambda(ablation, project, tmp_path,
                                                                           monkeypatch):
    """The whole published path on the toy project: one warm-up, per regime a published prompt_lhmix and the
    fixed-lambda control at its mean lambda to 0.01 (shared when two regimes round alike), the state removed."""
    from toy import PARAMS

    monkeypatch.setattr(ablation, "processed_folder", lambda dataset: project / "data" / "processed" / dataset)
    params = overridden(PARAMS, {"similarity": {"label_length": 16}, "train": {"max_epochs": 2}})
    results = ablation.run_published(params, "toy", 0, tmp_path)
    assert set(results) == set(ablation.PUBLISHED_REGIMES)
    for regime, runs in results.items():
        lhmix, control = runs["lhmix"], runs["fixed_lambda"]
        ratio = ablation.regime_ratio(params, regime)
        assert (lhmix["mixing"], lhmix["alpha"], lhmix["beta"]) == ("lhmix", ratio["alpha"], ratio["beta"])
        assert "s_q50" in lhmix["history"][-1]
        assert control["fixed_lambda"] == round(lhmix["lambda"]["mean"], 2)
        assert (control["mixing"], control["epochs_run"]) == ("fixed_lambda", 2)
    assert not (tmp_path / "published-similarity" / "s0" / "warmup.pt").exists()


def test_render_writes_the_markdown_again_from_the_json_alone(ablation, tmp_path, monkeypatch):
    import json
    import shutil

    runs = {s: {m: _metrics(0.7, 0.4 + 0.01 * s) for m in ablation.MIXINGS} for s in (0, 1)}
    meta = {"minutes": 3.0, "machine": "2 cores", "seeds": [0, 1], "dataset": "wordnet", "test_documents": 10}
    (tmp_path / "reports").mkdir()
    (tmp_path / "reports" / "ablation.json").write_text(json.dumps(
        {"meta": meta, "rows": {ablation.DEFAULT: {**ablation.row_of(runs), "measured": meta}}, ablation.PUBLISHED: {}}))
    shutil.copy(ROOT / "params.yaml", tmp_path / "params.yaml")
    monkeypatch.chdir(tmp_path)
    assert ablation.main(["--render"]) == 0
    text = (tmp_path / "reports" / "ablation.md").read_text()
    assert "last run: 3.0 min on 2 cores" in text and f"| {ablation.DEFAULT} |" in text
    assert not (tmp_path / "runs").exists()   # nothing trained
