"""The families of tests (lhmix.reporting.comparisons) on rows of the variants the design names, present or not:
the second mechanism regime, HPT among the main rows; against hand-computed values."""
import math

import pytest

from lhmix.reporting import mechanism, variants, verdicts


def _rows(values: dict[str, list[float]]) -> list[dict]:
    """Run rows as the stats stage reads them, each selected after its warm-up (epoch 15 of 20, warm-up 12)."""
    return [{"variant": variant, "seed": seed, "micro_f1": value, "macro_f1": value, "micro_ap": value,
             "macro_ap": value, "best_epoch": 15, "warmup_epochs": 12, "epochs_run": 20}
            for variant, per_seed in values.items() for seed, value in enumerate(per_seed)]


def test_variant_names_live_in_one_place():
    assert variants.in_regime("prompt_lhmix_shuffled", "spread") == "prompt_lhmix_shuffled_spread"
    assert variants.family("prompt_fixed_lambda_spread") == "prompt"
    assert variants.family(variants.HPT) == variants.HPT   # its own warm-up: Welch against the prompt family
    assert variants.is_prompt_family("hpt")
    assert not variants.is_prompt_family("bert_lhmix")
    assert variants.ordered_variants([{"variant": "hpt"}, {"variant": "prompt_lhmix_spread"}, {"variant": "prompt"}]) \
        == ["prompt", "prompt_lhmix_spread", "hpt"]


def test_regime_2_alone_equivalent_and_too_weak():
    rows = _rows({"prompt_lhmix_spread": [10.1, 10.3, 10.2], "prompt_lhmix_shuffled_spread": [10.0, 10.0, 10.0],
                  "prompt_fixed_lambda_spread": [10.5, 12.5, 9.0]})
    entries = mechanism.mechanism(rows, margin=1.0)
    # the main regime was not run: only the spread regime's two questions, each on micro- and macro-F1
    assert {(e["regime"], e["claim"], e["metric"]) for e in entries} == {
        ("spread", q, m) for q in ("lhmix_vs_shuffled", "lhmix_vs_fixed") for m in ("micro_f1", "macro_f1")}
    shuffled = next(e for e in entries if e["claim"] == "lhmix_vs_shuffled")
    # differences 0.1, 0.3, 0.2: TOST p = one-sided p of t = (0.2 - 1) / (0.1 / sqrt 3) = -8 sqrt 3 at 2 df
    p_tost = (1 - math.sqrt(192 / 194)) / 2
    assert shuffled["p_tost"] == pytest.approx(p_tost, rel=1e-6)
    # Holm over the family's 4 TOST p: the two lhmix_vs_fixed p are far larger, the two equal ones rank first
    assert shuffled["p_tost_holm"] == pytest.approx(4 * p_tost, rel=1e-6)
    # no difference: t = 2 sqrt 3, p = 1 - 2 sqrt 3 / sqrt 14 = 0.0742, not significant either way
    assert shuffled["p"] == pytest.approx(1 - 2 * math.sqrt(3) / math.sqrt(14))
    assert shuffled["verdict"] == "equivalent within +-1"
    # lhmix_spread - fixed_spread: -0.4, -2.2, +1.2: mean -0.467, sd 1.70: neither test reaches 0.05
    fixed = next(e for e in entries if e["claim"] == "lhmix_vs_fixed")
    assert fixed["diff"] == pytest.approx(-1.4 / 3)
    assert fixed["verdict"] == "too weak to tell"
    assert fixed["mdd_alpha"] == pytest.approx(0.05 / 4)
    assert fixed["mdd"] > 2 * abs(fixed["diff"])


def test_hpt_among_the_main_rows_is_tested_with_welch():
    rows = _rows({"prompt_lhmix": [61.0, 62.0, 63.0], variants.HPT: [60.0, 60.5, 61.0]})
    entries = verdicts.claims(rows)
    assert {(e["claim"], e["metric"]) for e in entries} == {("lhmix_vs_hpt", m) for m in
                                                            ("micro_f1", "macro_f1", "micro_ap", "macro_ap")}
    hpt = next(e for e in entries if e["metric"] == "macro_f1")
    # Welch: diff 62 - 60.5, variances 1 and 0.25: se sqrt(1/3 + 0.25/3) = sqrt(5/12)
    assert (hpt["test"], hpt["diff"]) == ("Welch t", pytest.approx(1.5))
    assert hpt["t"] == pytest.approx(1.5 / math.sqrt(5 / 12))
    assert (hpt["holm_family"], hpt["holm_tests"]) == ("paper F1", 2)
