"""LH-Mix's Table 3, the ablation: every variant's F1 on one seed (the sweep seed), as the paper reports single
runs; the spread regime's variants and HPT beside them. Their means over seeds: Table 4 (lhmix.reporting.table4)."""
from __future__ import annotations

from lhmix.reporting.markdown import number, table


def seed(results: dict) -> int:
    return results["config"]["sweep_seed"]


def render(results: dict) -> str:
    runs = {(r["variant"], r["seed"]): r for r in results["main"] + results["spread"] + results["hpt"]}
    chosen = seed(results)
    return table(["variant", "micro-F1", "macro-F1"],
                 [[v, number(runs[(v, chosen)]["micro_f1"]), number(runs[(v, chosen)]["macro_f1"])]
                  for v in results["summary"] if (v, chosen) in runs])
