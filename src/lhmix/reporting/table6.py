"""LH-Mix appendix, Table 6, its computation, table and note: prompt and prompt_lhmix with each graph encoder
of HPT's hierarchy injection (HPT section 4.1) beside the main runs of the same seeds, and what each costs in
training time, since the paper weighs a graph encoder's gain against its extra time.

Time per epoch of an entry: the training seconds of its runs and of the warm-ups they continue, over the
epochs those trained, all seeds together (a warm-up counts for both variants it feeds).
"""
from __future__ import annotations

from lhmix.core.errors import LhmixError
from lhmix.reporting import markdown as md
from lhmix.reporting.stats import mean_std

VARIANTS = ("prompt", "prompt_lhmix")
F1S = ("micro_f1", "macro_f1")


def _entry(runs: list[dict], warmups: dict[int, dict], main: bool) -> dict:
    missing = sorted({r["seed"] for r in runs} - set(warmups))
    if missing:
        raise LhmixError(f"Table 6: no warm-up of seeds {missing} for {runs[0]['variant']} with graph "
                         f"{runs[0]['graph']}")
    seconds = sum(r["train_seconds"] + warmups[r["seed"]]["train_seconds"] for r in runs)
    epochs = sum(r["epochs_trained"] + warmups[r["seed"]]["epochs_trained"] for r in runs)
    return {"graph": runs[0]["graph"], "main_runs": main, "variant": runs[0]["variant"],
            "seeds": sorted(r["seed"] for r in runs), **{m: mean_std(r[m] for r in runs) for m in F1S},
            "seconds_per_epoch": seconds / epochs if epochs else None}


def _ratio(value: float | None, reference: float | None) -> float | None:
    return value / reference if value is not None and reference else None


def entries(main: list[dict], main_warmups: list[dict], runs: list[dict], warmups: list[dict],
            graphs: list[str], seeds: list[int]) -> list[dict]:
    """One entry per source (the main runs first, then each of `graphs`) and variant, over `seeds`: F1
    {mean, std, n}, seconds per epoch, and the differences to the main runs' entry of the same variant
    (F1 in points, time as a ratio). `main_warmups` and `warmups` are warm-up rows (variant = family)."""
    sources = [(True, [r for r in main if r["seed"] in seeds],
                [w for w in main_warmups if w["variant"] == "prompt" and w["fraction"] is None])]
    sources += [(False, [r for r in runs if r["graph"] == graph], [w for w in warmups if w["graph"] == graph])
                for graph in graphs]
    table = []
    for is_main, rows, warmup_rows in sources:
        by_seed = {w["seed"]: w for w in warmup_rows}
        for variant in VARIANTS:
            chosen = [r for r in rows if r["variant"] == variant]
            if chosen:
                table.append(_entry(chosen, by_seed, is_main))
    base = {e["variant"]: e for e in table if e["main_runs"]}
    for entry in table:
        reference = base.get(entry["variant"])
        for metric in F1S:
            entry[f"{metric}_vs_main"] = entry[metric]["mean"] - reference[metric]["mean"] if reference else None
        entry["time_vs_main"] = _ratio(entry["seconds_per_epoch"], reference and reference["seconds_per_epoch"])
    return table


def summaries(table: list[dict]) -> dict:
    """{"prompt+gat": {metric: {mean, std, n}}, ...}: the graph entries as rows beside the main variants."""
    return {f"{e['variant']}+{e['graph']}": {metric: e[metric] for metric in F1S}
            for e in table if not e["main_runs"]}


def render(results: dict) -> str:
    """LH-Mix appendix Table 6: graph encoders inside the framework, with their time per epoch."""
    rows = []
    for e in results["table6"]:
        graph = f"{e['graph']} (main runs)" if e["main_runs"] else e["graph"]
        variant = e["variant"] + (" (HPT)" if e["variant"] == "prompt" and e["graph"] == "gat" else "")
        versus = (["-"] * 3 if e["main_runs"] else
                  [md.number(e["micro_f1_vs_main"], sign=True), md.number(e["macro_f1_vs_main"], sign=True),
                   "n/a" if e["time_vs_main"] is None else f"{e['time_vs_main']:.2f} x"])
        rows.append([graph, variant, ", ".join(map(str, e["seeds"])), md.mean_std(e["micro_f1"]),
                     md.mean_std(e["macro_f1"]), md.number(e["seconds_per_epoch"]), *versus])
    return "\n".join([
        md.table(["graph encoder", "variant", "seeds", "micro-F1", "macro-F1", "s / epoch", "micro vs main",
                  "macro vs main", "time vs main"], rows), "",
        note()])


def note() -> str:
    return ("Graph encoders of HPT's hierarchy injection (HPT section 4.1) inside the framework: `prompt` + gat is "
            "HPT's model here (its graph attention feeding the depth markers, and its MLM loss when "
            "model.prompt.mlm_weight > 0), `prompt_lhmix` + gat is LH-Mix on top of it. The main runs (graph of "
            "model.prompt.graph) are those of the same seeds. *vs main*: the difference in F1 points to the main runs "
            "of the same variant, not tested (one seed gives no test; graph and main runs share no warm-up). Time per "
            "epoch: training seconds of the runs and the warm-ups they continue over the epochs those trained; runs "
            "timed at different moments on a shared machine compare roughly.")
