"""Which variants the report compares, and with which test: the paper's claims (the verdict table) and
Table 5 (prompt_lhmix against every other variant).

Two variants of one family (bert*, prompt*) continue the same warm-up state of each seed, so their runs
are paired by seed; variants of two families share nothing but the seed number: Welch.
"""
from __future__ import annotations

from lhmix.reporting.stats import Comparison, paired, verdict, welch
from lhmix.reporting.variants import family

F1S = ("micro_f1", "macro_f1")
REFERENCE = "prompt_lhmix"
# (key in metrics.json, the variant claimed better, the variant claimed worse)
CLAIMS = (("prompt_vs_bert", "prompt", "bert"),
          ("mixup_vs_prompt", "prompt_mixup", "prompt"),
          ("lhmix_vs_mixup", "prompt_lhmix", "prompt_mixup"),
          ("lhmix_vs_prompt", "prompt_lhmix", "prompt"))


def compare(rows: list[dict], a: str, b: str, metric: str) -> Comparison:
    """a minus b on `metric` over the main runs' seeds."""
    values = {variant: {r["seed"]: r[metric] for r in rows if r["variant"] == variant} for variant in (a, b)}
    if family(a) == family(b):
        return paired(values[a], values[b])
    return welch(list(values[a].values()), list(values[b].values()))


def claims(rows: list[dict]) -> list[dict]:
    """One entry per claim and F1 whose two variants were run (params.yaml `families`)."""
    present = {r["variant"] for r in rows}
    entries = []
    for name, better, worse in CLAIMS:
        if {better, worse} <= present:
            for metric in F1S:
                comparison = compare(rows, better, worse, metric)
                entries.append({"claim": name, "better": better, "worse": worse, "metric": metric,
                                **comparison.to_dict(), "verdict": verdict(comparison)})
    return entries


def table5(rows: list[dict], variants: list[str]) -> dict:
    """{variant: {metric: comparison}}: REFERENCE minus each other variant."""
    return {variant: {metric: compare(rows, REFERENCE, variant, metric).to_dict() for metric in F1S}
            for variant in variants if variant != REFERENCE}
