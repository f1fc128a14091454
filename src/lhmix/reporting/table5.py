"""Table 5: prompt_lhmix against every other variant on micro- and macro-F1, with the test that pairs them; its
computation, table and note."""
from __future__ import annotations

from lhmix.reporting.comparisons import F1S, REFERENCE, compare
from lhmix.reporting.markdown import METRIC_NAMES, interval, number, p_value, table


def entries(rows: list[dict], variants: list[str]) -> dict:
    """{variant: {metric: comparison}}: REFERENCE minus each other variant."""
    return {variant: {metric: compare(rows, REFERENCE, variant, metric).to_dict() for metric in F1S}
            for variant in variants if variant != REFERENCE}


def render(results: dict) -> str:
    rows = []
    for variant, by_metric in results["table5"].items():
        first = by_metric["micro_f1"]
        cells = [variant, first["test"], first["n"]]
        for metric in METRIC_NAMES:
            c = by_metric[metric]
            cells += [number(c["diff"], sign=True), interval(c), p_value(c)]
        rows.append(cells)
    return "\n".join([
        table(["variant", "test", "n", "micro-F1 diff", "95 % CI", "p", "macro-F1 diff", "95 % CI", "p"], rows), "",
        note()])


def note() -> str:
    return (f"Difference: {REFERENCE} minus the variant, in F1 points (mean over seeds). *paired t*: same family, "
            "the runs of a seed continue one warm-up state; *Welch t*: the other family, independent runs.")
