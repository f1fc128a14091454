"""LH-Mix Table 2, its rendering and notes: the published numbers (quoted from the papers, lhmix.reporting.paper)
beside our nearest rows, and how far ours lie from LH-Mix's own, in units of its Table 4 standard deviation."""
from __future__ import annotations

from lhmix.reporting import markdown as md, paper
from lhmix.reporting.table6 import summaries as graph_summaries


def _reproduced(results: dict) -> dict:
    """Our rows by name: the main variants and the Table 6 graph runs (prompt+gat, ...)."""
    return {**results["summary"], **graph_summaries(results["table6"])}


def render(results: dict) -> str:
    """Table 2 as published beside our rows, then how far ours lie from LH-Mix's own numbers."""
    dataset = results["config"]["dataset"]
    if not paper.published(dataset):
        return no_published_number(dataset)
    return "\n\n".join([table2_context(results), distances(results)])


def distances(results: dict) -> str:
    dataset = results["config"]["dataset"]
    rows = [[r["paper"], md.METRIC_NAMES[r["metric"]],
             f"{r['value']:.2f}" + ("" if r["std"] is None else f" +- {r['std']:.2f}"),
             f"{r['variant']}: {md.mean_std({'mean': r['ours'], 'std': r['ours_std']})} ({r['seeds']} seeds)",
             md.number(r["diff"], sign=True), md.number(r["diff_in_std"], 1, sign=True)] for r in
            paper.comparison(dataset, _reproduced(results))]
    return "\n".join([
        md.table(["paper value (quoted)", "F1", "paper", "ours (mean +- std)", "ours - paper (points)",
               "in paper std units"], rows), "",
        distances_note(dataset)])


def table2_context(results: dict) -> str:
    """Table 2 as published, with the reproduced row beside each model we run."""
    dataset = results["config"]["dataset"]
    rows = []
    for r in paper.context(dataset, _reproduced(results)):
        ours = r["reproduced"]
        reproduced = ([f"{r['ours']} ({ours['micro_f1']['n']} seeds)", md.mean_std(ours["micro_f1"]),
                       md.mean_std(ours["macro_f1"])] if ours else
                      [f"{r['ours']}: not run" if r["ours"] else "not reproduced", "", ""])
        quoted = ["-" if r[metric] is None else f"{r[metric]:.2f}" for metric in md.METRIC_NAMES]
        rows.append([r["model"], *quoted, r["source"], *reproduced])
    return "\n".join([
        md.table(["model", "micro-F1 (quoted)", "macro-F1 (quoted)", "source", "ours", "micro-F1", "macro-F1"], rows),
        "",
        table2_note(dataset)])


def no_published_number(dataset: str) -> str:
    return (f"No published number: {dataset} is not one of the paper's datasets "
            f"({', '.join(paper.NAMES.values())}), so there is nothing to compare with.")


def distances_note(dataset: str) -> str:
    micro, macro = (spread for _, spread in paper.TABLE4[dataset])
    return (f"Paper values quoted from {paper.SOURCE}, {paper.NAMES[dataset]}. The last column divides the difference "
            f"by the Table 4 standard deviation of LH-Mix over five seeds ({micro:.2f} micro, {macro:.2f} macro) for "
            "every row, HPT's included: the paper gives no other spread. Ours is the mean over our seeds, also where "
            "the paper reports one run. HPT's counterpart is `hpt`, the hierarchical prompt with HPT's graph "
            "hierarchy injection (HPT section 4.1), trained on every main seed.")


def table2_note(dataset: str) -> str:
    others = ", ".join(model for model in paper.QUOTED if model not in paper.OURS)
    return (f"The quoted columns are copied from the papers named ({paper.NAMES[dataset]}; - where the source has no "
            "number), not reproduced here. Our rows: `bert` ~ BERT (a [CLS] classifier; HGCLR's BERT is their own "
            "run), `hpt` ~ HPT (the hierarchical prompt with HPT's graph hierarchy injection, every main seed), "
            f"`prompt_lhmix` ~ LH-Mix; mean +- std over our seeds. Not reproduced: {others}.")
