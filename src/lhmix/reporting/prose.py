"""The words of results/<dataset>/tables.md around its tables: what each table shows and how to read it,
as functions of the numbers they quote. lhmix.reporting.tables builds the tables and places these."""
from __future__ import annotations

from lhmix.reporting.comparisons import REFERENCE
from lhmix.reporting.markdown import number
from lhmix.reporting.variants import best_in_warmup

EARLY_ENOUGH = 0.9  # below this share of main runs stopped by early stopping, the report warns
BEST_IN_WARMUP = ("*(warm-up)*: the run's best dev epoch is a warm-up epoch; it never beat its warm-up on dev and "
                  "scores the warm-up's model, i.e. the plain prompt of that seed.")


def best_epoch(row: dict) -> str:
    """A run's best epoch, marked where it is a warm-up epoch (BEST_IN_WARMUP)."""
    return f"{row['best_epoch']} *(warm-up)*" if best_in_warmup(row) else str(row["best_epoch"])


def introduction(config: dict, devices: dict) -> str:
    return (f"F1, precision and recall in %, test set, each run scored with its best dev-macro-F1 checkpoint. "
            f"Main runs: seeds {', '.join(map(str, config['seeds']))}. Trained on: "
            + "; ".join(f"{name} ({count} runs and warm-ups)" for name, count in devices.items()) + ".")


def diagnostics_note() -> str:
    return ("Micro precision and recall in %, test set; labels per document over the test set; epochs count the "
            "warm-up. *Best in warm-up*: runs whose best dev epoch is a warm-up epoch, which therefore score the "
            "warm-up's model (a Mixup run then scores the plain model of its seed): selection over every epoch, as "
            "the published code selects. λ: the ratio each mixed training sample actually used, s: the "
            "local-hierarchy similarity of its pair (LH-Mix only); the histograms of every seed pooled (counts "
            "added, mean = pooled sum / pooled n, quantiles to within 0.0005).")


def stopping(counts: dict) -> str:
    early, runs = counts["early_stopping"], counts["runs"]
    text = (f"Stopping: {early} of {runs} main runs stopped by early stopping, {counts['epoch_cap']} at the epoch "
            f"cap (train.max_epochs = {', '.join(map(str, counts['max_epochs']))}).")
    if runs and early < EARLY_ENOUGH * runs:
        text += (f" **Warning: fewer than {EARLY_ENOUGH:.0%} of the runs stopped early; runs cut at the cap may "
                 "not have converged, and their differences can reflect training length rather than the method.**")
    return text


def mixing(results: dict) -> list[str]:
    """What the similarity of the actual training pairs made of the LH-Mix ratio (a paragraph, or none)."""
    lhmix = results["diagnostics"].get(REFERENCE, {})
    s, lam = lhmix.get("s"), lhmix.get("lambda")
    if not s or not s.get("n"):
        return []
    config = results["config"]
    return ["", f"{REFERENCE} at α = {config['alpha']:g}, β = {config['beta']:g}: s over its {s['n']} mixed training "
            f"samples lies in [{s['min']:.3f}, {s['max']:.3f}] (5-95 %: {s['q05']:.4f}-{s['q95']:.4f}), so the λ "
            f"used lies in [{lam['q05']:.4f}, {lam['q95']:.4f}] for 90 % of them (mean {lam['mean']:.4f}; "
            "0.5 is an even mix; Figure 3, right)."]


def mixing_effect_line(variant: str, family: str, mixed: dict, plain: dict, summary: dict) -> str:
    """One mixing variant against the plain variant of its family, in points."""
    frequency = ", ".join(f"{bucket} {number(mixed['by_frequency'][bucket] - plain['by_frequency'][bucket], sign=True)}"
                          for bucket in mixed["by_frequency"])
    return (f"- {variant} against {family}: {number(mixed['predicted_per_doc'])} labels per document predicted "
            f"against {number(plain['predicted_per_doc'])} (gold {number(mixed['gold_per_doc'])}); precision "
            f"{number(mixed['precision'] - plain['precision'], sign=True)}, recall "
            f"{number(mixed['recall'] - plain['recall'], sign=True)}; micro-F1 "
            f"{number(summary[variant]['micro_f1']['mean'] - summary[family]['micro_f1']['mean'], sign=True)}, "
            f"macro-F1 {number(summary[variant]['macro_f1']['mean'] - summary[family]['macro_f1']['mean'], sign=True)}"
            f"; macro-F1 by training-frequency tercile: {frequency}.")


def mixing_effect(lines: list[str]) -> list[str]:
    """The per-variant lines under their heading, and why Mixup moves micro- and macro-F1 apart."""
    return ["", "**What mixing changes** (points, means over seeds; Figure 7 shows the terciles):", "", *lines, "",
            "A mixed sample's loss λ L(y_i) + (1 - λ) L(y_j) rewards scores above 0 for the labels of both texts of "
            "the pair, each with its weight; with λ near 0.5 the two label sets are asked for almost equally. A "
            "model trained that way predicts more labels per document: recall rises, precision falls. Micro-F1 "
            "weighs every decision alike and follows the lost precision of frequent labels; macro-F1 weighs every "
            "label alike and follows the recall gained on rare ones, which the plain model mostly misses."]


def timing_note() -> str:
    return ("Wall time: each training stage counted once, from its own run file: a warm-up's time in the warm-up row, "
            "a warm-started run's time without the warm-up it continues. A stage's time covers loading, training and "
            "test scoring, not Python start-up. The total is the sum of the training stages' wall times; prepare, "
            "similarity and the reporting stages are not included. Examples/s: training examples over training "
            "seconds of the group.")


def not_run(what: str, keys: str) -> str:
    """A section whose runs this profile leaves out, and how to run them."""
    return (f"Not run in this profile: params.yaml lists no {what} ({keys}). The profile default-full runs them "
            "on the default (`dvc exp run -S profile=default-full`); the paper profiles run them at paper scale.")
