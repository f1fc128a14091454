"""LH-Mix Figure 6, its computation, ranks table, note and figure: the labels whose label words lie nearest one
label's, at initialisation and after training with LH-Mix, read from a prompt run's label_words.npz (rows in
label id order).

Rank of a label: 1 for the label word with the highest cosine to the chosen label's, among all other
labels; equal cosines go to the lower id. The labels shown are those among the NEIGHBOURS nearest before or
after training (so every label entering the top 3 or top 15 is among them), laid out with the chosen label
by t-SNE, once on the initial and once on the trained label words. A label "enters the top k" when its rank
after training is k or better and its rank before was worse.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from lhmix.core.vocabulary import DATASETS
from lhmix.core.errors import LhmixError, MalformedInput, ParamError
from lhmix.data.hierarchy import Hierarchy
from lhmix.pipeline.plan import RUNS, Plan
from lhmix.reporting import drawing, markdown as md
from lhmix.reporting.variants import paper_name

NEIGHBOURS = 30
TOPS = (3, 15)
DEFAULT_DEPTH = 3
TSNE_PERPLEXITY = 10.0
TSNE_SEED = 0
DIGITS = 4


def default_label(hierarchy: Hierarchy) -> int:
    """The label of depth 3 (the deepest, in a shallower tree) with the most siblings; ties: lowest id."""
    depth = min(DEFAULT_DEPTH, hierarchy.depth)
    children: dict[int | None, int] = {}
    for label in hierarchy.labels:
        children[label.parent] = children.get(label.parent, 0) + 1
    return min(hierarchy.labels_at(depth), key=lambda i: (-children[hierarchy.labels[i].parent], i))


def choose_label(hierarchy: Hierarchy, wanted, dataset: str) -> int:
    """figure6.label: None (the default), a label name or id, or {dataset: name or id}."""
    if isinstance(wanted, dict):
        unknown = sorted(str(key) for key in wanted if key not in DATASETS)
        if unknown:
            raise ParamError(f"figure6.label.{unknown[0]}", wanted[unknown[0]],
                             f"a key that names a dataset ({', '.join(DATASETS)})")
        wanted = wanted.get(dataset)
    if wanted is None:
        return default_label(hierarchy)
    if isinstance(wanted, int) and not isinstance(wanted, bool) and 0 <= wanted < len(hierarchy):
        return wanted
    matches = [label.id for label in hierarchy.labels if label.name == wanted]
    if len(matches) == 1:
        return matches[0]
    if matches:
        raise ParamError("figure6.label", wanted, f"a name only one label of {dataset} has (ids {matches} share "
                         "it): give the id instead")
    raise ParamError("figure6.label", wanted, f"null, a label name or id of {dataset} (its labels.json), or "
                     "{dataset: label}")


def ranks(vectors: np.ndarray, chosen: int) -> tuple[np.ndarray, np.ndarray]:
    """(rank, cosine) of every label against `chosen`: rank 1 the nearest other label, 0 for `chosen`."""
    vectors = np.asarray(vectors, dtype=np.float64)
    norms = np.linalg.norm(vectors, axis=1)
    cosine = vectors @ vectors[chosen] / np.maximum(norms * norms[chosen], np.finfo(np.float64).tiny)
    order = sorted((i for i in range(len(vectors)) if i != chosen), key=lambda i: (-cosine[i], i))
    rank = np.zeros(len(vectors), dtype=int)
    rank[order] = np.arange(1, len(order) + 1)
    return rank, cosine


def relation(hierarchy: Hierarchy, chosen: int, other: int) -> str:
    """Where `other` sits from `chosen` in the tree: parent, child, sibling (same parent), peer (same depth,
    another parent), ancestor, descendant, or other."""
    a, b = hierarchy.labels[chosen], hierarchy.labels[other]
    if b.id == a.parent:
        return "parent"
    if b.parent == a.id:
        return "child"
    if b.depth == a.depth:
        return "sibling" if b.parent == a.parent else "peer"
    if b.id in hierarchy.ancestors(a.id):
        return "ancestor"
    if a.id in hierarchy.ancestors(b.id):
        return "descendant"
    return "other"


def entered(before: np.ndarray, after: np.ndarray) -> dict[str, int]:
    """How many labels rank k or better after and worse than k before, for each k of TOPS (the chosen label,
    rank 0 in both, never counts)."""
    return {f"entered_top{k}": int(np.sum((after <= k) & (before > k))) for k in TOPS}


def tsne(vectors: np.ndarray) -> list[list[float]]:
    """2-D t-SNE of the unit-length vectors (so distances order as cosines do): exact gradients and a
    fixed seed, so equal vectors give equal coordinates, rounded to DIGITS decimals."""
    from sklearn.manifold import TSNE

    unit = np.asarray(vectors, dtype=np.float64)
    unit = unit / np.maximum(np.linalg.norm(unit, axis=1, keepdims=True), np.finfo(np.float64).tiny)
    perplexity = min(TSNE_PERPLEXITY, len(unit) - 1.0)
    layout = TSNE(n_components=2, perplexity=perplexity, init="pca", method="exact",
                  random_state=TSNE_SEED).fit_transform(unit)
    return np.round(layout.astype(np.float64), DIGITS).tolist()


def read_label_words(path: Path, labels: int) -> tuple[np.ndarray, np.ndarray]:
    """(initial, trained) of a label_words.npz, each [labels, H]."""
    if not path.is_file():
        raise LhmixError(f"{path}: missing (a run trained before prompt runs kept their label words): re-run its "
                         "stage, e.g. `dvc repro -f train_lhmix@<dataset>-prompt-<seed>`")
    with np.load(path) as archive:
        words = {name: archive[name] for name in ("initial", "trained") if name in archive}
    for name in ("initial", "trained"):
        if name not in words or words[name].ndim != 2 or len(words[name]) != labels:
            raise MalformedInput(path, None, f"expected '{name}' of shape [{labels} labels, hidden size]")
    return words["initial"], words["trained"]


def figure6(hierarchy: Hierarchy, chosen: int, initial: np.ndarray, trained: np.ndarray) -> dict:
    """The chosen label, its shown neighbours (nearest after training first) with ranks, cosines, relation
    and t-SNE coordinates before and after, and how many entered the top 3 and top 15."""
    if len(hierarchy) < 3:
        raise LhmixError(f"Figure 6 needs at least 3 labels, the hierarchy has {len(hierarchy)}")
    rank_before, cosine_before = ranks(initial, chosen)
    rank_after, cosine_after = ranks(trained, chosen)
    near = (rank_before > 0) & ((rank_before <= NEIGHBOURS) | (rank_after <= NEIGHBOURS))
    shown = sorted(np.flatnonzero(near).tolist(), key=lambda i: rank_after[i])
    points = [chosen, *shown]
    before_xy, after_xy = tsne(initial[points]), tsne(trained[points])
    label = hierarchy.labels[chosen]
    neighbours = [{"id": i, "name": hierarchy.labels[i].name, "depth": hierarchy.labels[i].depth,
                   "relation": relation(hierarchy, chosen, i),
                   "rank_before": int(rank_before[i]), "rank_after": int(rank_after[i]),
                   "cosine_before": round(float(cosine_before[i]), DIGITS),
                   "cosine_after": round(float(cosine_after[i]), DIGITS),
                   "xy_before": before_xy[index], "xy_after": after_xy[index]}
                  for index, i in enumerate(shown, start=1)]
    return {"label": {"id": chosen, "name": label.name, "depth": label.depth, "xy_before": before_xy[0],
                      "xy_after": after_xy[0]},
            "labels": len(hierarchy), "tops": list(TOPS), "neighbours": neighbours,
            **entered(rank_before, rank_after)}


def keyed_by_name(result: dict) -> dict:
    """figure6.json: the ranks and cosines of the neighbours keyed by name (with the id where names repeat),
    so that two versions compare key by key (`dvc diff`, `git diff`)."""
    names = [n["name"] for n in result["neighbours"]]
    neighbours = {(n["name"] if names.count(n["name"]) == 1 else f"{n['name']} (id {n['id']})"):
                  {key: n[key] for key in ("rank_before", "rank_after", "cosine_before", "cosine_after")}
                  for n in result["neighbours"]}
    counts = [f"entered_top{k}" for k in TOPS]
    control = result["control"]
    return {"label": result["label"]["name"], "seed": result["seed"], "variant": result["variant"],
            **{key: result[key] for key in counts},
            "control": {"variant": control["variant"], **{key: control[key] for key in counts}},
            "neighbours": neighbours}


def collect(plan: Plan, dataset: str, hierarchy: Hierarchy, wanted, root: Path = RUNS) -> dict:
    """Figure 6 of the main prompt_lhmix run of seed figure6.seed, and as a control the prompt run of the same
    seed and warm-up (trained without Mixup): how many labels entered its top 3 and top 15."""
    chosen = choose_label(hierarchy, wanted, dataset)
    runs = {run.variant: run for run in plan.main_runs(dataset, root=root) if run.seed == plan.figure6_seed}
    words = {variant: read_label_words(runs[variant].path / "label_words.npz", len(hierarchy))
             for variant in ("prompt_lhmix", "prompt")}
    result = figure6(hierarchy, chosen, *words["prompt_lhmix"])
    before, after = (ranks(vectors, chosen)[0] for vectors in words["prompt"])
    return {**result, "variant": "prompt_lhmix", "seed": plan.figure6_seed,
            "control": {"variant": "prompt", **entered(before, after)}}


def render(results: dict) -> str:
    """The Figure 6 ranks: the labels that entered the top 15 of the chosen label's nearest label words."""
    f = results["figure6"]
    tops = f["tops"]
    rows = [[n["name"], str(n["id"]), n["relation"], str(n["rank_before"]), str(n["rank_after"]),
             md.number(n["cosine_before"], 4), md.number(n["cosine_after"], 4)]
            for n in f["neighbours"] if n["rank_after"] <= max(tops)]
    return "\n".join([
        introduction(f), "",
        md.table(["label", "id", "relation", "rank before", "rank after", "cosine before", "cosine after"], rows), "",
        note(f)])


def introduction(f: dict) -> str:
    label, control, tops = f["label"], f["control"], f["tops"]
    counts = ", ".join(f"{f[f'entered_top{k}']} entered the top {k}" for k in tops)
    control_counts = ", ".join(f"{control[f'entered_top{k}']} the top {k}" for k in tops)
    return (f"Label words nearest **{label['name']}** (id {label['id']}, depth {label['depth']}) by cosine, at "
            f"initialisation and after training ({f['variant']}, seed {f['seed']}): {counts}. Control, "
            f"{control['variant']} (same seed and warm-up, no Mixup): {control_counts}.")


def note(f: dict) -> str:
    return (f"The top {max(f['tops'])} after training. Rank 1 is the nearest of the other {f['labels'] - 1} labels; "
            "relation is where the label sits from the chosen one in the tree (peer: same depth, another parent). All "
            "ranks: `results/<dataset>/figure6.json` (a file beside the metrics, not a DVC metric). Before is the "
            "initial label words (mean token embedding of the name), so the change mixes training itself with LH-Mix: "
            "the control tells them apart.")


def _entered(neighbour: dict, tops: list[int]) -> int | None:
    """The smallest top k the label entered after training, if any."""
    return next((k for k in tops if neighbour["rank_after"] <= k < neighbour["rank_before"]), None)


def draw(results: dict, out: Path) -> list[Path]:
    """Figure 6: t-SNE of the chosen label's label word and its nearest labels', at initialisation and after
    training (separate layouts); the labels that entered the top 3 and top 15 are marked alike in both
    panels, and named with their rank in that panel."""
    f = results["figure6"]
    tops, chosen, colour = sorted(f["tops"]), f["label"], drawing.VARIANT_COLOURS[f["variant"]]
    groups = {tops[0]: {"s": 75, "facecolor": colour, "edgecolor": "black", "linewidths": 0.8,
                        "label": f"entered the top {tops[0]}"},
              tops[1]: {"s": 60, "facecolor": "white", "edgecolor": colour, "linewidths": 2.0,
                        "label": f"entered the top {tops[1]}"},
              None: {"s": 22, "facecolor": "#BBBBBB", "edgecolor": "none", "label": "other labels shown"}}
    figure, axes = drawing.plt.subplots(1, 2, figsize=(12, 5.6), layout="constrained")
    for axis, when, title in ((axes[0], "before", "label words at initialisation"),
                              (axes[1], "after", f"after training ({paper_name(f['variant'])}, seed {f['seed']}: one run)")):
        for key, style in groups.items():
            members = [n for n in f["neighbours"] if _entered(n, tops) == key]
            if members:
                axis.scatter(*zip(*(n[f"xy_{when}"] for n in members)), zorder=3 if key else 2, **style)
            for n in members:
                axis.annotate(f"{n['name']} ({n[f'rank_{when}']})", n[f"xy_{when}"], xytext=(4, 4),
                              textcoords="offset points", fontsize=8 if key else 6.5,
                              color="black" if key else "#777777")
        axis.scatter(*chosen[f"xy_{when}"], marker="*", s=260, color="black", zorder=4,
                     label=f"chosen label: {chosen['name']}")
        axis.annotate(chosen["name"], chosen[f"xy_{when}"], xytext=(6, -12), textcoords="offset points",
                      fontsize=9, fontweight="bold")
        axis.set(title=title, xticks=[], yticks=[])
        axis.margins(0.12)
    figure.suptitle(f"the {len(f['neighbours'])} labels nearest '{chosen['name']}' (depth {chosen['depth']}) before or "
                    "after training: t-SNE of their label words; (n) = rank by cosine in that panel")
    drawing.legend_below(figure, axes[0])
    return drawing.save(figure, out, "fig6_label_words")
