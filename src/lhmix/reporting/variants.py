"""The variants in report order: the paper's ablation (Table 3, family x mixing), then the controls of
LH-Mix (lhmix.core.vocabulary), then the second mechanism regime and HPT; and which run rows scored a
warm-up checkpoint.

The report's vocabulary beyond the training vocabulary lives here, in one place:
- a mechanism regime is a point (alpha, beta) at which LH-Mix and its two controls are run on the main seeds
  (lhmix.core.vocabulary's regimes): main, the paper's alpha/beta, and spread, one where lambda spreads over the
  training pairs; the report names a regime's variants by the main names with the regime's suffix
  (prompt_lhmix_spread, ...), since the runs of both regimes are named alike in their folders;
- HPT is the hierarchical prompt with HPT's graph injection (prompt + GAT), the paper's Table 4 baseline: its runs
  on the main seeds, or else the Table 6 runs of prompt with graph gat.
- the papers' names of the variants, which the figures use (PAPER_NAMES): the ablation of LH-Mix's Table 3 (BERT,
  the prompt without HPT's graph, each with Mixup or LH-Mix), HPT, and this project's controls of LH-Mix.
A variant's pairing group says which runs share a warm-up state per seed (a paired test) and which share only
the seed number (Welch).
"""
from __future__ import annotations

from lhmix.core.vocabulary import VARIANTS, family_of

HPT = "hpt"
LHMIX, SHUFFLED, FIXED = "prompt_lhmix", "prompt_lhmix_shuffled", "prompt_fixed_lambda"
MAIN, SPREAD = "main", "spread"
REGIMES = {MAIN: "", SPREAD: "_spread"}  # regime -> suffix of its variants' names in the report
MECHANISM_VARIANTS = (LHMIX, SHUFFLED, FIXED)
VARIANT_ORDER = (VARIANTS + tuple(v + suffix for suffix in REGIMES.values() if suffix for v in MECHANISM_VARIANTS)
                 + (HPT,))
PAPER_NAMES = {"bert": "BERT", "bert_mixup": "BERT + Mixup", "bert_lhmix": "BERT + LH-Mix",
               "prompt": "Prompt (HPT w/o graph)", "prompt_mixup": "Prompt + Mixup", LHMIX: "LH-Mix (Prompt + LH-Mix)",
               SHUFFLED: "LH-Mix, shuffled s (control)", FIXED: "Prompt, fixed-λ mix (control)", HPT: "HPT"}
REGIME_NAMES = {SPREAD: "spread α, β"}


def in_regime(variant: str, regime: str) -> str:
    """prompt_lhmix in the spread regime -> prompt_lhmix_spread."""
    return variant + REGIMES[regime]


def paper_name(variant: str) -> str:
    """The name a reader of the papers knows a variant by: prompt_lhmix -> LH-Mix (Prompt + LH-Mix); a second
    regime's variant adds its regime (prompt_lhmix_spread -> LH-Mix (Prompt + LH-Mix), spread α, β); a name
    outside the vocabulary stays as it is."""
    for regime, suffix in REGIMES.items():
        if suffix and variant.endswith(suffix) and variant[:-len(suffix)] in PAPER_NAMES:
            return f"{PAPER_NAMES[variant[:-len(suffix)]]}, {REGIME_NAMES[regime]}"
    return PAPER_NAMES.get(variant, variant)


def family(variant: str) -> str:
    """The pairing group of a variant: its training family (bert, prompt) for the variants that continue the
    family's warm-up of each seed, the spread regime's included; HPT continues a warm-up of its own graph."""
    if variant == HPT:
        return HPT
    for suffix in REGIMES.values():
        if suffix and variant.endswith(suffix):
            variant = variant[:-len(suffix)]
    return family_of(variant)


def is_prompt_family(variant: str) -> bool:
    """The runs scored at a threshold tuned on dev: every hierarchical-prompt run, HPT's included."""
    return family(variant) in ("prompt", HPT)


def ordered_variants(rows: list[dict]) -> list[str]:
    present = {row["variant"] for row in rows}
    return [v for v in VARIANT_ORDER if v in present] + sorted(present - set(VARIANT_ORDER))


def by_variant(rows: list[dict]) -> dict[str, list[dict]]:
    return {variant: [r for r in rows if r["variant"] == variant] for variant in ordered_variants(rows)}


def best_in_warmup(row: dict) -> bool:
    """A run continuing a warm-up whose best dev epoch is a warm-up epoch: it never beat the warm-up on
    dev, so it scores the warm-up's model (for a Mixup run: the plain model of its seed)."""
    return 0 < row["best_epoch"] <= row["warmup_epochs"] < row["epochs_run"]
