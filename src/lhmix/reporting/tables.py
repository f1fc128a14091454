"""results/<dataset>/tables.md: every table of one dataset in markdown, from its results.json."""
from __future__ import annotations

from lhmix.reporting import continuations, paper, prose, table5
from lhmix.reporting.comparisons import REFERENCE
from lhmix.reporting.markdown import (METRIC_NAMES, histogram, interval, mean_std, number, p_value,  # noqa: F401
                                     t_df, table)
from lhmix.reporting.mechanism import mechanism_table
from lhmix.reporting.per_depth import depth_differences, depth_table
from lhmix.reporting.summary import HEADING as SUMMARY, summary as verdicts_at_a_glance
from lhmix.reporting.table6 import summaries as graph_summaries
from lhmix.reporting.variants import best_in_warmup, family as family_of
from lhmix.reporting.verdicts import ap_table, families, tuned_table, verdicts


def dataset_table(stats: dict) -> str:
    dropped = ", ".join(f"{k}: {v}" for k, v in stats["dropped"].items()) or "none"
    return table(["depth", "labels", "labels per level", "avg labels/doc", "train", "dev", "test", "dropped"],
                 [[str(stats["depth"]), str(stats["num_labels"]), " / ".join(map(str, stats["labels_per_level"])),
                   f"{stats['avg_labels_per_doc']:.2f}", *(str(stats["splits"][s]) for s in ("train", "dev", "test")),
                   dropped]])


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
        prose.diagnostics_note(), "", prose.stopping(results["stopping"]),
        *prose.mixing(results), *mixing_effect(results)])


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
        lines.append(prose.mixing_effect_line(variant, family, d, plain, summary))
    if not lines:
        return []
    return prose.mixing_effect(lines)


def sweeps(results: dict) -> str:
    parts = []
    for grid, fixed in (("alpha", "β = 1"), ("beta", "α = 1")):
        symbol = "α" if grid == "alpha" else "β"
        rows = [[f"{r[grid]:g}", number(r["micro_f1"]), number(r["macro_f1"]), histogram(r.get("lambda")),
                 str(r["epochs_run"]), best_epoch(r), r["stop_reason"]] for r in results["sweeps"][grid]]
        parts += [f"## Figure 5: {symbol} sweep ({REFERENCE}, {fixed}, seed {results['config']['sweep_seed']})", "",
                  table([symbol, "micro-F1", "macro-F1", "λ used: mean [5 %, 50 %, 95 %]", "epochs run",
                         "best epoch", "stop"], rows), "", prose.BEST_IN_WARMUP, ""]
    return "\n".join(parts)


def best_epoch(row: dict) -> str:
    return f"{row['best_epoch']} *(warm-up)*" if best_in_warmup(row) else str(row["best_epoch"])


def sparse(results: dict) -> str:
    rows = [[f"{r['fraction']:g}", r["variant"], number(r["micro_f1"]), number(r["macro_f1"]), str(r["epochs_run"]),
             best_epoch(r), r["stop_reason"]] for r in results["sparse"]]
    return "\n".join([table(["fraction of train", "variant", "micro-F1", "macro-F1", "epochs run", "best epoch",
                             "stop"], rows), "", prose.BEST_IN_WARMUP])


def _reproduced(results: dict) -> dict:
    """Our rows by name: the main variants and the Table 6 graph runs (prompt+gat, ...)."""
    return {**results["summary"], **graph_summaries(results["table6"])}


def published(results: dict) -> str:
    """Table 2 as published beside our rows, then how far ours lie from LH-Mix's own numbers."""
    dataset = results["config"]["dataset"]
    if not paper.published(dataset):
        return prose.no_published_number(dataset)
    return "\n\n".join([table2_context(results), distances(results)])


def distances(results: dict) -> str:
    dataset = results["config"]["dataset"]
    rows = [[r["paper"], METRIC_NAMES[r["metric"]],
             f"{r['value']:.2f}" + ("" if r["std"] is None else f" +- {r['std']:.2f}"),
             f"{r['variant']}: {mean_std({'mean': r['ours'], 'std': r['ours_std']})} ({r['seeds']} seeds)",
             number(r["diff"], sign=True), number(r["diff_in_std"], 1, sign=True)] for r in
            paper.comparison(dataset, _reproduced(results))]
    return "\n".join([
        table(["paper value (quoted)", "F1", "paper", "ours (mean +- std)", "ours - paper (points)",
               "in paper std units"], rows), "",
        prose.distances_note(dataset)])


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
    return "\n".join([
        table(["model", "micro-F1 (quoted)", "macro-F1 (quoted)", "source", "ours", "micro-F1", "macro-F1"], rows),
        "",
        prose.table2_note(dataset)])


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
        prose.table6_note()])


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
        prose.table7_note()])


def figure6(results: dict) -> str:
    """The Figure 6 ranks: the labels that entered the top 15 of the chosen label's nearest label words."""
    f = results["figure6"]
    tops = f["tops"]
    rows = [[n["name"], str(n["id"]), n["relation"], str(n["rank_before"]), str(n["rank_after"]),
             number(n["cosine_before"], 4), number(n["cosine_after"], 4)]
            for n in f["neighbours"] if n["rank_after"] <= max(tops)]
    return "\n".join([
        prose.figure6_introduction(f), "",
        table(["label", "id", "relation", "rank before", "rank after", "cosine before", "cosine after"], rows), "",
        prose.figure6_note(f)])


def timing(results: dict) -> str:
    groups = results["timings"]
    rows = [[g["group"], str(g["stages"]), number(g["stage_seconds"], 0), number(g["train_seconds"], 0),
             number(g["examples_per_second"], 1)] for g in groups]
    rows.append(["**total**", str(sum(g["stages"] for g in groups)),
                 number(sum(g["stage_seconds"] for g in groups), 0), number(sum(g["train_seconds"] for g in groups), 0),
                 ""])
    return "\n".join([
        table(["stages", "count", "wall time (s)", "training (s)", "examples/s"], rows), "",
        prose.timing_note()])


def _when_run(rows, render, what: str, keys: str) -> str:
    return render() if rows else prose.not_run(what, keys)


def markdown(results: dict) -> str:
    """The verdicts first, then the paper's tables and figures in its order, then what explains them."""
    config, summary = results["config"], results["summary"]
    seed = config["sweep_seed"]
    table3 = {(r["variant"], r["seed"]): r for r in results["main"] + results["spread"] + results["hpt"]}
    swept = results["sweeps"]["alpha"] or results["sweeps"]["beta"]
    sections = [
        (None, prose.introduction(config, results["devices"])),
        ("How the claims are tested", families(results)),
        (SUMMARY, verdicts_at_a_glance(results)),
        ("Verdicts on the paper's claims", verdicts(results)),
        ("The mechanism: LH-Mix against its controls, per regime (equivalence tests)", mechanism_table(results)),
        ("What the epochs after the warm-up reached on dev", continuations.render(results)),
        ("Threshold or ranking: LH-Mix against the prompt at 0 and at thresholds tuned on dev", tuned_table(results)),
        ("Per depth: micro-F1 differences", depth_differences(results)),
        ("Table 1: dataset", dataset_table(results["dataset"])),
        ("Table 2: published numbers (quoted) beside ours", published(results)),
        (f"Table 3: ablation (seed {seed})",
         table(["variant", "micro-F1", "macro-F1"],
               [[v, number(table3[(v, seed)]["micro_f1"]), number(table3[(v, seed)]["macro_f1"])] for v in summary
                if (v, seed) in table3])),
        ("Table 4: mean +- std over seeds",
         table(["variant", "seeds", "micro-F1", "macro-F1"],
               [[v, str(s["micro_f1"]["n"]), mean_std(s["micro_f1"]), mean_std(s["macro_f1"])]
                for v, s in summary.items()])),
        (f"Table 5: {REFERENCE} against every other variant", table5.render(results)),
        ("Table 6: graph encoders inside the framework",
         _when_run([e for e in results["table6"] if not e["main_runs"]], lambda: table6(results),
                   "graph encoder runs", "table6.graphs")),
        ("Table 7: data augmentation against LH-Mix",
         _when_run([e for e in results["table7"] if "missing" not in e], lambda: table7(results),
                   "augmentation runs", "augment.seeds")),
        (f"Figure 4: sparse data (seed {seed})",
         _when_run(results["sparse"], lambda: sparse(results), "sparse-data runs", "sweeps.sparse")),
        (None if swept else "Figure 5: α and β sweeps",
         sweeps(results).rstrip() if swept else prose.not_run("sweep points", "sweeps.alpha, sweeps.beta")),
        ("Figure 6: label words nearest one label, before and after training", figure6(results)),
        ("Diagnostics (main runs, mean over seeds)", diagnostics(results)),
        ("Per depth: precision, recall, F1 and average precision", depth_table(results)),
        ("Threshold-free: average precision of the scores", ap_table(results)),
        ("Training time", timing(results)),
    ]
    parts = [f"# Results on {config['dataset']}", ""]
    for heading, body in sections:
        parts += ([f"## {heading}", ""] if heading else []) + [body, ""]
    return "\n".join(parts)
