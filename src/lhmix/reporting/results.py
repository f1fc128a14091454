"""results/<dataset>/results.json from the run files that params.yaml names: one row per run, and the
per-variant aggregates the tables and figures read (means over seeds, diagnostics, timings, curves).

F1, precision and recall are fractions in the run files and percentages (x 100) here, as in the paper.
"""
from __future__ import annotations

from collections import Counter, defaultdict
from pathlib import Path

import numpy as np

from lhmix.core.errors import LhmixError
from lhmix.core.files import read_json
from lhmix.core.vocabulary import AUGMENTATIONS
from lhmix.data.hierarchy import Hierarchy
from lhmix.pipeline.plan import PROCESSED, Plan, Run
from lhmix.reporting import continuations, evidence, figure6, table5, table6, table7
from lhmix.reporting.comparisons import APS, base_metric
from lhmix.reporting.mechanism import mechanism
from lhmix.reporting.per_depth import per_depth, per_depth_differences
from lhmix.reporting.verdicts import claims
from lhmix.reporting.run_files import read_run_metrics
from lhmix.reporting.stats import mean_std, pooled_histogram, seeds_needed, usable
from lhmix.reporting.variants import (HPT, REGIMES, SPREAD, best_in_warmup, by_variant, in_regime, ordered_variants)
from lhmix.training.progress import TIMING_KEYS

F1S = ("micro_f1", "macro_f1")
PERCENT = (*F1S, "precision", "recall", *APS)
EARLY, CAP = "early_stopping", "epoch_cap"


def percent(value: float) -> float:
    return round(100.0 * float(value), 4)


def _timing(metrics: dict) -> dict:
    """How long a run took, and on what (runs of an older training code did not record their device)."""
    return {**{key: metrics[key] for key in TIMING_KEYS}, "device": metrics.get("device", "not recorded")}


def devices(*groups: list[dict]) -> dict[str, int]:
    """{device: number of runs and warm-ups trained on it}: where the numbers of this dataset come from."""
    return dict(sorted(Counter(row["device"] for rows in groups for row in rows).items()))


def _run_row(run: Run, metrics: dict) -> dict:
    history = metrics["history"]
    return {
        "variant": run.variant, "seed": run.seed, "alpha": run.alpha, "beta": run.beta, "fraction": run.fraction,
        "graph": metrics["graph"],
        **{name: percent(metrics[name]) for name in PERCENT},
        "predicted_per_doc": metrics["predicted_per_doc"], "gold_per_doc": metrics["gold_per_doc"],
        "per_depth": {depth: {name: percent(value) for name, value in scores.items()}
                      for depth, scores in metrics["per_depth"].items()},
        "per_depth_ap": {depth: {name: percent(scores[name]) for name in APS}
                         for depth, scores in metrics["per_depth_ap"].items()},
        "by_frequency": {bucket: percent(value) for bucket, value in metrics["by_frequency"].items()},
        **{f"continuation_{name}": percent(metrics["continuation"][name]) for name in F1S},
        "continuation_best_epoch": metrics["continuation"]["best_epoch"],
        "epochs_run": metrics["epochs_run"], "best_epoch": metrics["best_epoch"],
        "stop_reason": metrics["stop_reason"], "max_epochs": metrics["max_epochs"],
        "warmup_epochs": metrics["warmup_epochs"],
        # Last epoch's mean training loss: moves with alpha/beta even when F1 does not.
        "train_loss": round(history[-1]["train_loss"], 6),
        "history": [{"epoch": point["epoch"], "dev_micro_f1": percent(point["dev_micro_f1"]),
                     "dev_macro_f1": percent(point["dev_macro_f1"])} for point in history],
        **{name: metrics[name] for name in ("lambda", "s") if name in metrics},
        **_timing(metrics),
    }


def _warmup_row(run: Run, metrics: dict) -> dict:
    return {"variant": run.variant, "seed": run.seed, "fraction": run.fraction, "graph": run.graph, **_timing(metrics)}


def _rows(runs: list[Run], row) -> list[dict]:
    rows = []
    for run in runs:
        metrics = read_run_metrics(run)
        try:
            rows.append(row(run, metrics))
        except KeyError as missing:
            raise LhmixError(f"{run.path / 'metrics.json'}: no {missing} (written by an older training code? "
                             "re-run `dvc repro`)") from None
    return rows


def _distinct(sweep_rows: list[dict]) -> list[dict]:
    """Sweep rows once per (alpha, beta): the beta sweep's point beta = 1 is the alpha sweep's alpha = 1."""
    return list({(row["alpha"], row["beta"]): row for row in sweep_rows}.values())


def summarize(rows: list[dict]) -> dict:
    """{variant: {metric: {mean, std, n}}} of both F1s, both APs and the last train loss, over seeds."""
    return {variant: {metric: mean_std(r[metric] for r in runs) for metric in (*F1S, *APS, "train_loss")}
            for variant, runs in by_variant(rows).items()}


def regime_runs(plan: Plan, dataset: str, where: dict) -> list[tuple[Run, str]]:
    """The runs the comparisons read beyond the main runs, each with its name in the report: the second mechanism
    regime's (plan.spread_runs, named by lhmix.reporting.variants.in_regime) and HPT's (plan.hpt_runs: the prompt
    with HPT's graph on the main seeds)."""
    named = [(run, in_regime(run.variant, SPREAD)) for run in plan.spread_runs(dataset, **where)]
    return named + [(run, HPT) for run in plan.hpt_runs(dataset, **where)]


def comparisons(runs: list[Run], rows: list[dict], dataset_dir: Path, margin: float,
                target_mdd: dict[str, float]) -> dict:
    """Every tested comparison (the verdict table, the mechanism questions, per depth) on `rows` (main and HPT
    runs), the F1 ones with their bootstrap interval; the rows with their F1 at thresholds tuned on dev (prompt
    family)."""
    test_set = evidence.TestSet(dataset_dir)
    rows, decisions = evidence.tuned(runs, rows, test_set)
    parts = {"claims": claims(rows), "mechanism": mechanism(rows, margin) + mechanism(rows, margin, continuations=True),
             "per_depth_differences": per_depth_differences(rows)}
    flat = [entry for entries in parts.values() for entry in entries]
    flat = evidence.with_intervals(flat, runs, rows, decisions, test_set)
    for entry in flat:   # the tests with a family (per depth is descriptive)
        target = target_mdd.get(base_metric(entry.get("metric", "")))
        if target is not None and entry.get("mdd_alpha") is not None:
            entry.update(mdd_target=target,
                         seeds_needed=seeds_needed(entry["test"], entry["sd"], entry["mdd_alpha"], target))
    out, start = {"rows": rows}, 0
    for name, entries in parts.items():
        out[name], start = flat[start:start + len(entries)], start + len(entries)
    return out


def diagnostics(rows: list[dict]) -> dict:
    """Per variant, over seeds: mean precision, recall, labels per document (predicted and gold), epochs
    run and best epoch; how each run stopped; the lambda (and s) of every mixed sample, pooled."""
    table = {}
    for variant, runs in by_variant(rows).items():
        entry = {name: float(np.mean([r[name] for r in runs]))
                 for name in ("precision", "recall", "predicted_per_doc", "gold_per_doc", "epochs_run", "best_epoch")}
        entry.update(runs=len(runs), **{reason: sum(r["stop_reason"] == reason for r in runs) for reason in (EARLY, CAP)},
                     best_in_warmup=sum(best_in_warmup(r) for r in runs))
        entry["by_frequency"] = {bucket: float(np.mean([r["by_frequency"][bucket] for r in runs]))
                                 for bucket in runs[0]["by_frequency"]}
        for name in ("lambda", "s"):
            if any(name in r for r in runs):
                entry[name] = pooled_histogram([r[name] for r in runs if name in r])
        table[variant] = entry
    return table


def stopping(rows: list[dict]) -> dict:
    """How the main runs stopped, all variants together."""
    return {"runs": len(rows), **{reason: sum(r["stop_reason"] == reason for r in rows) for reason in (EARLY, CAP)},
            "max_epochs": sorted({r["max_epochs"] for r in rows})}


def timings(groups: dict[str, list[dict]]) -> list[dict]:
    """Per group of stages that ran: how many, the sum of their stage times, and examples per second over all
    their training (total examples / total training seconds)."""
    table = []
    for group, rows in groups.items():
        if not rows:   # a kind of stage this profile does not run
            continue
        train_seconds = sum(r["train_seconds"] for r in rows)
        examples = sum(r["examples_per_second"] * r["train_seconds"] for r in rows)
        table.append({"group": group, "stages": len(rows), "stage_seconds": sum(r["stage_seconds"] for r in rows),
                      "train_seconds": train_seconds,
                      "examples_per_second": examples / train_seconds if train_seconds else None})
    return table


def curves(rows: list[dict]) -> list[dict]:
    """Dev macro-F1 (%) per epoch of each variant, the mean over its seeds, for `dvc plots`."""
    table = []
    for variant, runs in by_variant(rows).items():
        per_epoch = defaultdict(list)
        for run in runs:
            for point in run["history"]:
                per_epoch[point["epoch"]].append(point["dev_macro_f1"])
        table += [{"variant": variant, "epoch": epoch, "dev_macro_f1": round(float(np.mean(values)), 4)}
                  for epoch, values in sorted(per_epoch.items())]
    return table


def collect(plan: Plan, dataset: str, dataset_stats: dict, hierarchy: Hierarchy, equivalence_margin: float,
            figure6_label=None, root=None, data_root: Path = PROCESSED, target_mdd: dict | None = None) -> dict:
    """Everything the tables and figures of one dataset show, read from exactly the runs params name
    (a missing one is an error naming its path); `figure6_label` as params.yaml's figure6.label,
    `equivalence_margin` as stats.equivalence_margin and `target_mdd` as stats.target_mdd (F1 points: the
    MDD per metric the design aims at, each test then says how many seeds would reach it)."""
    target_mdd = target_mdd or {}
    where = {} if root is None else {"root": root}
    main_runs = plan.main_runs(dataset, **where)
    main = _rows(main_runs, _run_row)
    sweeps = {grid: _rows(runs, _run_row) for grid, runs in plan.sweep_runs(dataset, **where).items()}
    sparse = _rows(plan.sparse_runs(dataset, **where), _run_row)
    warmups = _rows(plan.warmup_runs(dataset, **where), _warmup_row)
    augmented = {method: _rows(runs, _run_row) for method, runs in plan.augment_runs(dataset, **where).items()}
    graph_runs = _rows(plan.table6_runs(dataset, **where), _run_row)
    graph_warmups = _rows(plan.table6_warmups(dataset, **where), _warmup_row)
    extra = regime_runs(plan, dataset, where)
    extra_rows = [{**row, "variant": name} for row, (_, name) in zip(_rows([run for run, _ in extra], _run_row), extra)]
    tested = comparisons(main_runs + [run for run, _ in extra], main + extra_rows, Path(data_root) / dataset,
                         equivalence_margin, target_mdd)
    main, extra_rows = tested["rows"][:len(main)], tested["rows"][len(main):]
    hpt = [row for row in extra_rows if row["variant"] == HPT]
    spread = [row for row in extra_rows if row["variant"] != HPT]
    hpt_warmups = _rows(plan.hpt_warmups(dataset, **where), _warmup_row)
    return {
        "dataset": dataset_stats,
        "config": {"dataset": dataset, "alpha": plan.alpha, "beta": plan.beta, "seeds": plan.seeds,
                   "sweep_seed": plan.sweep_seed, "equivalence_margin": equivalence_margin,
                   "target_mdd": target_mdd},
        "main": main, "spread": spread, "hpt": hpt, "sweeps": sweeps, "sparse": sparse, "warmups": warmups,
        "devices": devices(main, spread, hpt, hpt_warmups, _distinct(sweeps["alpha"] + sweeps["beta"]), sparse, warmups,
                           *augmented.values(), graph_runs, graph_warmups),
        # the spread regime's variants and HPT beside the main ones: their F1, and the lambda the mixings used
        "summary": summarize(main + spread + hpt), "diagnostics": diagnostics(main + spread + hpt),
        "stopping": stopping(main), "per_depth": per_depth(main + spread + hpt),
        "continuations": continuations.entries(main + spread),
        "claims": tested["claims"], "mechanism": tested["mechanism"],
        "per_depth_differences": tested["per_depth_differences"],
        "table5": table5.entries(main, ordered_variants(main)),
        "table6": table6.entries(main, warmups, graph_runs, graph_warmups, plan.table6_graphs, plan.table6_seeds),
        "timings": timings({"warm-ups": warmups, "main runs and controls": main, "second mechanism regime": spread,
                            "HPT (warm-ups and runs)": hpt_warmups + hpt,
                            "alpha/beta sweeps": _distinct(sweeps["alpha"] + sweeps["beta"]), "sparse data": sparse,
                            "Table 6 graph encoders (warm-ups and runs)": graph_warmups + graph_runs,
                            "Table 7 augmentation runs": [row for rows in augmented.values() for row in rows]}),
        "figure6": figure6.collect(plan, dataset, hierarchy, figure6_label, **where),
        "table7": table7.entries(main, augmented, plan.augment_seeds, augmentation_missing(dataset, data_root)),
    }


def augmentation_missing(dataset: str, data_root: Path) -> dict[str, str]:
    """{method: why it has no augmented dataset here}, from the missing.json its stage writes."""
    missing = {}
    for method in AUGMENTATIONS:
        path = Path(data_root) / f"{dataset}_{method}" / "missing.json"
        if path.is_file():
            missing[method] = read_json(path).get("missing", f"see {path}")
    return missing


def dvc_metrics(results: dict) -> dict[str, dict]:
    """The files `dvc metrics show/diff` read, {name: content}, F1 in points (%) as everywhere in results/ (the
    run files and training logs under runs/ hold fractions): one row of DVC's table each, so that the table fits
    a 200-column terminal (DVC pads each column to its key, and gives every key of every file a column).
    <variant>.json: micro/macro-F1, mean and std over seeds, and the mean lambda used (`lambda`: it moves with
    alpha and beta even when F1 does not). One file per tested comparison and metric, keyed for what it holds:
    claims/<claim>/<metric>.json, a claim of the verdict table, and mechanism/<question>[_spread]/<metric>.json, a
    mechanism question: `diff` (better - worse, in the metric's points), `p_holm` (the family's Holm-adjusted p of
    no difference, where a test ran) and `verdict`. APs, labels per document, every other p: results.json and
    tables.md."""
    files = {}
    for variant, by_metric in results["summary"].items():
        entry = {}
        for metric in F1S:
            entry[metric] = round(by_metric[metric]["mean"], 4)
            if by_metric[metric]["std"] is not None:
                entry[f"{metric}_std"] = round(by_metric[metric]["std"], 4)
        extra = results["diagnostics"][variant]
        if "lambda" in extra:
            entry["lambda"] = round(extra["lambda"]["mean"], 4)
        files[f"{variant}.json"] = entry
    for folder, tested in (("claims", results["claims"]), ("mechanism", results["mechanism"])):
        for comparison in tested:
            if comparison["metric"] not in (*F1S, *APS):   # F1 at tuned thresholds: results.json and tables.md
                continue
            name = comparison["claim"] + (REGIMES[comparison["regime"]] if folder == "mechanism" else "")
            entry = {"diff": round(comparison["diff"], 4)}
            if usable(comparison["p_holm"]):
                entry["p_holm"] = round(comparison["p_holm"], 6)
            files[f"{folder}/{name}/{comparison['metric']}.json"] = {**entry, "verdict": comparison["verdict"]}
    return files
