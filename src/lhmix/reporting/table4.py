"""LH-Mix's Table 4: every variant's micro- and macro-F1, mean +- std over the seeds it ran."""
from __future__ import annotations

from lhmix.reporting.markdown import mean_std, table


def render(results: dict) -> str:
    return table(["variant", "seeds", "micro-F1", "macro-F1"],
                 [[v, str(s["micro_f1"]["n"]), mean_std(s["micro_f1"]), mean_std(s["macro_f1"])]
                  for v, s in results["summary"].items()])
