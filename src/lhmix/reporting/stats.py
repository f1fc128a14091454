"""The paper's tables from the runs: Table 3 (ablation), Table 4 (mean +- std over seeds),
Table 5 (t-tests of prompt_lhmix against every other variant), sweeps and sparse data.

F1 values are fractions in the run files and percentages (x 100) here, as in the paper.
"""
from __future__ import annotations

import math

import numpy as np
from scipy import stats as scipy_stats

from lhmix.pipeline.plan import Plan, read_metrics

VARIANT_ORDER = ["bert", "bert_mixup", "bert_lhmix", "prompt", "prompt_mixup", "prompt_lhmix"]
REFERENCE = "prompt_lhmix"
METRICS = ("micro_f1", "macro_f1")


def percent(value: float) -> float:
    return round(100.0 * float(value), 4)


def _row(run, metrics: dict) -> dict:
    return {
        "variant": run.variant, "seed": run.seed, "alpha": run.alpha, "beta": run.beta,
        "fraction": run.fraction,
        **{name: percent(metrics[name]) for name in METRICS},
        "per_depth": {depth: {name: percent(value) for name, value in scores.items()}
                      for depth, scores in metrics.get("per_depth", {}).items()},
        "by_frequency": {bucket: percent(value) for bucket, value in metrics.get("by_frequency", {}).items()},
        "history": metrics.get("history", []),
        # Last epoch's mean training loss: moves with alpha/beta even when F1 does not.
        "train_loss": round(metrics["history"][-1]["train_loss"], 6) if metrics.get("history") else None,
        "train_seconds": metrics.get("train_seconds"),
        "examples_per_second": metrics.get("examples_per_second"),
    }


def collect(plan: Plan, dataset: str, root=None) -> dict:
    """Read exactly the runs that params name (raises on a missing one)."""
    extra = {} if root is None else {"root": root}

    def rows(runs) -> list[dict]:
        return [_row(run, read_metrics(run)) for run in runs]
    return {"main": rows(plan.main_runs(dataset, **extra)),
            "sweeps": {grid: rows(runs) for grid, runs in plan.sweep_runs(dataset, **extra).items()},
            "sparse": rows(plan.sparse_runs(dataset, **extra))}


def ordered_variants(rows: list[dict]) -> list[str]:
    present = {row["variant"] for row in rows}
    return [v for v in VARIANT_ORDER if v in present] + sorted(present - set(VARIANT_ORDER))


def _values(rows: list[dict], variant: str, metric: str) -> dict[int, float]:
    return {row["seed"]: row[metric] for row in rows if row["variant"] == variant}


def summarize(rows: list[dict]) -> dict:
    """{variant: {metric: {mean, std, n}}} for both F1s and the final train loss;
    std is the sample standard deviation (0 for one seed)."""
    summary = {}
    for variant in ordered_variants(rows):
        summary[variant] = {}
        for metric in (*METRICS, "train_loss"):
            values = [v for v in _values(rows, variant, metric).values() if v is not None]
            if not values:
                continue
            values = np.array(values, dtype=float)
            std = float(values.std(ddof=1)) if len(values) > 1 else 0.0
            summary[variant][metric] = {"mean": round(float(values.mean()), 6), "std": round(std, 6),
                                        "n": int(len(values))}
    return summary


def _p_value(result) -> float | None:
    p = float(result.pvalue)
    return None if math.isnan(p) else round(p, 6)


def ttests(rows: list[dict], reference: str = REFERENCE) -> dict:
    """p-values of `reference` against every other variant: paired on seeds, and Welch's."""
    tests = {}
    for variant in ordered_variants(rows):
        if variant == reference:
            continue
        tests[variant] = {}
        for metric in METRICS:
            ours, theirs = _values(rows, reference, metric), _values(rows, variant, metric)
            seeds = sorted(set(ours) & set(theirs))
            enough = len(seeds) >= 2
            paired = (_p_value(scipy_stats.ttest_rel([ours[s] for s in seeds], [theirs[s] for s in seeds]))
                      if enough else None)
            welch = (_p_value(scipy_stats.ttest_ind(list(ours.values()), list(theirs.values()),
                                                    equal_var=False))
                     if len(ours) >= 2 and len(theirs) >= 2 else None)
            tests[variant][metric] = {"paired_p": paired, "welch_p": welch}
    return tests


def dvc_metrics(summary: dict) -> dict:
    """The compact file `dvc metrics show/diff` reads: keys like prompt_lhmix.macro_f1.mean."""
    return {variant: {metric: {"mean": values["mean"], "std": values["std"]}
                      for metric, values in by_metric.items()}
            for variant, by_metric in summary.items()}


def _fmt(value) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def _fmt_p(value) -> str:
    return "n/a" if value is None else f"{value:.4f}"


def _table(header: list[str], lines: list[list[str]]) -> str:
    rows = [header, ["---"] * len(header), *lines]
    return "\n".join("| " + " | ".join(cells) + " |" for cells in rows)


def markdown(dataset: str, dataset_stats: dict, results: dict, summary: dict, tests: dict,
             table3_seed: int) -> str:
    main = results["main"]
    by_variant_seed = {(r["variant"], r["seed"]): r for r in main}
    parts = [f"# Results on {dataset}", "",
             "## Table 1: dataset", "",
             _table(["depth", "labels", "labels per level", "avg labels/doc", "train", "dev", "test", "dropped"],
                    [[str(dataset_stats["depth"]), str(dataset_stats["num_labels"]),
                      " / ".join(map(str, dataset_stats["labels_per_level"])),
                      f"{dataset_stats['avg_labels_per_doc']:.2f}",
                      *(str(dataset_stats["splits"][s]) for s in ("train", "dev", "test")),
                      ", ".join(f"{k}: {v}" for k, v in dataset_stats["dropped"].items()) or "none"]]),
             "", f"## Table 3: ablation (seed {table3_seed}; F1 in %)", "",
             _table(["variant", "micro-F1", "macro-F1"],
                    [[v, _fmt(by_variant_seed.get((v, table3_seed), {}).get("micro_f1")),
                      _fmt(by_variant_seed.get((v, table3_seed), {}).get("macro_f1"))] for v in summary]),
             "", "## Table 4: mean +- std over seeds (F1 in %)", "",
             _table(["variant", "seeds", "micro-F1", "macro-F1"],
                    [[v, str(s["micro_f1"]["n"]),
                      f"{s['micro_f1']['mean']:.2f} +- {s['micro_f1']['std']:.2f}",
                      f"{s['macro_f1']['mean']:.2f} +- {s['macro_f1']['std']:.2f}"] for v, s in summary.items()]),
             "", f"## Table 5: t-tests of {REFERENCE} against each variant (p-values)", "",
             _table(["variant", "micro paired", "micro Welch", "macro paired", "macro Welch"],
                    [[v, _fmt_p(t["micro_f1"]["paired_p"]), _fmt_p(t["micro_f1"]["welch_p"]),
                      _fmt_p(t["macro_f1"]["paired_p"]), _fmt_p(t["macro_f1"]["welch_p"])]
                     for v, t in tests.items()])]
    for grid in ("alpha", "beta"):
        parts += ["", f"## {grid} sweep (prompt_lhmix, {'beta = 1' if grid == 'alpha' else 'alpha = 1'})", "",
                  _table([grid, "micro-F1", "macro-F1"],
                         [[f"{r[grid]:g}", _fmt(r["micro_f1"]), _fmt(r["macro_f1"])]
                          for r in results["sweeps"][grid]])]
    parts += ["", "## Sparse data (fraction of train)", "",
              _table(["fraction", "variant", "micro-F1", "macro-F1"],
                     [[f"{r['fraction']:g}", r["variant"], _fmt(r["micro_f1"]), _fmt(r["macro_f1"])]
                      for r in results["sparse"]])]
    return "\n".join(parts) + "\n"


def curves_rows(results: dict) -> list[dict]:
    """Dev macro-F1 (%) per epoch of each variant, the mean over its seeds, for `dvc plots`."""
    by_point: dict[tuple[str, int], list[float]] = {}
    for row in results["main"]:
        for point in row["history"]:
            by_point.setdefault((row["variant"], point["epoch"]), []).append(point["dev_macro_f1"])
    order = {variant: index for index, variant in enumerate(ordered_variants(results["main"]))}
    return [{"variant": variant, "epoch": epoch, "dev_macro_f1": percent(np.mean(values))}
            for (variant, epoch), values in sorted(by_point.items(), key=lambda item: (order[item[0][0]], item[0][1]))]
