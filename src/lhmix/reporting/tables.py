"""results/<dataset>/tables.md: every section of one dataset's results in markdown, from its results.json, in
the paper's order after the verdicts; the artefacts with modules of their own (Tables 2, 5, 6, 7, Figure 6, the
summary, the mechanism, the continuations) render there, the smaller ones (Tables 1, 3, 4, the sweeps, the
sparse-data runs, diagnostics, training time) here."""
from __future__ import annotations

from lhmix.reporting import continuations, figure6, prose, table2, table5, table6, table7
from lhmix.reporting.comparisons import REFERENCE
from lhmix.reporting.markdown import histogram, mean_std, number, table
from lhmix.reporting.mechanism import mechanism_table
from lhmix.reporting.per_depth import depth_differences, depth_table
from lhmix.reporting.summary import HEADING as SUMMARY, summary as verdicts_at_a_glance
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
        ("Table 2: published numbers (quoted) beside ours", table2.render(results)),
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
         _when_run([e for e in results["table6"] if not e["main_runs"]], lambda: table6.render(results),
                   "graph encoder runs", "table6.graphs")),
        ("Table 7: data augmentation against LH-Mix",
         _when_run([e for e in results["table7"] if "missing" not in e], lambda: table7.render(results),
                   "augmentation runs", "augment.seeds")),
        (f"Figure 4: sparse data (seed {seed})",
         _when_run(results["sparse"], lambda: sparse(results), "sparse-data runs", "sweeps.sparse")),
        (None if swept else "Figure 5: α and β sweeps",
         sweeps(results).rstrip() if swept else prose.not_run("sweep points", "sweeps.alpha, sweeps.beta")),
        ("Figure 6: label words nearest one label, before and after training", figure6.render(results)),
        ("Diagnostics (main runs, mean over seeds)", diagnostics(results)),
        ("Per depth: precision, recall, F1 and average precision", depth_table(results)),
        ("Threshold-free: average precision of the scores", ap_table(results)),
        ("Training time", timing(results)),
    ]
    parts = [f"# Results on {config['dataset']}", ""]
    for heading, body in sections:
        parts += ([f"## {heading}", ""] if heading else []) + [body, ""]
    return "\n".join(parts)
