"""The verdict table (the paper's claims and the controls of LH-Mix, each on F1 and on average precision, Holm
over each metric family, a bootstrap interval over test documents for F1) and the two tables that say what a
gain is made of: per depth at the threshold, and the threshold-free average precision."""
from __future__ import annotations

import math

from lhmix.reporting.comparisons import CLAIMS
from lhmix.reporting.markdown import interval, mean_std, number, p_value, t_df, table
from lhmix.reporting.stats import SIGNIFICANCE, t_critical

METRIC_NAMES = {"micro_f1": "micro-F1", "macro_f1": "macro-F1"}
ALL_METRIC_NAMES = {**METRIC_NAMES, "micro_ap": "micro-AP", "macro_ap": "macro-AP"}
CLAIM_TEXT = {name: f"{better} > {worse}" for name, better, worse in CLAIMS}
CLAIM_QUESTION = {
    "prompt_vs_bert": "the hierarchical prompt beats a [CLS] classifier (paper Table 3)",
    "mixup_vs_prompt": "Mixup helps the prompt (Table 3)",
    "lhmix_vs_mixup": "similarity-guided mixing beats Beta(a, a) mixing (Table 3)",
    "lhmix_vs_prompt": "LH-Mix helps the prompt (Tables 3, 4)",
    "lhmix_vs_shuffled": "control: the local hierarchy guides the mixing (same lambdas, pairs' own similarity)",
    "lhmix_vs_fixed": "control: LH-Mix beats one fixed mixing ratio (train.fixed_lambda)"}


def bootstrap_cell(claim: dict) -> str:
    b = claim.get("bootstrap")
    return "-" if b is None else f"[{b['low']:+.2f}, {b['high']:+.2f}]"


def verdict_cell(claim: dict) -> str:
    text = f"**{claim['verdict']}**"
    if claim.get("reason"):
        text += f" ({claim['reason']})"
    elif claim["verdict"] != claim["verdict_unadjusted"]:
        text += f" ({claim['verdict_unadjusted']} before Holm)"
    return text


def verdicts(results: dict) -> str:
    claims = results["claims"]
    rows = [[CLAIM_TEXT[c["claim"]], ALL_METRIC_NAMES[c["metric"]], number(c["diff"], sign=True), interval(c),
             bootstrap_cell(c), t_df(c), p_value(c), p_value(c, "p_holm"), c["n"], c["test"], verdict_cell(c)]
            for c in claims]
    tested = {c["claim"] for c in claims}
    missing = [text for key, text in CLAIM_TEXT.items() if key not in tested]
    families = {c["holm_family"]: c["holm_tests"] for c in claims}
    resamples = next((c["bootstrap"]["resamples"] for c in claims if c.get("bootstrap")), None)
    parts = [
        table(["claim", "metric", "difference (points)", "95 % CI (t, seeds)", "95 % CI (bootstrap, test docs)",
               "t (df)", "p", "p (Holm)", "n", "test", "verdict (on Holm p)"], rows), "",
        "What each claim asks: " + "; ".join(f"*{CLAIM_TEXT[name]}*: {CLAIM_QUESTION[name]}"
                                             for name, _, _ in CLAIMS if name in tested) + ".", "",
        "**Which metric judges a claim.** The paper makes its claims on micro- and macro-F1 of decisions at the "
        "0 threshold, so F1 is the verdict on the paper. F1 at one threshold mixes two things: how well the "
        "scores rank the labels, and where the threshold cuts them (labels per document; Mixup moves it). Average "
        "precision (AP) of the scores ranks every (document, label) pair without a threshold (micro) or the "
        "documents of each label (macro, over the labels with a gold test document): a variant that wins on F1 "
        "but not on AP wins by its operating point, one that wins on AP ranks better. The controls are read the "
        "same way: *prompt_lhmix > prompt_lhmix_shuffled* is the test of the paper's mechanism (the similarity of "
        "a pair's local hierarchies sets its ratio); the shuffled run mixes the same partners at the same "
        "lambdas, only not each pair's own.", "",
        "Difference: the first variant minus the second, mean over seeds, in points. p: two-sided, of the test "
        "named; variants of one family continue the same warm-up state of each seed (paired t-test over seeds), "
        "prompt and bert share nothing but the seed number (Welch's t-test). **Holm**: step-down correction over "
        + " and ".join(f"the {count} {family} tests" for family, count in families.items())
        + " of this table, one family per metric group (F1: the paper's metrics; AP: the threshold-free evidence); "
        f"a verdict is *supported* (difference > 0) or *contradicted* (< 0) when its Holm p < {SIGNIFICANCE}, "
        "*inconclusive* otherwise or where there is no test (the reason in brackets)."
        + (f" **Bootstrap**: the seed-mean difference on {resamples:,} resamples of the test documents with "
           "replacement (fixed seed, every run scored on the same resamples), 2.5-97.5 % percentiles: the "
           "uncertainty of the test set itself, which the t interval over seeds leaves out." if resamples else ""),
        "", power_note(len(results["config"]["seeds"]))]
    if missing:
        parts += ["", f"Not tested (a family missing from params.yaml `families`): {', '.join(missing)}."]
    return "\n".join(parts)


def power_note(seeds: int) -> str:
    if seeds < 2:
        return "With one seed there is no test: every verdict is inconclusive."
    factor = t_critical(seeds)
    return (f"**These tests have little power.** With n = {seeds} seeds the 95 % interval of a paired mean "
            f"difference is mean +- t(0.975, {seeds - 1} df) x sd / sqrt({seeds}) = mean +- {factor:.2f} x sd / "
            f"sqrt({seeds}), i.e. +- {factor / math.sqrt(seeds):.2f} sd, where sd is the spread of the per-seed "
            "differences: a real difference smaller than that comes out inconclusive, and Holm's correction asks "
            "for a smaller p still. Welch's test (prompt against bert, two independent groups of "
            f"{seeds} runs) has between {seeds - 1} and {2 * seeds - 2} degrees of freedom (Welch-Satterthwaite) and "
            "the spread of both groups in its interval, so it is no sharper. Inconclusive means the seeds cannot "
            "tell, not that the variants are equal.")


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
