"""The verdicts: the families of tests stated before any result, the paper's claims (F1, AP, and LH-Mix against
the prompt at thresholds tuned on dev), the mechanism questions as equivalence tests per regime, per-depth
micro-F1 differences, each with its t interval over seeds, its two-level bootstrap interval (seeds x test
documents) and its minimal detectable difference; and the two tables that say what a gain is made of: per depth
at the threshold, and the threshold-free average precision."""
from __future__ import annotations

from lhmix.reporting.comparisons import FAMILIES, MECHANISM, MECHANISM_QUESTIONS, PAPER_CLAIMS, holm_alpha
from lhmix.reporting.markdown import interval, mean_std, number, p_value, t_df, table
from lhmix.reporting.stats import POWER, SIGNIFICANCE, TOO_WEAK, Comparison, minimal_detectable_difference
from lhmix.reporting.variants import REGIMES

METRIC_NAMES = {"micro_f1": "micro-F1", "macro_f1": "macro-F1"}
ALL_METRIC_NAMES = {**METRIC_NAMES, "micro_ap": "micro-AP", "macro_ap": "macro-AP",
                    "tuned_micro_f1": "micro-F1, tuned thresholds", "tuned_macro_f1": "macro-F1, tuned thresholds"}
CLAIM_QUESTION = {
    "prompt_vs_bert": "the hierarchical prompt beats a [CLS] classifier (paper Table 3)",
    "mixup_vs_prompt": "Mixup helps the prompt (Table 3)",
    "lhmix_vs_mixup": "similarity-guided mixing beats Beta(a, a) mixing (Table 3)",
    "lhmix_vs_prompt": "LH-Mix helps the prompt (Tables 3, 4)",
    "lhmix_vs_hpt": "LH-Mix beats HPT, the prompt with HPT's graph injection (Table 4)",
    "lhmix_vs_shuffled": "does the local hierarchy guide the mixing? (LH-Mix against the same lambdas given to "
                         "other pairs)",
    "lhmix_vs_fixed": "does LH-Mix differ from one fixed mixing ratio (train.fixed_lambda)?"}
FAMILY_TEXT = {
    "paper F1": "the paper's claims on micro- and macro-F1 at the 0 threshold, where the paper makes them",
    "paper AP": "the same claims on micro- and macro-AP, the threshold-free evidence, read on their own",
    "tuned thresholds": "LH-Mix > prompt on F1 at one threshold per depth tuned on dev (dev micro-F1 of the "
                        "depth maximised; test read only after), beside the same claim at 0"}


def bootstrap_cell(entry: dict) -> str:
    b = entry.get("bootstrap")
    return "-" if b is None else f"[{b['low']:+.2f}, {b['high']:+.2f}]"


def mdd_cell(entry: dict) -> str:
    if entry.get("mdd") is None:
        return "n/a"
    return f"{entry['mdd']:.2f} (α {entry['mdd_alpha']:.4f})"


def verdict_cell(entry: dict) -> str:
    text = f"**{entry['verdict']}**"
    if entry.get("reason"):
        text += f" ({entry['reason']})"
    elif entry.get("verdict_unadjusted") not in (None, entry["verdict"]):
        text += f" ({entry['verdict_unadjusted']} before Holm)"
    return text


def families(results: dict) -> str:
    """The families and their rules, as fixed before any result (lhmix.reporting.comparisons)."""
    margin = results["config"]["equivalence_margin"]
    counts = {}
    for entry in results["claims"] + results["mechanism"]:
        counts[entry["holm_family"]] = entry["holm_tests"]
    lines = ["**The tests, fixed before any result.** Each family is corrected on its own (Holm 1979, step-down, "
             f"family-wise error {SIGNIFICANCE}); a test's verdict is read on its adjusted p."]
    for name, text in FAMILY_TEXT.items():
        lines.append(f"- *{name}* ({counts.get(name, 0)} tests with a p): {text}. Verdicts: *supported (+)*, "
                     "*contradicted (-)* when the Holm p < 0.05 (by the sign of the difference), *inconclusive* "
                     "otherwise.")
    lines.append(f"- *{MECHANISM}* ({counts.get(MECHANISM, 0)} tests with a p): "
                 + "; ".join(CLAIM_QUESTION[name] for name, _, _ in MECHANISM_QUESTIONS)
                 + f", in each regime run ({', '.join(REGIMES)}), on micro- and macro-F1. Questions hoped to show no "
                 f"difference are equivalence tests: TOST with the margin +-{margin:g} F1 points "
                 "(stats.equivalence_margin, fixed before the runs), Holm over the family's TOST p and, separately, "
                 f"over its p of no difference. Verdicts: *equivalent within +-{margin:g}* (TOST), *different (sign)* "
                 f"(paired t-test of no difference), *{TOO_WEAK}* (neither): a difference that is not significant is "
                 "never read as no difference.")
    lines.append(f"- Every test shows its **MDD**: the true difference it detects with {POWER:.0%} probability, "
                 "two-sided, at Holm's first-step alpha (0.05 / the family's tests, the conservative figure), from the "
                 "observed spread (noncentral t; see the power note).")
    lines.append("- **Bootstrap**: each difference on F1 also has a 95 % interval from resampling the seeds and the "
                 "test documents together (two levels, the same resamples for every run), the basic interval "
                 "2 x difference - the 97.5 / 2.5 % quantiles, which corrects the bias of macro-F1 on resampled "
                 "documents that a percentile interval carries.")
    return "\n".join(lines)


def _claim_row(c: dict) -> list[str]:
    return [f"{c['better']} > {c['worse']}", ALL_METRIC_NAMES[c["metric"]], c["holm_family"],
            number(c["diff"], sign=True), interval(c), bootstrap_cell(c), t_df(c), p_value(c), p_value(c, "p_holm"),
            c["n"], c["test"], mdd_cell(c), verdict_cell(c)]


def verdicts(results: dict) -> str:
    claims = results["claims"]
    tested = {c["claim"] for c in claims}
    missing = [f"{better} > {worse}" for name, better, worse in PAPER_CLAIMS if name not in tested]
    parts = [
        families(results), "",
        table(["claim", "metric", "family", "difference (points)", "95 % CI (t, seeds)",
               "95 % CI (bootstrap, seeds x docs)", "t (df)", "p", "p (Holm)", "n", "test",
               f"MDD ({POWER:.0%} power)", "verdict (on Holm p)"], [_claim_row(c) for c in claims]), "",
        "What each claim asks: " + "; ".join(f"*{better} > {worse}*: {CLAIM_QUESTION[name]}"
                                             for name, better, worse in PAPER_CLAIMS if name in tested) + ".", "",
        "**Which metric judges a claim.** The paper makes its claims on micro- and macro-F1 of decisions at the "
        "0 threshold, so F1 is the verdict on the paper. F1 at one threshold mixes two things: how well the "
        "scores rank the labels, and where the threshold cuts them (labels per document; Mixup moves it). Average "
        "precision (AP) of the scores ranks every (document, label) pair without a threshold (micro) or the "
        "documents of each label (macro, over the labels with a gold test document); F1 at thresholds tuned on dev "
        "moves the cut to where each run's own dev set puts it. A variant that wins at 0 but not at its tuned "
        "thresholds or on AP wins by its operating point; one that wins on all three ranks better.", "",
        "Difference: the first variant minus the second, mean over seeds, in points. p: two-sided, of the test "
        "named; variants that continue the same warm-up state of each seed are paired by seed (paired t-test), "
        "the others share nothing but the seed number (Welch's t-test).", "",
        power_note(results)]
    if missing:
        parts += ["", f"Not tested (a variant not run): {', '.join(missing)}."]
    return "\n".join(parts)


def mechanism_table(results: dict) -> str:
    entries = results["mechanism"]
    if not entries:
        return "No mechanism question tested: neither regime ran LH-Mix with a control."
    rows = [[e["regime"], f"{e['better']} vs {e['worse']}", ALL_METRIC_NAMES[e["metric"]], number(e["diff"], sign=True),
             interval(e), bootstrap_cell(e), p_value(e, "p_tost"), p_value(e, "p_tost_holm"), p_value(e),
             p_value(e, "p_holm"), e["n"], mdd_cell(e), verdict_cell(e)] for e in entries]
    margin = results["config"]["equivalence_margin"]
    return "\n".join([
        table(["regime", "comparison", "metric", "difference (points)", "95 % CI (t, seeds)",
               "95 % CI (bootstrap, seeds x docs)", f"p TOST (+-{margin:g})", "p TOST (Holm)", "p difference",
               "p difference (Holm)", "n", f"MDD ({POWER:.0%} power)", "verdict"], rows), "",
        f"TOST: two one-sided paired t-tests of difference <= -{margin:g} and >= +{margin:g}; its p is the larger. "
        f"Equivalent within +-{margin:g} means the data rule out a difference that large; *{TOO_WEAK}* means they "
        "rule out neither a difference of the margin nor none. Regime 1 is LH-Mix at the main α, β; regime 2 a "
        "point of the paper's grid where λ moves (its λ histogram: the diagnostics table)."])


def tuned_table(results: dict) -> str:
    """LH-Mix against the prompt at 0 and at the thresholds tuned on dev, side by side."""
    pairs = [(c, next((t for t in results["claims"] if t["claim"] == c["claim"]
                       and t["metric"] == "tuned_" + c["metric"]), None))
             for c in results["claims"] if c["holm_family"] == "paper F1" and c["claim"] == "lhmix_vs_prompt"]
    rows = [[METRIC_NAMES[fixed["metric"]], *(cell for entry in (fixed, tuned) for cell in
            ([number(entry["diff"], sign=True), bootstrap_cell(entry), p_value(entry, "p_holm"), verdict_cell(entry)]
             if entry else ["not run"] * 4))] for fixed, tuned in pairs]
    if not rows:
        return "LH-Mix or the prompt was not run: no threshold comparison."
    return "\n".join([
        table(["metric", "at 0: difference", "bootstrap CI", "p (Holm)", "verdict", "tuned on dev: difference",
               "bootstrap CI", "p (Holm)", "verdict"], rows), "",
        "prompt_lhmix minus prompt, points. Tuned: one threshold per depth per run, the one of highest dev micro-F1 "
        "of that depth (the nearest 0 among ties), test decided at score > it; the thresholds and the tuned test "
        "F1 of every run are in results.json (`thresholds`, `tuned_micro_f1`, `tuned_macro_f1`)."])


def depth_differences(results: dict) -> str:
    entries = results["per_depth_differences"]
    if not entries:
        return "No per-depth comparison: its variants were not run."
    rows = [[f"{e['better']} - {e['worse']}", str(e["depth"]), number(e["diff"], sign=True), interval(e),
             bootstrap_cell(e), p_value(e), e["n"]] for e in entries]
    return "\n".join([
        table(["comparison", "depth", "micro-F1 difference (points)", "95 % CI (t, seeds)",
               "95 % CI (bootstrap, seeds x docs)", "p (uncorrected)", "n"], rows), "",
        "Micro-F1 over the labels of one depth, decisions at 0. Descriptive: where in the tree a difference lies, "
        "outside the Holm families, so a p here is not a verdict."])


def power_factor(seeds: int, alpha: float) -> float:
    """MDD of a paired test over `seeds` seeds in units of the SD of the per-seed differences."""
    unit = Comparison("paired t", f"{seeds} pairs", 0.0, sd=1.0, seeds=(seeds, seeds))
    return minimal_detectable_difference(unit, alpha)


def power_note(results: dict) -> str:
    seeds = len(results["config"]["seeds"])
    if seeds < 2:
        return "With one seed there is no test: every verdict is inconclusive."
    tests = sorted({e["holm_tests"] for e in results["claims"] + results["mechanism"] if e["holm_tests"]})
    at_holm = "; ".join(f"{power_factor(seeds, holm_alpha(m)):.2f} SD at α = 0.05 / {m}" for m in tests)
    return (f"**Power.** A paired t-test over n = {seeds} seeds detects a true difference with {POWER:.0%} "
            f"probability (two-sided) when it is at least {power_factor(seeds, SIGNIFICANCE):.2f} SD of the per-seed "
            f"differences at α = {SIGNIFICANCE}" + (f" ({at_holm}, Holm's first step in each family)" if at_holm else "")
            + ": the effect size solving power = 0.8 under the noncentral t distribution with n - 1 df "
            "(statsmodels' TTestPower). Each row's MDD is that factor times its observed SD; a true difference "
            "below its MDD is likely to come out inconclusive, which then says the seeds cannot tell, not that "
            "the variants are equal. Welch's rows use two independent groups (TTestIndPower, pooled SD).")


def depth_table(results: dict) -> str:
    rows = []
    for variant, depths in results["per_depth"].items():
        for depth, d in depths.items():
            rows.append([variant, depth, number(d["micro_f1"]), number(d["precision"]), number(d["recall"]),
                         number(d["macro_f1"]), number(d["micro_ap"]), number(d["macro_ap"])])
    return "\n".join([
        table(["variant", "depth", "micro-F1", "precision", "recall", "macro-F1", "micro-AP", "macro-AP"], rows), "",
        "Test set, in %, means over seeds, restricted to the labels of each depth. Precision and recall are those "
        "of the micro-F1 beside them (decisions at the 0 threshold); AP ranks the scores without a threshold. "
        "Where F1 falls and AP holds, the threshold moved (recall up, precision down), not the ranking."])


def ap_table(results: dict) -> str:
    summary = results["summary"]
    rows = [[variant, str(s["micro_ap"]["n"]), mean_std(s["micro_ap"]), mean_std(s["macro_ap"]),
             mean_std(s["micro_f1"]), mean_std(s["macro_f1"])] for variant, s in summary.items()]
    return "\n".join([
        table(["variant", "seeds", "micro-AP", "macro-AP", "micro-F1", "macro-F1"], rows), "",
        "Average precision of the test scores (scikit-learn's average_precision_score): micro over every "
        "(document, label) pair, macro the mean over labels with at least one gold test document of each label's "
        "AP over the documents; in %, mean +- std over seeds. The verdict table tests the claims on both (the AP "
        "family of Holm's correction)."])
