"""Markdown cells and tables: how the report writes numbers, intervals, p-values and histograms."""
from __future__ import annotations

import math

METRIC_NAMES = {"micro_f1": "micro-F1", "macro_f1": "macro-F1"}
ALL_METRIC_NAMES = {**METRIC_NAMES, "micro_ap": "micro-AP", "macro_ap": "macro-AP",
                    "tuned_micro_f1": "micro-F1, tuned thresholds", "tuned_macro_f1": "macro-F1, tuned thresholds",
                    "continuation_micro_f1": "micro-F1, after the warm-up",
                    "continuation_macro_f1": "macro-F1, after the warm-up"}


def section(text: str, heading: str) -> str | None:
    """The body of the level-2 section `heading` ("## ..." line) of a markdown text, up to the next level-2 heading,
    stripped; None where the text has no such section."""
    parts = f"\n{text}".split(f"\n{heading}\n", 1)
    return parts[1].split("\n## ", 1)[0].strip() if len(parts) == 2 else None


def table(header: list[str], rows: list[list[str]]) -> str:
    lines = [header, ["---"] * len(header), *rows]
    return "\n".join("| " + " | ".join(cells) + " |" for cells in lines)


def number(value, digits: int = 2, sign: bool = False) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{value:+.{digits}f}" if sign else f"{value:.{digits}f}"


def p_value(comparison: dict, key: str = "p") -> str:
    """A p-value cell; 'n/a (why)' where there is none or it is not a number."""
    p = comparison[key]
    if p is None or (isinstance(p, float) and math.isnan(p)):
        why = comparison.get("note") or ("no test result" if p is None else "p is NaN")
        return f"n/a ({why})"
    return "< 0.0001" if p < 0.0001 else f"{p:.4f}"


def interval(comparison: dict) -> str:
    if comparison["low"] is None:
        return "n/a"
    return f"[{comparison['low']:+.2f}, {comparison['high']:+.2f}]"


def t_df(comparison: dict) -> str:
    """'+3.46 (2)': t and its degrees of freedom (Welch's are fractional)."""
    if comparison["t"] is None:
        return "n/a"
    df = comparison["df"]
    return f"{comparison['t']:+.2f} ({df:.0f})" if float(df).is_integer() else f"{comparison['t']:+.2f} ({df:.1f})"


def mean_std(entry: dict) -> str:
    shown = f"{entry['mean']:.2f}"
    return shown if entry["std"] is None else f"{shown} +- {entry['std']:.2f}"


def histogram(summary: dict | None) -> str:
    """'0.5241 [0.5005, 0.5235, 0.5385]': mean [5 %, 50 %, 95 % quantiles]; the quantiles are centres of
    0.001-wide bins, so a fourth decimal is needed to print them as they are."""
    if not summary or not summary.get("n"):
        return "-"
    return f"{summary['mean']:.4f} [{summary['q05']:.4f}, {summary['q50']:.4f}, {summary['q95']:.4f}]"


def bootstrap_cell(entry: dict) -> str:
    """The two-level bootstrap interval of a comparison, '-' where it has none (not on F1)."""
    b = entry.get("bootstrap")
    return "-" if b is None else f"[{b['low']:+.2f}, {b['high']:+.2f}]"


def mdd_cell(entry: dict) -> str:
    """'2.10 (α 0.0050; 14 seeds for 1.0)': the minimal detectable difference, the alpha it is stated at, and
    the seeds that would bring it to the design's target (stats.target_mdd)."""
    if entry.get("mdd") is None:
        return "n/a"
    needed = entry.get("seeds_needed")
    target = f"; {needed} seeds for {entry['mdd_target']:g}" if needed is not None else ""
    return f"{entry['mdd']:.2f} (α {entry['mdd_alpha']:.4f}{target})"


def verdict_cell(entry: dict) -> str:
    """The verdict in bold, with why there is no test, or what it was before Holm's correction, and on how many
    seeds the two variants were one model (both scored their shared warm-up's: a difference of 0 by
    construction)."""
    text = f"**{entry['verdict']}**"
    if entry.get("reason"):
        text += f" ({entry['reason']})"
    elif entry.get("verdict_unadjusted") not in (None, entry["verdict"]):
        text += f" ({entry['verdict_unadjusted']} before Holm)"
    same = entry.get("same_model_seeds")
    if same:
        pairs = entry["seeds"][0] if entry.get("seeds") else "?"
        text += f"; on {len(same)} of {pairs} seeds one model (both scored the warm-up's)"
    return text
