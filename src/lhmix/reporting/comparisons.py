"""Which variants the report compares, in which family of tests, and with which test: the paper's claims,
the mechanism questions (the controls of LH-Mix, per regime), LH-Mix against the prompt at thresholds tuned on
dev, per-depth micro-F1, and Table 5 (prompt_lhmix against every other variant).

The families, fixed before any result (FAMILIES; the report states them above the verdict table):
- "paper F1": the paper's claims (Tables 3 and 4) on micro- and macro-F1 at the 0 threshold, Holm over them;
  verdicts supported (+), contradicted (-), inconclusive.
- "paper AP": the same claims on micro- and macro-AP, the threshold-free evidence, Holm over them on their own.
- "tuned thresholds": LH-Mix > prompt on F1 at one threshold per depth tuned on dev, Holm over its two tests.
- "mechanism": does the local hierarchy guide the mixing (LH-Mix against its shuffled control) and does LH-Mix
  beat one fixed ratio (against fixed lambda), in each regime run, on micro- and macro-F1: questions hoped to
  show no difference, so equivalence tests (TOST) with the margin params stats.equivalence_margin; Holm over the
  family's TOST p and, separately, over its p of no difference; verdicts equivalent within +-m, different
  (sign), too weak to tell.
The power of every test is its minimal detectable difference at Holm's first step, alpha 0.05 / m with m the
tests of its family: the conservative figure (a test later in Holm's order is held to less).

Two variants of one pairing group (lhmix.reporting.variants.family) continue the same warm-up state of each
seed, so their runs are paired by seed; variants of two groups share nothing but the seed number: Welch.
"""
from __future__ import annotations

from lhmix.reporting.stats import (SIGNIFICANCE, Comparison, equivalence_verdict, holm, minimal_detectable_difference,
                                   no_verdict_reason, paired, tost, usable, verdict, welch)
from lhmix.reporting.variants import FIXED, HPT, LHMIX, REGIMES, SHUFFLED, family, in_regime

F1S = ("micro_f1", "macro_f1")
APS = ("micro_ap", "macro_ap")
TUNED_F1S = ("tuned_micro_f1", "tuned_macro_f1")   # F1 at the thresholds tuned on dev (rows' keys)
REFERENCE = LHMIX
# (name, the variant claimed better, the variant claimed worse)
PAPER_CLAIMS = (("prompt_vs_bert", "prompt", "bert"),
                ("mixup_vs_prompt", "prompt_mixup", "prompt"),
                ("lhmix_vs_mixup", LHMIX, "prompt_mixup"),
                ("lhmix_vs_prompt", LHMIX, "prompt"),
                ("lhmix_vs_hpt", LHMIX, HPT))
TUNED_CLAIMS = (("lhmix_vs_prompt", LHMIX, "prompt"),)
# regime-1 names; each regime compares its own variants (lhmix.reporting.variants.in_regime)
MECHANISM_QUESTIONS = (("lhmix_vs_shuffled", LHMIX, SHUFFLED),
                       ("lhmix_vs_fixed", LHMIX, FIXED))
DEPTH_COMPARISONS = (("lhmix_vs_prompt", LHMIX, "prompt"),)
FAMILIES = {"paper F1": (PAPER_CLAIMS, F1S), "paper AP": (PAPER_CLAIMS, APS),
            "tuned thresholds": (TUNED_CLAIMS, TUNED_F1S)}
MECHANISM = "mechanism"


def compare(rows: list[dict], a: str, b: str, metric: str) -> Comparison:
    """a minus b on `metric` over the rows' seeds."""
    values = {variant: {r["seed"]: r[metric] for r in rows if r["variant"] == variant} for variant in (a, b)}
    if family(a) == family(b):
        return paired(values[a], values[b])
    return welch(list(values[a].values()), list(values[b].values()))


def holm_alpha(tests: int) -> float:
    """The alpha of Holm's first step over `tests` tests: the one the MDD of a family is stated at."""
    return SIGNIFICANCE / max(tests, 1)


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
                                                "holm_family": group, **comparison.to_dict()}))
        count = sum(usable(c.p) for c, _ in tested)
        for (comparison, entry), p_holm in zip(tested, holm([c.p for c, _ in tested])):
            entries.append({**entry, "p_holm": p_holm, "holm_tests": count,
                            "mdd": minimal_detectable_difference(comparison, holm_alpha(count)),
                            "mdd_alpha": holm_alpha(count),
                            "verdict": verdict(comparison, p_holm), "verdict_unadjusted": verdict(comparison),
                            "reason": no_verdict_reason(comparison, p_holm)})
    return entries


def mechanism(rows: list[dict], margin: float) -> list[dict]:
    """One entry per mechanism question, regime and F1 whose variants were run: the paired t-test of no
    difference and the TOST p of equivalence within +-margin, each Holm-adjusted over the family, the MDD at
    Holm's first step, and the equivalence verdict."""
    present = {r["variant"] for r in rows}
    tested = []
    for regime in REGIMES:
        for name, better, worse in MECHANISM_QUESTIONS:
            a, b = in_regime(better, regime), in_regime(worse, regime)
            if {a, b} <= present:
                for metric in F1S:
                    values = [{r["seed"]: r[metric] for r in rows if r["variant"] == v} for v in (a, b)]
                    comparison = paired(*values)
                    tested.append((comparison, tost(*values, margin),
                                   {"claim": name, "regime": regime, "better": a, "worse": b, "metric": metric,
                                    "holm_family": MECHANISM, "margin": margin, **comparison.to_dict()}))
    count = sum(usable(c.p) for c, _, _ in tested)
    p_holm = holm([c.p for c, _, _ in tested])
    p_tost_holm = holm([p for _, p, _ in tested])
    return [{**entry, "p_holm": p_difference, "p_tost": p_tost, "p_tost_holm": p_equivalent, "holm_tests": count,
             "mdd": minimal_detectable_difference(comparison, holm_alpha(count)), "mdd_alpha": holm_alpha(count),
             "verdict": equivalence_verdict(comparison, p_equivalent, p_difference, margin),
             "reason": no_verdict_reason(comparison, p_difference)}
            for (comparison, p_tost, entry), p_difference, p_equivalent in zip(tested, p_holm, p_tost_holm)]


def per_depth_differences(rows: list[dict]) -> list[dict]:
    """Micro-F1 per depth of DEPTH_COMPARISONS (each regime's LH-Mix and its controls too): the difference over
    seeds with its t interval; descriptive, outside the Holm families."""
    present = {r["variant"] for r in rows}
    pairs = list(DEPTH_COMPARISONS) + [(name, in_regime(better, regime), in_regime(worse, regime))
                                       for regime in REGIMES for name, better, worse in MECHANISM_QUESTIONS]
    entries = []
    for name, better, worse in pairs:
        if not {better, worse} <= present:
            continue
        depths = next(r["per_depth"] for r in rows if r["variant"] == better)
        for depth in depths:
            flat = [{"variant": r["variant"], "seed": r["seed"], "micro_f1": r["per_depth"][depth]["micro_f1"]}
                    for r in rows if r["variant"] in (better, worse)]
            entries.append({"claim": name, "better": better, "worse": worse, "depth": depth,
                            **compare(flat, better, worse, "micro_f1").to_dict()})
    return entries


def table5(rows: list[dict], variants: list[str]) -> dict:
    """{variant: {metric: comparison}}: REFERENCE minus each other variant."""
    return {variant: {metric: compare(rows, REFERENCE, variant, metric).to_dict() for metric in F1S}
            for variant in variants if variant != REFERENCE}
