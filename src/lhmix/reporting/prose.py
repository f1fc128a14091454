"""The words of results/<dataset>/tables.md around its tables: what each table shows and how to read it,
as functions of the numbers they quote. lhmix.reporting.tables builds the tables and places these."""
from __future__ import annotations

from lhmix.reporting import paper
from lhmix.reporting.comparisons import REFERENCE
from lhmix.reporting.markdown import number

EARLY_ENOUGH = 0.9  # below this share of main runs stopped by early stopping, the report warns
BEST_IN_WARMUP = ("*(warm-up)*: the run's best dev epoch is a warm-up epoch; it never beat its warm-up on dev and "
                  "scores the warm-up's model, i.e. the plain prompt of that seed.")


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


def table6_note() -> str:
    return ("Graph encoders of HPT's hierarchy injection (HPT section 4.1) inside the framework: `prompt` + gat is "
            "HPT's model here (its graph attention feeding the depth markers, and its MLM loss when "
            "model.prompt.mlm_weight > 0), `prompt_lhmix` + gat is LH-Mix on top of it. The main runs (graph of "
            "model.prompt.graph) are those of the same seeds. *vs main*: the difference in F1 points to the main runs "
            "of the same variant, not tested (one seed gives no test; graph and main runs share no warm-up). Time per "
            "epoch: training seconds of the runs and the warm-ups they continue over the epochs those trained; runs "
            "timed at different moments on a shared machine compare roughly.")


def table7_note() -> str:
    return ("Data augmentation (LH-Mix Table 7): prompt without Mixup trained on a training set augmented by EDA "
            "(Wei and Zou 2019: synonym replacement, random insertion, swap and deletion; augment.eda) or by "
            "back-translation (augment.back_translation), beside the main prompt and prompt_lhmix runs of the same "
            "seeds (augment.seeds). An augmented run continues the prompt warm-up of its seed on the augmented set, "
            "as Mixup starts after it, so the test is paired by seed; with one seed per row there is no test. *Best "
            "in warm-up*: runs that never beat their warm-up on dev and score its model, the plain prompt's (then the "
            "row equals the prompt row of that seed).")


def figure6_introduction(f: dict) -> str:
    label, control, tops = f["label"], f["control"], f["tops"]
    counts = ", ".join(f"{f[f'entered_top{k}']} entered the top {k}" for k in tops)
    control_counts = ", ".join(f"{control[f'entered_top{k}']} the top {k}" for k in tops)
    return (f"Label words nearest **{label['name']}** (id {label['id']}, depth {label['depth']}) by cosine, at "
            f"initialisation and after training ({f['variant']}, seed {f['seed']}): {counts}. Control, "
            f"{control['variant']} (same seed and warm-up, no Mixup): {control_counts}.")


def figure6_note(f: dict) -> str:
    return (f"The top {max(f['tops'])} after training. Rank 1 is the nearest of the other {f['labels'] - 1} labels; "
            "relation is where the label sits from the chosen one in the tree (peer: same depth, another parent). All "
            "ranks: `results/<dataset>/figure6.json` (a file beside the metrics, not a DVC metric). Before is the initial label words (mean token embedding of "
            "the name), so the change mixes training itself with LH-Mix: the control tells them apart.")


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
