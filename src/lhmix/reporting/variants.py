"""The six variants of the paper's ablation (Table 3), in its order: family (bert, prompt) x mixing."""
from __future__ import annotations

VARIANT_ORDER = ("bert", "bert_mixup", "bert_lhmix", "prompt", "prompt_mixup", "prompt_lhmix")


def family(variant: str) -> str:
    """bert_mixup -> bert: the variants of a family continue the same warm-up state of each seed."""
    return variant.split("_")[0]


def ordered_variants(rows: list[dict]) -> list[str]:
    present = {row["variant"] for row in rows}
    return [v for v in VARIANT_ORDER if v in present] + sorted(present - set(VARIANT_ORDER))


def by_variant(rows: list[dict]) -> dict[str, list[dict]]:
    return {variant: [r for r in rows if r["variant"] == variant] for variant in ordered_variants(rows)}
