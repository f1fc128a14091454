"""Per depth: where in the tree a variant gains or loses, and whether at the threshold or in the ranking. Two
tables with their computation and notes: each variant's precision, recall, F1 and AP per depth (means over
seeds), and the micro-F1 differences per depth of LH-Mix against the prompt and against its controls, with the t
interval over seeds and the two-level bootstrap interval (descriptive: outside the Holm families)."""
from __future__ import annotations

import numpy as np

from lhmix.reporting.comparisons import APS, compare
from lhmix.reporting.markdown import bootstrap_cell, interval, number, p_value, table
from lhmix.reporting.mechanism import MECHANISM_QUESTIONS
from lhmix.reporting.variants import LHMIX, REGIMES, by_variant, in_regime

DEPTH_COMPARISONS = (("lhmix_vs_prompt", LHMIX, "prompt"),)   # and each regime's mechanism questions


def per_depth(rows: list[dict]) -> dict:
    """{variant: {depth: {micro_f1, precision, recall, macro_f1, micro_ap, macro_ap}}}, means over seeds."""
    means = {}
    for variant, runs in by_variant(rows).items():
        means[variant] = {depth: {**{name: float(np.mean([r["per_depth"][depth][name] for r in runs]))
                                     for name in ("micro_f1", "precision", "recall", "macro_f1")},
                                  **{name: float(np.mean([r["per_depth_ap"][depth][name] for r in runs]))
                                     for name in APS}}
                          for depth in runs[0]["per_depth"]}
    return means


def per_depth_differences(rows: list[dict]) -> list[dict]:
    """Micro-F1 per depth of DEPTH_COMPARISONS and each regime's mechanism questions whose variants were run: the
    difference over seeds with its t interval."""
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
