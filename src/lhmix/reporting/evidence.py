"""What the report reads from each run's decisions and scores, beside its metrics.json: F1 at the thresholds tuned
on dev (lhmix.reporting.thresholds) for every prompt-family run, and the two-level bootstrap interval
(lhmix.reporting.bootstrap) of every comparison on F1 (the claims, the mechanism questions, per depth)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from lhmix.data.documents import read_dataset
from lhmix.pipeline.plan import Run
from lhmix.reporting import bootstrap, thresholds
from lhmix.reporting.variants import family, is_prompt_family

FIXED, TUNED = "fixed", "tuned"   # decisions at score > 0, or at the thresholds tuned on dev
TUNED_PREFIX = "tuned_"


class TestSet:
    """The dev and test documents of a prepared dataset, their gold labels and the depth of each label."""

    def __init__(self, dataset_dir: Path):
        hierarchy, splits = read_dataset(dataset_dir, splits=("dev", "test"))
        self.num_labels = len(hierarchy)
        self.label_depths = np.array([hierarchy.depth_of(label) for label in range(self.num_labels)])
        self.dev_ids, self.test_ids = splits["dev"].ids, splits["test"].ids
        self.dev_gold, self.test_gold = (_gold(splits[name].labels, self.num_labels) for name in ("dev", "test"))

    def counts(self, predicted: np.ndarray) -> bootstrap.RunCounts:
        return bootstrap.RunCounts(predicted, self.test_gold, self.label_depths)


def _gold(label_lists, num_labels: int) -> np.ndarray:
    gold = np.zeros((len(label_lists), num_labels), dtype=bool)
    for row, labels in enumerate(label_lists):
        gold[row, labels] = True
    return gold


def tuned(runs: list[Run], rows: list[dict], test_set: TestSet) -> tuple[list[dict], dict]:
    """(rows, decisions): every prompt-family row with `thresholds` ({depth: threshold} tuned on dev) and its test
    `tuned_micro_f1`, `tuned_macro_f1` (in points) at them; decisions {(variant, seed): bool [N, V]} of those runs."""
    decisions, scored = {}, []
    for run, row in zip(runs, rows):
        if is_prompt_family(row["variant"]):
            cut, decided = thresholds.tuned_decisions(run.path / "scores.npz", test_set.dev_ids, test_set.dev_gold,
                                                      test_set.test_ids, test_set.label_depths)
            decisions[(row["variant"], row["seed"])] = decided
            f1 = test_set.counts(decided).f1(np.ones((1, len(test_set.test_ids))))
            row = {**row, "thresholds": {str(depth): round(value, 6) for depth, value in cut.items()},
                   **{TUNED_PREFIX + metric: round(100 * float(f1[metric][0]), 4) for metric in bootstrap.F1S}}
        scored.append(row)
    return scored, decisions


def _source(metric: str) -> tuple[str, str]:
    """(decisions, bootstrap metric) of an entry's metric: tuned_macro_f1 -> (tuned, macro_f1)."""
    if metric.startswith(TUNED_PREFIX):
        return TUNED, metric[len(TUNED_PREFIX):]
    return FIXED, metric


def with_intervals(entries: list[dict], runs: list[Run], rows: list[dict], tuned_decisions: dict,
                   test_set: TestSet, resamples: int = bootstrap.RESAMPLES) -> list[dict]:
    """Each entry on an F1 (metric micro_f1, macro_f1, tuned_*, or a `depth` entry's micro-F1) with `bootstrap`:
    the basic interval of better - worse over seeds x test documents."""
    seeds = {variant: sorted(r["seed"] for r in rows if r["variant"] == variant)
             for variant in {r["variant"] for r in rows}}

    def metric_of(entry):
        if "depth" in entry:
            return FIXED, bootstrap.depth_metric(int(entry["depth"]))
        return _source(entry["metric"]) if entry["metric"].removeprefix(TUNED_PREFIX) in bootstrap.F1S else None

    def keys(entry, kind):
        a, b = entry["better"], entry["worse"]
        if family(a) == family(b):
            common = sorted(set(seeds[a]) & set(seeds[b]))
            return [(kind, a, s) for s in common], [(kind, b, s) for s in common]
        return [(kind, a, s) for s in seeds[a]], [(kind, b, s) for s in seeds[b]]

    wanted = {key for entry in entries if metric_of(entry) for side in keys(entry, metric_of(entry)[0]) for key in side}
    if not wanted:
        return entries
    paths = {(row["variant"], row["seed"]): run.path for run, row in zip(runs, rows)}
    counts = {}
    for kind, variant, seed in sorted(wanted):
        predicted = (tuned_decisions[(variant, seed)] if kind == TUNED else
                     bootstrap.read_decisions(paths[(variant, seed)] / "predictions.npz", test_set.test_ids,
                                              test_set.num_labels))
        counts[(kind, variant, seed)] = test_set.counts(predicted)
    observed, replicated = bootstrap.replicates(counts, len(test_set.test_ids), resamples)
    out = []
    for entry in entries:
        source = metric_of(entry)
        if source:
            a_keys, b_keys = keys(entry, source[0])
            interval = bootstrap.compare(observed, replicated, a_keys, b_keys, source[1],
                                         paired=family(entry["better"]) == family(entry["worse"]))
            entry = {**entry, "bootstrap": interval}
        out.append(entry)
    return out
