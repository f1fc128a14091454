"""The mechanism questions: does the local hierarchy guide LH-Mix's mixing (LH-Mix against its shuffled control:
the same lambdas given to other pairs), and does LH-Mix differ from one fixed ratio (against fixed lambda), in each
regime run (lhmix.reporting.variants.REGIMES), on micro- and macro-F1; their computation, table and note.

Questions hoped to show no difference, so equivalence tests: TOST with the margin params stats.equivalence_margin
(F1 points, fixed before the runs), Holm over the family's TOST p and, separately, over its p of no difference;
verdicts "equivalent within +-m", "different (sign)", "too weak to tell" (lhmix.reporting.stats).

Asked twice, as two families: of the models selection keeps (the best dev epoch over all epochs, the published
code's rule, which keeps the shared warm-up's model where no continuation beats it), and of the models the
continuations trained (the best dev epoch after the warm-up: what the mixing itself made of each run).
"""
from __future__ import annotations

from lhmix.reporting.comparisons import CONTINUATION_F1S, F1S, holm_alpha, mostly_one_model, same_model_seeds
from lhmix.reporting.markdown import (ALL_METRIC_NAMES, bootstrap_cell, interval, mdd_cell, number, p_value, table,
                                     verdict_cell)
from lhmix.reporting.stats import (POWER, TOO_WEAK, equivalence_verdict, holm, minimal_detectable_difference,
                                   no_verdict_reason, paired, tost, usable)
from lhmix.reporting.variants import FIXED, LHMIX, REGIMES, SHUFFLED, in_regime

MECHANISM = "mechanism"
MECHANISM_CONTINUATIONS = "mechanism, continuations"
SELECTION = {MECHANISM: "best dev epoch", MECHANISM_CONTINUATIONS: "best dev epoch after the warm-up"}
# regime-1 names; each regime compares its own variants (lhmix.reporting.variants.in_regime)
MECHANISM_QUESTIONS = (("lhmix_vs_shuffled", LHMIX, SHUFFLED),
                       ("lhmix_vs_fixed", LHMIX, FIXED))
QUESTION = {
    "lhmix_vs_shuffled": "does the local hierarchy guide the mixing? (LH-Mix against the same lambdas given to "
                         "other pairs)",
    "lhmix_vs_fixed": "does LH-Mix differ from one fixed mixing ratio (train.fixed_lambda)?"}


def mechanism(rows: list[dict], margin: float, continuations: bool = False) -> list[dict]:
    """One entry per mechanism question, regime and F1 whose variants were run: the paired t-test of no
    difference and the TOST p of equivalence within +-margin, each Holm-adjusted over the family, the MDD at
    Holm's first step, and the equivalence verdict. With `continuations`, the family of the same questions on the
    F1 of each run's best dev epoch after the warm-up."""
    family, metrics = (MECHANISM_CONTINUATIONS, CONTINUATION_F1S) if continuations else (MECHANISM, F1S)
    present = {r["variant"] for r in rows}
    tested = []
    for regime in REGIMES:
        for name, better, worse in MECHANISM_QUESTIONS:
            a, b = in_regime(better, regime), in_regime(worse, regime)
            if {a, b} <= present:
                for metric in metrics:
                    values = [{r["seed"]: r[metric] for r in rows if r["variant"] == v} for v in (a, b)]
                    comparison = paired(*values)
                    tested.append((comparison, tost(*values, margin),
                                   {"claim": name, "regime": regime, "better": a, "worse": b, "metric": metric,
                                    "holm_family": family, "margin": margin, **comparison.to_dict(),
                                    "same_model_seeds": same_model_seeds(rows, a, b, metric)}))
    count = sum(usable(c.p) for c, _, _ in tested)
    p_holm = holm([c.p for c, _, _ in tested])
    p_tost_holm = holm([p for _, p, _ in tested])
    return [{**entry, "p_holm": p_difference, "p_tost": p_tost, "p_tost_holm": p_equivalent, "holm_tests": count,
             "mdd": minimal_detectable_difference(comparison, holm_alpha(count)), "mdd_alpha": holm_alpha(count),
             **_verdict(comparison, entry["same_model_seeds"], p_equivalent, p_difference, margin)}
            for (comparison, p_tost, entry), p_difference, p_equivalent in zip(tested, p_holm, p_tost_holm)]


def _verdict(comparison, same_model_seeds: list[int], p_equivalent, p_difference, margin: float) -> dict:
    """The equivalence verdict, unless on most seeds the two runs are one model (both scored their shared
    warm-up's): then the mixing was never exercised there, the zeros say nothing about the mechanism, and the
    question is too weak to tell whatever TOST says."""
    pairs = comparison.seeds[0] if comparison.seeds else 0
    if mostly_one_model(same_model_seeds, pairs):
        return {"verdict": TOO_WEAK, "verdict_unadjusted": equivalence_verdict(comparison, p_equivalent,
                                                                              p_difference, margin),
                "reason": "on most seeds neither run beat the warm-up on dev, so the mixing was not exercised there"}
    return {"verdict": equivalence_verdict(comparison, p_equivalent, p_difference, margin),
            "reason": no_verdict_reason(comparison, p_difference)}


def mechanism_table(results: dict) -> str:
    entries = results["mechanism"]
    if not entries:
        return "No mechanism question tested: neither regime ran LH-Mix with a control."
    rows = [[e["regime"], SELECTION[e["holm_family"]], f"{e['better']} vs {e['worse']}", ALL_METRIC_NAMES[e["metric"]],
             number(e["diff"], sign=True),
             interval(e), bootstrap_cell(e), p_value(e, "p_tost"), p_value(e, "p_tost_holm"), p_value(e),
             p_value(e, "p_holm"), e["n"], mdd_cell(e), verdict_cell(e)] for e in entries]
    margin = results["config"]["equivalence_margin"]
    return "\n".join([
        table(["regime", "scored at", "comparison", "metric", "difference (points)", "95 % CI (t, seeds)",
               "95 % CI (bootstrap, seeds x docs)", f"p TOST (+-{margin:g})", "p TOST (Holm)", "p difference",
               "p difference (Holm)", "n", f"MDD ({POWER:.0%} power)", "verdict"], rows), "",
        f"TOST: two one-sided paired t-tests of difference <= -{margin:g} and >= +{margin:g}; its p is the larger. "
        f"Equivalent within +-{margin:g} means the data rule out a difference that large; *{TOO_WEAK}* means they "
        "rule out neither a difference of the margin nor none. Regime main is LH-Mix at the main α, β; spread a "
        "point of the paper's grid where λ spreads over the training pairs (the λ each variant used: the diagnostics "
        "table). Scored at the best dev epoch: the model selection keeps (family *mechanism*); after the warm-up: "
        f"the model each run's own epochs after the warm-up trained (family *{MECHANISM_CONTINUATIONS}*, corrected on "
        "its own; t intervals only, the continuation's test decisions are not stored)."])


