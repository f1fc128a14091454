"""The variants in report order: the paper's ablation (Table 3, family x mixing), then the controls of
LH-Mix (lhmix.core.vocabulary); and which run rows scored a warm-up checkpoint."""
from __future__ import annotations

from lhmix.core.vocabulary import VARIANTS, family_of

VARIANT_ORDER = VARIANTS
family = family_of


def ordered_variants(rows: list[dict]) -> list[str]:
    present = {row["variant"] for row in rows}
    return [v for v in VARIANT_ORDER if v in present] + sorted(present - set(VARIANT_ORDER))


def by_variant(rows: list[dict]) -> dict[str, list[dict]]:
    return {variant: [r for r in rows if r["variant"] == variant] for variant in ordered_variants(rows)}


def best_in_warmup(row: dict) -> bool:
    """A run continuing a warm-up whose best dev epoch is a warm-up epoch: it never beat the warm-up on
    dev, so it scores the warm-up's model (for a Mixup run: the plain model of its seed)."""
    return 0 < row["best_epoch"] <= row["warmup_epochs"] < row["epochs_run"]
