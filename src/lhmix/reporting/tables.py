"""results/<dataset>/tables.md: every table of one dataset in markdown, from its results.json."""
from __future__ import annotations

from lhmix.reporting import paper
from lhmix.reporting.comparisons import REFERENCE
from lhmix.reporting.markdown import histogram, interval, mean_std, number, p_value, t_df, table  # noqa: F401
from lhmix.reporting.table6 import summaries as graph_summaries
from lhmix.reporting.variants import best_in_warmup, family as family_of
from lhmix.reporting.verdicts import METRIC_NAMES, ap_table, depth_table, verdicts
EARLY_ENOUGH = 0.9  # below this share of main runs stopped by early stopping, the report warns


def dataset_table(stats: dict) -> str:
    dropped = ", ".join(f"{k}: {v}" for k, v in stats["dropped"].items()) or "none"
    return table(["depth", "labels", "labels per level", "avg labels/doc", "train", "dev", "test", "dropped"],
                 [[str(stats["depth"]), str(stats["num_labels"]), " / ".join(map(str, stats["labels_per_level"])),
                   f"{stats['avg_labels_per_doc']:.2f}", *(str(stats["splits"][s]) for s in ("train", "dev", "test")),
                   dropped]])


def table5(results: dict) -> str:
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
        f"Difference: {REFERENCE} minus the variant, in F1 points (mean over seeds). *paired t*: same family, "
        "the runs of a seed continue one warm-up state; *Welch t*: the other family, independent runs."])


def diagnostics(results: dict) -> str:
    rows = [[variant, number(d["precision"]), number(d["recall"]), number(d["predicted_per_doc"]),
             number(d["gold_per_doc"]), number(d["epochs_run"], 1), number(d["best_epoch"], 1),
             f"{d['best_in_warmup']} / {d['runs']}", f"{d['early_stopping']} / {d['epoch_cap']}",
             histogram(d.get("lambda")), histogram(d.get("s"))]
            for variant, d in results["diagnostics"].items()]
    return "\n".join([
        table(["variant", "precision", "recall", "labels/doc predicted", "labels/doc gold", "epochs run",
               "best epoch", "best in warm-up", "early stop / epoch cap", "λ used: mean [5 %, 50 %, 95 %]",
               "s: mean [5 %, 50 %, 95 %]"], rows), "",
        "Micro precision and recall in %, test set; labels per document over the test set; epochs count the "
        "warm-up. *Best in warm-up*: runs whose best dev epoch is a warm-up epoch, which therefore score the "
        "warm-up's model (a Mixup run then scores the plain model of its seed): selection over every epoch, as "
        "the published code selects. λ: the ratio each mixed training sample actually used, s: the "
        "local-hierarchy similarity of its pair (LH-Mix only); the histograms of every seed pooled (counts "
        "added, mean = pooled sum / pooled n, quantiles to within 0.0005).", "", stopping(results["stopping"]),
        *mixing(results), *mixing_effect(results)])


def mixing_effect(results: dict) -> list[str]:
    """Why Mixup moves micro- and macro-F1 apart, in this run's own numbers: each mixing variant against
    the plain variant of its family (the same warm-ups)."""
    diagnostics, summary = results["diagnostics"], results["summary"]
    lines = []
    for variant, d in diagnostics.items():
        family = family_of(variant)
        plain = diagnostics.get(family)
        if variant == family or plain is None:
            continue
        frequency = ", ".join(f"{bucket} {number(d['by_frequency'][bucket] - plain['by_frequency'][bucket], sign=True)}"
                              for bucket in d["by_frequency"])
        lines.append(
            f"- {variant} against {family}: {number(d['predicted_per_doc'])} labels per document predicted "
            f"against {number(plain['predicted_per_doc'])} (gold {number(d['gold_per_doc'])}); precision "
            f"{number(d['precision'] - plain['precision'], sign=True)}, recall "
            f"{number(d['recall'] - plain['recall'], sign=True)}; micro-F1 "
            f"{number(summary[variant]['micro_f1']['mean'] - summary[family]['micro_f1']['mean'], sign=True)}, "
            f"macro-F1 {number(summary[variant]['macro_f1']['mean'] - summary[family]['macro_f1']['mean'], sign=True)}"
            f"; macro-F1 by training-frequency tercile: {frequency}.")
    if not lines:
        return []
    return ["", "**What mixing changes** (points, means over seeds; Figure 7 shows the terciles):", "", *lines, "",
            "A mixed sample's loss λ L(y_i) + (1 - λ) L(y_j) rewards scores above 0 for the labels of both texts of "
            "the pair, each with its weight; with λ near 0.5 the two label sets are asked for almost equally. A "
            "model trained that way predicts more labels per document: recall rises, precision falls. Micro-F1 "
            "weighs every decision alike and follows the lost precision of frequent labels; macro-F1 weighs every "
            "label alike and follows the recall gained on rare ones, which the plain model mostly misses."]


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


def sweeps(results: dict) -> str:
    parts = []
    for grid, fixed in (("alpha", "β = 1"), ("beta", "α = 1")):
        symbol = "α" if grid == "alpha" else "β"
        rows = [[f"{r[grid]:g}", number(r["micro_f1"]), number(r["macro_f1"]), histogram(r.get("lambda")),
                 str(r["epochs_run"]), best_epoch(r), r["stop_reason"]] for r in results["sweeps"][grid]]
        parts += [f"## {symbol} sweep ({REFERENCE}, {fixed}, seed {results['config']['sweep_seed']})", "",
                  table([symbol, "micro-F1", "macro-F1", "λ used: mean [5 %, 50 %, 95 %]", "epochs run",
                         "best epoch", "stop"], rows), "", BEST_IN_WARMUP, ""]
    return "\n".join(parts)


BEST_IN_WARMUP = ("*(warm-up)*: the run's best dev epoch is a warm-up epoch; it never beat its warm-up on dev and "
                  "scores the warm-up's model, i.e. the plain prompt of that seed.")


def best_epoch(row: dict) -> str:
    return f"{row['best_epoch']} *(warm-up)*" if best_in_warmup(row) else str(row["best_epoch"])


def sparse(results: dict) -> str:
    rows = [[f"{r['fraction']:g}", r["variant"], number(r["micro_f1"]), number(r["macro_f1"]), str(r["epochs_run"]),
             best_epoch(r), r["stop_reason"]] for r in results["sparse"]]
    return "\n".join([table(["fraction of train", "variant", "micro-F1", "macro-F1", "epochs run", "best epoch",
                             "stop"], rows), "", BEST_IN_WARMUP])


def _reproduced(results: dict) -> dict:
    """Our rows by name: the main variants and the Table 6 graph runs (prompt+gat, ...)."""
    return {**results["summary"], **graph_summaries(results["table6"])}


def published(results: dict) -> str:
    """Table 2 as published beside our rows, then how far ours lie from LH-Mix's own numbers."""
    dataset = results["config"]["dataset"]
    if not paper.published(dataset):
        return (f"No published number: {dataset} is not one of the paper's datasets (WOS, NYT, RCV1-V2), "
                "so there is nothing to compare with.")
    return "\n\n".join([table2_context(results), distances(results)])


def distances(results: dict) -> str:
    dataset = results["config"]["dataset"]
    rows = [[r["paper"], METRIC_NAMES[r["metric"]],
             f"{r['value']:.2f}" + ("" if r["std"] is None else f" +- {r['std']:.2f}"),
             f"{r['variant']}: {mean_std({'mean': r['ours'], 'std': r['ours_std']})} ({r['seeds']} seeds)",
             number(r["diff"], sign=True), number(r["diff_in_std"], 1, sign=True)] for r in
            paper.comparison(dataset, _reproduced(results))]
    micro, macro = (spread for _, spread in paper.TABLE4[dataset])
    return "\n".join([
        table(["paper value (quoted)", "F1", "paper", "ours (mean +- std)", "ours - paper (points)",
               "in paper std units"], rows), "",
        f"Paper values quoted from {paper.SOURCE}, {paper.NAMES[dataset]}. The last column divides the difference "
        f"by the Table 4 standard deviation of LH-Mix over five seeds ({micro:.2f} micro, {macro:.2f} macro) for "
        "every row, HPT's included: the paper gives no other spread. Ours is the mean over our seeds, also where "
        "the paper reports one run. HPT's counterpart is prompt+gat, the hierarchical prompt with HPT's graph "
        "hierarchy injection (HPT section 4.1), run for Table 6 on table6.seeds only; without gat in "
        "table6.graphs its rows are left out."])


def table2_context(results: dict) -> str:
    """Table 2 as published, with the reproduced row beside each model we run."""
    dataset = results["config"]["dataset"]
    rows = []
    for r in paper.context(dataset, _reproduced(results)):
        ours = r["reproduced"]
        reproduced = ([f"{r['ours']} ({ours['micro_f1']['n']} seeds)", mean_std(ours["micro_f1"]),
                       mean_std(ours["macro_f1"])] if ours else
                      [f"{r['ours']}: not run" if r["ours"] else "not reproduced", "", ""])
        quoted = ["-" if r[metric] is None else f"{r[metric]:.2f}" for metric in METRIC_NAMES]
        rows.append([r["model"], *quoted, r["source"], *reproduced])
    others = ", ".join(model for model in paper.QUOTED if model not in paper.OURS)
    return "\n".join([
        table(["model", "micro-F1 (quoted)", "macro-F1 (quoted)", "source", "ours", "micro-F1", "macro-F1"], rows),
        "",
        f"The quoted columns are copied from the papers named ({paper.NAMES[dataset]}; - where the source has no "
        "number), not reproduced here. Our rows: `bert` ~ BERT (a [CLS] classifier; HGCLR's BERT is their own "
        "run), `prompt+gat` ~ HPT (the hierarchical prompt with HPT's graph hierarchy injection, the Table 6 runs), "
        f"`prompt_lhmix` ~ LH-Mix; mean +- std over our seeds. Not reproduced: {others}."])


def table6(results: dict) -> str:
    """LH-Mix appendix Table 6: graph encoders inside the framework, with their time per epoch."""
    rows = []
    for e in results["table6"]:
        graph = f"{e['graph']} (main runs)" if e["main_runs"] else e["graph"]
        variant = e["variant"] + (" (HPT)" if e["variant"] == "prompt" and e["graph"] == "gat" else "")
        versus = (["-"] * 3 if e["main_runs"] else
                  [number(e["micro_f1_vs_main"], sign=True), number(e["macro_f1_vs_main"], sign=True),
                   "n/a" if e["time_vs_main"] is None else f"{e['time_vs_main']:.2f} x"])
        rows.append([graph, variant, ", ".join(map(str, e["seeds"])), mean_std(e["micro_f1"]), mean_std(e["macro_f1"]),
                     number(e["seconds_per_epoch"]), *versus])
    return "\n".join([
        table(["graph encoder", "variant", "seeds", "micro-F1", "macro-F1", "s / epoch", "micro vs main",
               "macro vs main", "time vs main"], rows), "",
        "Graph encoders of HPT's hierarchy injection (HPT section 4.1) inside the framework: `prompt` + gat is "
        "HPT's model here (its graph attention feeding the depth markers, and its MLM loss when "
        "model.prompt.mlm_weight > 0), `prompt_lhmix` + gat is LH-Mix on top of it. The main runs (graph of "
        "model.prompt.graph) are those of the same seeds. *vs main*: the difference in F1 points to the main runs "
        "of the same variant, not tested (one seed gives no test; graph and main runs share no warm-up). Time per "
        "epoch: training seconds of the runs and the warm-ups they continue over the epochs those trained; runs "
        "timed at different moments on a shared machine compare roughly."])


def table7(results: dict) -> str:
    """LH-Mix Table 7: data augmentation against LH-Mix, each row tested against prompt_lhmix."""
    rows = []
    for e in results["table7"]:
        if "missing" in e:
            rows.append([e["row"], "-", "n/a", "n/a", "-", f"not run: {e['missing']}"])
            continue
        versus = e.get("vs_lhmix")
        tested = "; ".join(f"{name} {number(versus[m]['diff'], sign=True)} {interval(versus[m])}, p {p_value(versus[m])}"
                           for name, m in (("micro", "micro_f1"), ("macro", "macro_f1"))) if versus else "-"
        rows.append([e["row"], ", ".join(map(str, e["seeds"])), mean_std(e["micro_f1"]), mean_std(e["macro_f1"]),
                     f"{e['best_in_warmup']} / {len(e['seeds'])}", tested])
    return "\n".join([
        table(["row", "seeds", "micro-F1", "macro-F1", "best in warm-up",
               "row minus prompt_lhmix: points [95 % CI], paired p"], rows), "",
        "Data augmentation (LH-Mix Table 7): prompt without Mixup trained on a training set augmented by EDA "
        "(Wei and Zou 2019: synonym replacement, random insertion, swap and deletion; augment.eda) or by "
        "back-translation (augment.back_translation), beside the main prompt and prompt_lhmix runs of the same "
        "seeds (augment.seeds). An augmented run continues the prompt warm-up of its seed on the augmented set, "
        "as Mixup starts after it, so the test is paired by seed; with one seed per row there is no test. *Best "
        "in warm-up*: runs that never beat their warm-up on dev and score its model, the plain prompt's (then the "
        "row equals the prompt row of that seed)."])


def figure6(results: dict) -> str:
    """The Figure 6 ranks: the labels that entered the top 15 of the chosen label's nearest label words."""
    f = results["figure6"]
    label, control, tops = f["label"], f["control"], f["tops"]
    rows = [[n["name"], str(n["id"]), n["relation"], str(n["rank_before"]), str(n["rank_after"]),
             number(n["cosine_before"], 4), number(n["cosine_after"], 4)]
            for n in f["neighbours"] if n["rank_after"] <= max(tops)]
    counts = ", ".join(f"{f[f'entered_top{k}']} entered the top {k}" for k in tops)
    control_counts = ", ".join(f"{control[f'entered_top{k}']} the top {k}" for k in tops)
    return "\n".join([
        f"Label words nearest **{label['name']}** (id {label['id']}, depth {label['depth']}) by cosine, at "
        f"initialisation and after training ({f['variant']}, seed {f['seed']}): {counts}. Control, {control['variant']} "
        f"(same seed and warm-up, no Mixup): {control_counts}.", "",
        table(["label", "id", "relation", "rank before", "rank after", "cosine before", "cosine after"], rows), "",
        f"The top {max(tops)} after training. Rank 1 is the nearest of the other {f['labels'] - 1} labels; relation "
        "is where the label sits from the chosen one in the tree (peer: same depth, another parent). All ranks: "
        "`figure6.json` (`dvc metrics show`). Before is the initial label words (mean token embedding of the "
        "name), so the change mixes training itself with LH-Mix: the control tells them apart."])


def timing(results: dict) -> str:
    groups = results["timings"]
    rows = [[g["group"], str(g["stages"]), number(g["stage_seconds"], 0), number(g["train_seconds"], 0),
             number(g["examples_per_second"], 1)] for g in groups]
    rows.append(["**total**", str(sum(g["stages"] for g in groups)),
                 number(sum(g["stage_seconds"] for g in groups), 0), number(sum(g["train_seconds"] for g in groups), 0),
                 ""])
    return "\n".join([
        table(["stages", "count", "wall time (s)", "training (s)", "examples/s"], rows), "",
        "Wall time: each training stage counted once, from its own run file: a warm-up's time in the warm-up row, "
        "a warm-started run's time without the warm-up it continues. A stage's time covers loading, training and "
        "test scoring, not Python start-up. The total is the sum of the training stages' wall times; prepare, "
        "similarity and the reporting stages are not included. Examples/s: training examples over training "
        "seconds of the group."])


def markdown(results: dict) -> str:
    config, summary = results["config"], results["summary"]
    seed = config["sweep_seed"]
    table3 = {(r["variant"], r["seed"]): r for r in results["main"]}
    sections = [
        (None, f"F1, precision and recall in %, test set, each run scored with its best dev-macro-F1 checkpoint. "
               f"Main runs: seeds {', '.join(map(str, config['seeds']))}. Trained on: "
               + "; ".join(f"{name} ({count} runs and warm-ups)" for name, count in results["devices"].items())
               + "."),
        ("Table 1: dataset", dataset_table(results["dataset"])),
        ("Verdicts on the paper's claims and on the controls of LH-Mix", verdicts(results)),
        (f"Table 3: ablation (seed {seed})",
         table(["variant", "micro-F1", "macro-F1"],
               [[v, number(table3[(v, seed)]["micro_f1"]), number(table3[(v, seed)]["macro_f1"])] for v in summary])),
        ("Table 4: mean +- std over seeds",
         table(["variant", "seeds", "micro-F1", "macro-F1"],
               [[v, str(s["micro_f1"]["n"]), mean_std(s["micro_f1"]), mean_std(s["macro_f1"])]
                for v, s in summary.items()])),
        (f"Table 5: {REFERENCE} against every other variant", table5(results)),
        ("Diagnostics (main runs, mean over seeds)", diagnostics(results)),
        ("Per depth: precision, recall, F1 and average precision", depth_table(results)),
        ("Threshold-free: average precision of the scores", ap_table(results)),
        (None, sweeps(results).rstrip()),
        (f"Sparse data (seed {seed})", sparse(results)),
        ("Table 2: published numbers (quoted) beside ours", published(results)),
        ("Table 6: graph encoders inside the framework", table6(results)),
        ("Table 7: data augmentation against LH-Mix", table7(results)),
        ("Figure 6: label words nearest one label, before and after training", figure6(results)),
        ("Training time", timing(results)),
    ]
    parts = [f"# Results on {config['dataset']}", ""]
    for heading, body in sections:
        parts += ([f"## {heading}", ""] if heading else []) + [body, ""]
    return "\n".join(parts)
