"""The verdict table: the families of tests stated before any result, then the paper's claims with their tests,
intervals, MDD and verdicts, on F1 (the paper's metrics) and, apart, on AP (the threshold-free evidence), and LH-Mix
against the prompt at thresholds tuned on dev beside the same claim at 0; its computation, tables and notes. The
mechanism questions have their own table (lhmix.reporting.mechanism), per depth too (lhmix.reporting.per_depth).

The families, fixed before any result (FAMILIES and lhmix.reporting.mechanism):
- "paper F1": the paper's claims (Tables 3 and 4, LH-Mix > HPT the Table 4 one) on micro- and macro-F1 at the 0
  threshold, Holm over them; verdicts supported (+), contradicted (-), inconclusive;
- "paper AP": the same claims on micro- and macro-AP, Holm over them on their own;
- "tuned thresholds": LH-Mix > prompt on F1 at one threshold per depth tuned on dev, Holm over its two tests;
- "continuations": the prompt family's claims (and LH-Mix of the spread regime > prompt) on the F1 of each run's best
  dev epoch after the warm-up, the model its own epochs trained, where selection over all epochs may keep the shared
  warm-up's; Holm over them on their own;
- "mechanism" and "mechanism, continuations": the controls of LH-Mix per regime, equivalence tests, on either model
  (lhmix.reporting.mechanism).
The power of every test is its minimal detectable difference at Holm's first step, alpha 0.05 / m with m the
tests of its family: the conservative figure (a test later in Holm's order is held to less).
"""
from __future__ import annotations

from lhmix.reporting.comparisons import (APS, CONTINUATION_F1S, F1S, TUNED_F1S, compare, holm_alpha,
                                        same_model_seeds)
from lhmix.reporting.markdown import (ALL_METRIC_NAMES, METRIC_NAMES, bootstrap_cell, interval, mdd_cell, mean_std,
                                     number, p_value, t_df, table, verdict_cell)
from lhmix.reporting.mechanism import MECHANISM, MECHANISM_CONTINUATIONS, MECHANISM_QUESTIONS, QUESTION
from lhmix.reporting.stats import (POWER, SIGNIFICANCE, TOO_WEAK, Comparison, holm, minimal_detectable_difference,
                                   no_verdict_reason, usable, verdict)
from lhmix.reporting.variants import HPT, LHMIX, REGIMES, SPREAD, in_regime

# (name, the variant claimed better, the variant claimed worse)
PAPER_CLAIMS = (("prompt_vs_bert", "prompt", "bert"),
                ("mixup_vs_prompt", "prompt_mixup", "prompt"),
                ("lhmix_vs_mixup", LHMIX, "prompt_mixup"),
                ("lhmix_vs_prompt", LHMIX, "prompt"),
                ("lhmix_vs_hpt", LHMIX, HPT))
TUNED_CLAIMS = (("lhmix_vs_prompt", LHMIX, "prompt"),)
CONTINUATION_CLAIMS = (*PAPER_CLAIMS[1:4], ("lhmix_spread_vs_prompt", in_regime(LHMIX, SPREAD), "prompt"))
FAMILIES = {"paper F1": (PAPER_CLAIMS, F1S), "paper AP": (PAPER_CLAIMS, APS),
            "tuned thresholds": (TUNED_CLAIMS, TUNED_F1S), "continuations": (CONTINUATION_CLAIMS, CONTINUATION_F1S)}
CLAIM_QUESTION = {
    "prompt_vs_bert": "the hierarchical prompt beats a [CLS] classifier (paper Table 3)",
    "mixup_vs_prompt": "Mixup helps the prompt (Table 3)",
    "lhmix_vs_mixup": "similarity-guided mixing beats Beta(a, a) mixing (Table 3)",
    "lhmix_vs_prompt": "LH-Mix helps the prompt (Tables 3, 4)",
    "lhmix_vs_hpt": "LH-Mix beats HPT, the prompt with HPT's graph injection (Table 4)",
    "lhmix_spread_vs_prompt": "LH-Mix where lambda spreads (the spread regime) helps the prompt"}
FAMILY_TEXT = {
    "paper F1": "the paper's claims on micro- and macro-F1 at the 0 threshold, where the paper makes them",
    "paper AP": "the same claims on micro- and macro-AP, the threshold-free evidence, read on their own",
    "tuned thresholds": "LH-Mix > prompt on F1 at one threshold per depth tuned on dev (dev micro-F1 of the "
                        "depth maximised; test read only after), beside the same claim at 0",
    "continuations": "the prompt family's claims, and LH-Mix of the spread regime > prompt, on F1 of the model of "
                     "each run's best dev epoch after the warm-up (the one its own epochs trained; selection over all "
                     "epochs keeps the shared warm-up's model where no continuation beats it), paired by seed; "
                     "t intervals only"}


def _present(rows: list[dict], metric: str) -> set[str]:
    return {r["variant"] for r in rows if metric in r}


def claims(rows: list[dict]) -> list[dict]:
    """One entry per claim of FAMILIES and metric whose two variants were run: the test, its raw and Holm-adjusted
    p (`p_holm`, over the claim's family `holm_family`), the MDD at Holm's first step, and the verdict on p_holm."""
    entries = []
    for group, (family_claims, metrics) in FAMILIES.items():
        tested = []
        for name, better, worse in family_claims:
            for metric in metrics:
                if {better, worse} <= _present(rows, metric):
                    comparison = compare(rows, better, worse, metric)
                    tested.append((comparison, {"claim": name, "better": better, "worse": worse, "metric": metric,
                                                "holm_family": group, **comparison.to_dict(),
                                                "same_model_seeds": same_model_seeds(rows, better, worse,
                                                                                     metric)}))
        count = sum(usable(c.p) for c, _ in tested)
        for (comparison, entry), p_holm in zip(tested, holm([c.p for c, _ in tested])):
            entries.append({**entry, "p_holm": p_holm, "holm_tests": count,
                            "mdd": minimal_detectable_difference(comparison, holm_alpha(count)),
                            "mdd_alpha": holm_alpha(count),
                            "verdict": verdict(comparison, p_holm), "verdict_unadjusted": verdict(comparison),
                            "reason": no_verdict_reason(comparison, p_holm)})
    return entries


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
    lines.append(f"- *{MECHANISM}* ({counts.get(MECHANISM, 0)} tests with a p) and *{MECHANISM_CONTINUATIONS}* "
                 f"({counts.get(MECHANISM_CONTINUATIONS, 0)}): "
                 + "; ".join(QUESTION[name] for name, _, _ in MECHANISM_QUESTIONS)
                 + f", in each regime run ({', '.join(REGIMES)}), on micro- and macro-F1, of the model selection "
                 "keeps and, the second family, of the model of each run's best dev epoch after the warm-up. "
                 "Questions hoped to show no "
                 f"difference are equivalence tests: TOST with the margin +-{margin:g} F1 points "
                 "(stats.equivalence_margin, fixed before the runs), Holm over the family's TOST p and, separately, "
                 f"over its p of no difference. Verdicts: *equivalent within +-{margin:g}* (TOST), *different (sign)* "
                 f"(paired t-test of no difference), *{TOO_WEAK}* (neither): a difference that is not significant is "
                 "never read as no difference.")
    lines.append(f"- Every test shows its **MDD**: the true difference it detects with {POWER:.0%} probability, "
                 "two-sided, at Holm's first-step alpha (0.05 / the family's tests, the conservative figure), from the "
                 "observed spread (noncentral t; see the power note).")
    lines.append("- **Bootstrap**: each difference on F1 of the selected models also has a 95 % interval from "
                 "resampling the seeds and the test documents together (two levels, the same resamples for every "
                 "run), the basic interval 2 x difference - the 97.5 / 2.5 % quantiles, which corrects the bias of "
                 "macro-F1 on resampled documents that a percentile interval carries. The continuations' tests have "
                 "the t interval over seeds only: their test decisions are not stored.")
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
            f"differences at α = {SIGNIFICANCE}"
            + (f" ({at_holm}, Holm's first step in each family)" if at_holm else "")
            + ": the effect size solving power = 0.8 under the noncentral t distribution with n - 1 df "
            "(lhmix.reporting.stats.t_power). Each row's MDD is that factor times its observed SD; a true difference "
            "below its MDD is likely to come out inconclusive, which then says the seeds cannot tell, not that "
            "the variants are equal. Welch's rows use two independent groups (pooled SD).")


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
