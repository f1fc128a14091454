"""What every test of the report shares: the metrics compared, which test pairs two variants, and the alpha of
Holm's first step, at which each family states its minimal detectable difference. The tests themselves live with
the artefact that shows them: the verdict table (lhmix.reporting.verdicts), the mechanism questions
(lhmix.reporting.mechanism), per depth (lhmix.reporting.per_depth), Table 5 (lhmix.reporting.table5).

Two variants of one pairing group (lhmix.reporting.variants.family) continue the same warm-up state of each
seed, so their runs are paired by seed; variants of two groups share nothing but the seed number: Welch.
"""
from __future__ import annotations

from lhmix.reporting.stats import SIGNIFICANCE, Comparison, paired, welch
from lhmix.reporting.variants import LHMIX, best_in_warmup, family

F1S = ("micro_f1", "macro_f1")
APS = ("micro_ap", "macro_ap")
TUNED_F1S = ("tuned_micro_f1", "tuned_macro_f1")   # F1 at the thresholds tuned on dev (rows' keys)
# F1 of the model of the best dev epoch after the warm-up, the continuation's own (rows' keys)
CONTINUATION_F1S = ("continuation_micro_f1", "continuation_macro_f1")
REFERENCE = LHMIX


def compare(rows: list[dict], a: str, b: str, metric: str) -> Comparison:
    """a minus b on `metric` over the rows' seeds."""
    values = {variant: {r["seed"]: r[metric] for r in rows if r["variant"] == variant} for variant in (a, b)}
    if family(a) == family(b):
        return paired(values[a], values[b])
    return welch(list(values[a].values()), list(values[b].values()))


def base_metric(metric: str) -> str:
    """The F1 or AP an entry's metric measures, whatever the selection or threshold: tuned_macro_f1 -> macro_f1."""
    for prefix in ("tuned_", "continuation_"):
        metric = metric.removeprefix(prefix)
    return metric


def same_model_seeds(rows: list[dict], a: str, b: str, metric: str = "micro_f1") -> list[int]:
    """The seeds on which a and b are one model on `metric`: both continue the same warm-up and neither beat it on
    dev, so both score the warm-up's model. Their difference there is 0 by construction, not by measurement. Never
    on a continuation's metric: that model is trained after the warm-up by each run itself."""
    if family(a) != family(b) or metric in CONTINUATION_F1S:
        return []
    stayed = {variant: {r["seed"] for r in rows if r["variant"] == variant and best_in_warmup(r)}
              for variant in (a, b)}
    return sorted(stayed[a] & stayed[b])


def mostly_one_model(same_model_seeds: list[int], pairs: int) -> bool:
    """On most of the `pairs` seeds the two runs were one model: their zeros say nothing about the mixing, so an
    equivalence found there is too weak to tell (the mechanism table, make ablation's published rows)."""
    return pairs > 0 and 2 * len(same_model_seeds) > pairs


def holm_alpha(tests: int) -> float:
    """The alpha of Holm's first step over `tests` tests: the one the MDD of a family is stated at."""
    return SIGNIFICANCE / max(tests, 1)
