"""results/<dataset>/tables.md: every section of one dataset's results in markdown, from its results.json, in
the paper's order after the verdicts. Each of the paper's tables and figures renders in a module of its own
(lhmix.reporting.table1 ... table7, figure4 ... figure6), as do the summary, the verdicts, the mechanism and the
continuations; what explains them (diagnostics, training time) renders here."""
from __future__ import annotations

from lhmix.reporting import (continuations, figure4, figure5, figure6, prose, table1, table2, table3, table4, table5,
                             table6, table7)
from lhmix.reporting.comparisons import REFERENCE
from lhmix.reporting.markdown import histogram, number, table
from lhmix.reporting.mechanism import mechanism_table
from lhmix.reporting.per_depth import depth_differences, depth_table
from lhmix.reporting.summary import HEADING as SUMMARY, summary as verdicts_at_a_glance
from lhmix.reporting.variants import family as family_of
from lhmix.reporting.verdicts import ap_table, families, tuned_table, verdicts


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
    config = results["config"]
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
        ("Table 1: dataset", table1.render(results)),
        ("Table 2: published numbers (quoted) beside ours", table2.render(results)),
        (f"Table 3: ablation (seed {table3.seed(results)})", table3.render(results)),
        ("Table 4: mean +- std over seeds", table4.render(results)),
        (f"Table 5: {REFERENCE} against every other variant", table5.render(results)),
        ("Table 6: graph encoders inside the framework",
         _when_run([e for e in results["table6"] if not e["main_runs"]], lambda: table6.render(results),
                   "graph encoder runs", "table6.graphs")),
        ("Table 7: data augmentation against LH-Mix",
         _when_run([e for e in results["table7"] if "missing" not in e], lambda: table7.render(results),
                   "augmentation runs", "augment.seeds")),
        (f"Figure 4: sparse data (seed {table3.seed(results)})",
         _when_run(results["sparse"], lambda: figure4.render(results), "sparse-data runs", "sweeps.sparse")),
        (None if swept else "Figure 5: α and β sweeps",
         figure5.render(results).rstrip() if swept else prose.not_run("sweep points", "sweeps.alpha, sweeps.beta")),
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
