"""Which variants the report compares, and with which test: the paper's claims and the controls of LH-Mix
(the verdict table) and Table 5 (prompt_lhmix against every other variant).

Each claim is tested on the paper's two metrics, micro- and macro-F1 (decisions at the 0 threshold), and on
the threshold-free micro and macro average precision of the scores (how well they rank labels, whatever the
threshold). Holm's correction runs over two families: the F1 tests of all claims (the paper's claims are made
on F1), and the AP tests of all claims.

Two variants of one family (bert*, prompt*) continue the same warm-up state of each seed, so their runs
are paired by seed; variants of two families share nothing but the seed number: Welch.
"""
from __future__ import annotations

from lhmix.reporting.stats import Comparison, holm, no_verdict_reason, paired, usable, verdict, welch
from lhmix.reporting.variants import family

F1S = ("micro_f1", "macro_f1")
APS = ("micro_ap", "macro_ap")
HOLM_FAMILIES = {"F1": F1S, "AP": APS}   # metric group -> its metrics
REFERENCE = "prompt_lhmix"
# (key in metrics.json, the variant claimed better, the variant claimed worse); the paper's claims, then
# the controls: does the local hierarchy guide anything (shuffled similarity), and does LH-Mix beat one
# fixed mixing ratio (fixed lambda)
CLAIMS = (("prompt_vs_bert", "prompt", "bert"),
          ("mixup_vs_prompt", "prompt_mixup", "prompt"),
          ("lhmix_vs_mixup", "prompt_lhmix", "prompt_mixup"),
          ("lhmix_vs_prompt", "prompt_lhmix", "prompt"),
          ("lhmix_vs_shuffled", "prompt_lhmix", "prompt_lhmix_shuffled"),
          ("lhmix_vs_fixed", "prompt_lhmix", "prompt_fixed_lambda"))


def compare(rows: list[dict], a: str, b: str, metric: str) -> Comparison:
    """a minus b on `metric` over the main runs' seeds."""
    values = {variant: {r["seed"]: r[metric] for r in rows if r["variant"] == variant} for variant in (a, b)}
    if family(a) == family(b):
        return paired(values[a], values[b])
    return welch(list(values[a].values()), list(values[b].values()))


def claims(rows: list[dict]) -> list[dict]:
    """One entry per claim and metric whose two variants were run (params.yaml `families`): the test, its raw
    and Holm-adjusted p (`p_holm`, over the claim's metric family `holm_family`), and the verdict on p_holm."""
    present = {r["variant"] for r in rows}
    entries = []
    for group, metrics in HOLM_FAMILIES.items():
        tested = []
        for name, better, worse in CLAIMS:
            if {better, worse} <= present:
                for metric in metrics:
                    comparison = compare(rows, better, worse, metric)
                    tested.append((comparison, {"claim": name, "better": better, "worse": worse, "metric": metric,
                                                "holm_family": group, **comparison.to_dict()}))
        for (comparison, entry), p_holm in zip(tested, holm([c.p for c, _ in tested])):
            entries.append({**entry, "p_holm": p_holm, "holm_tests": sum(usable(c.p) for c, _ in tested),
                            "verdict": verdict(comparison, p_holm), "verdict_unadjusted": verdict(comparison),
                            "reason": no_verdict_reason(comparison, p_holm)})
    return entries


def table5(rows: list[dict], variants: list[str]) -> dict:
    """{variant: {metric: comparison}}: REFERENCE minus each other variant."""
    return {variant: {metric: compare(rows, REFERENCE, variant, metric).to_dict() for metric in F1S}
            for variant in variants if variant != REFERENCE}
