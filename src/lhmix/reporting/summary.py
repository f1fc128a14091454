"""The verdicts at a glance: one line per question the default answers on F1 (the paper's claims at the 0
threshold, LH-Mix against the prompt at tuned thresholds, the mechanism questions per regime), with the
difference, its bootstrap interval, the Holm p, the MDD and the verdict. It opens results/<dataset>/tables.md and
the report; the README quotes the default's (tests/test_readme_facts.py holds them equal)."""
from __future__ import annotations

from lhmix.reporting.markdown import (METRIC_NAMES, bootstrap_cell, interval, mdd_cell, number, p_value, table,
                                     verdict_cell)
from lhmix.reporting.comparisons import base_metric
from lhmix.reporting.mechanism import MECHANISM_CONTINUATIONS, QUESTION
from lhmix.reporting.verdicts import CLAIM_QUESTION

HEADING = "The verdicts at a glance"
F1_FAMILIES = ("paper F1", "tuned thresholds", "continuations")
LABEL = {"tuned thresholds": " (tuned thresholds)", "continuations": " (after the warm-up)",
         MECHANISM_CONTINUATIONS: ", after the warm-up"}


def _row(question: str, entry: dict, p_key: str) -> list[str]:
    metric = base_metric(entry["metric"])
    b = entry.get("bootstrap")
    return [question, METRIC_NAMES[metric], number(entry["diff"], sign=True),
            bootstrap_cell(entry) if b else interval(entry), p_value(entry, p_key), mdd_cell(entry),
            verdict_cell(entry)]


def summary(results: dict) -> str:
    rows = [_row(f"{c['better']} > {c['worse']}" + LABEL.get(c["holm_family"], ""), c, "p_holm")
            for c in results["claims"] if c["holm_family"] in F1_FAMILIES]
    rows += [_row(f"{e['better']} vs {e['worse']} ({e['regime']}{LABEL.get(e['holm_family'], '')})", e, "p_tost_holm")
             for e in results["mechanism"]]
    if not rows:
        return "No claim tested: the variants of the paper's claims were not run."
    margin = results["config"]["equivalence_margin"]
    asks = "; ".join(f"*{name.replace('_vs_', ' vs ')}*: {text}" for name, text in {**CLAIM_QUESTION, **QUESTION}.items())
    return "\n".join([
        table(["question", "metric", "difference (points)", "95 % CI", "p (Holm)", "MDD (80 % power)", "verdict"],
              rows), "",
        "Difference: the first variant minus the second, mean over seeds, F1 in points. CI: the two-level bootstrap "
        "(seeds x test documents, basic interval) where there is one, else the t interval over seeds. p: Holm-"
        f"adjusted within the family; for the mechanism rows the TOST p of equivalence within +-{margin:g}. MDD: the "
        "true difference the test detects with 80 % probability at its Holm first-step alpha, and the seeds its "
        "observed spread needs for the design's target. *Inconclusive* and *too weak to tell* say the design "
        "cannot tell, never that there is no difference. *One model*: on those seeds both variants continued one warm-up "
        "and neither beat it on dev, so both scored the warm-up's model and differ by 0 by construction (the "
        "epochs after the warm-up: below). *After the warm-up*: the same question asked of the model of each run's "
        "best dev epoch after the warm-up, the one its own epochs trained (t interval over seeds). What each "
        "question asks: " + asks + ". Every test, on "
        "AP too, with t, df and the unadjusted p: the sections below."])
