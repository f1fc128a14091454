"""LH-Mix Table 7, its computation, table and note: LH-Mix against data augmentation, i.e. prompt (no Mixup)
trained on a training set augmented by EDA (Wei and Zou 2019) or by back-translation, beside prompt and
prompt_lhmix.

Rows over the seeds of augment.seeds: prompt and prompt_lhmix are the main runs of those seeds, EDA
and back-translation their own runs (back-translation: or why it could not run here), which continue
the same prompt warm-up of their seed on the augmented training set. Each row is compared with
prompt_lhmix paired by seed (the shared warm-up); with one seed there is no test.
"""
from __future__ import annotations

from lhmix.reporting import markdown as md
from lhmix.reporting.stats import mean_std, paired
from lhmix.reporting.variants import best_in_warmup

F1S = ("micro_f1", "macro_f1")
REFERENCE = "prompt_lhmix"


def entries(main: list[dict], augmented: dict[str, list[dict]], seeds: list[int],
            missing: dict[str, str]) -> list[dict]:
    """One entry per row: {row, seeds, micro_f1/macro_f1 {mean, std, n}, best_in_warmup (runs that scored
    their warm-up's checkpoint), vs_lhmix {metric: comparison of the row minus prompt_lhmix}}
    or {row, missing: why}. `augmented` maps a method (eda, bt) to its run rows, `missing` a method to
    why it has no runs."""
    by_variant = {variant: [r for r in main if r["variant"] == variant and r["seed"] in seeds]
                  for variant in ("prompt", REFERENCE)}
    sources = [("prompt", by_variant["prompt"]), ("prompt + EDA", augmented.get("eda", [])),
               ("prompt + back-translation", augmented.get("bt", [])), (REFERENCE, by_variant[REFERENCE])]
    reasons = {"prompt + EDA": missing.get("eda"), "prompt + back-translation": missing.get("bt")}
    reference = by_variant[REFERENCE]
    table = []
    for row, runs in sources:
        if not runs:
            table.append({"row": row, "missing": reasons.get(row) or "no runs (augment seeds empty)"})
            continue
        entry = {"row": row, "seeds": sorted(r["seed"] for r in runs), **{m: mean_std(r[m] for r in runs) for m in F1S},
                 "best_in_warmup": sum(best_in_warmup(r) for r in runs)}
        if row != REFERENCE and reference:
            entry["vs_lhmix"] = {m: paired({r["seed"]: r[m] for r in runs},
                                           {r["seed"]: r[m] for r in reference}).to_dict() for m in F1S}
        table.append(entry)
    return table


def render(results: dict) -> str:
    """LH-Mix Table 7: data augmentation against LH-Mix, each row tested against prompt_lhmix."""
    rows = []
    for e in results["table7"]:
        if "missing" in e:
            rows.append([e["row"], "-", "n/a", "n/a", "-", f"not run: {e['missing']}"])
            continue
        versus = e.get("vs_lhmix")
        tested = "; ".join(f"{name} {md.number(versus[m]['diff'], sign=True)} {md.interval(versus[m])}, "
                           f"p {md.p_value(versus[m])}"
                           for name, m in (("micro", "micro_f1"), ("macro", "macro_f1"))) if versus else "-"
        rows.append([e["row"], ", ".join(map(str, e["seeds"])), md.mean_std(e["micro_f1"]),
                     md.mean_std(e["macro_f1"]), f"{e['best_in_warmup']} / {len(e['seeds'])}", tested])
    return "\n".join([
        md.table(["row", "seeds", "micro-F1", "macro-F1", "best in warm-up",
                  "row minus prompt_lhmix: points [95 % CI], paired p"], rows), "",
        note()])


def note() -> str:
    return ("Data augmentation (LH-Mix Table 7): prompt without Mixup trained on a training set augmented by EDA "
            "(Wei and Zou 2019: synonym replacement, random insertion, swap and deletion; augment.eda) or by "
            "back-translation (augment.back_translation), beside the main prompt and prompt_lhmix runs of the same "
            "seeds (augment.seeds). An augmented run continues the prompt warm-up of its seed on the augmented set, "
            "as Mixup starts after it, so the test is paired by seed; with one seed per row there is no test. *Best "
            "in warm-up*: runs that never beat their warm-up on dev and score its model, the plain prompt's (then the "
            "row equals the prompt row of that seed).")
