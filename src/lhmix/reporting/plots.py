"""The paper's figures from results/<dataset>/results.json, each as PNG (150 dpi) and SVG, same bytes for
the same results.

Figure 3: the LH-Mix ratio lambda(s) over the paper's alpha and beta grids (LH-Mix Eq. 4), and the s of
the actual training pairs with the lambda they give; Figure 4: sparse training data; Figure 5: alpha and
beta sweeps; Figure 6: the label words nearest one label, before and after training (t-SNE); Figure 7: F1 by
depth and by label frequency; the dev-set training curves. Variants carry the papers' names
(lhmix.reporting.variants.PAPER_NAMES); every figure says how many seeds each point averages, with error bars
of one std over them where there are several; SVG text stays text (searchable, citable).
"""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from lhmix.core.histogram import BINS as HISTOGRAM_BINS  # noqa: E402
from lhmix.core.ratios import lhmix_lambda  # noqa: E402
from lhmix.reporting.report import SVG_FOLDER  # noqa: E402
from lhmix.reporting.stats import mean_std  # noqa: E402
from lhmix.core.vocabulary import CONTROL_FAMILY, CONTROLS, variant_name  # noqa: E402
from lhmix.reporting.variants import LHMIX, best_in_warmup, by_variant, family, paper_name  # noqa: E402

CONTROL_VARIANTS = {variant_name(CONTROL_FAMILY, control) for control in CONTROLS}

# One colour per variant in every figure (Okabe-Ito, colour-blind safe); bert dashed, prompt solid.
VARIANT_COLOURS = {"bert": "#56B4E9", "bert_mixup": "#0072B2", "bert_lhmix": "#009E73",
                   "prompt": "#E69F00", "prompt_mixup": "#D55E00", "prompt_lhmix": "#CC79A7",
                   # the controls of LH-Mix: greys, dotted, so the paper's variants stand out
                   "prompt_lhmix_shuffled": "#666666", "prompt_fixed_lambda": "#AAAAAA"}
CONTROL_LINE = ":"
FAMILY_LINES = {"bert": "--", "prompt": "-"}
PAPER_ALPHAS = (0.1, 0.3, 0.6, 1, 2, 5, 10)
PAPER_BETAS = (0.7, 0.75, 0.8, 0.85, 0.9, 0.95, 1)
F1_LABELS = {"micro_f1": "micro-F1 (%)", "macro_f1": "macro-F1 (%)"}
STYLE = {"font.size": 10, "axes.labelsize": 10.5, "axes.titlesize": 11, "legend.fontsize": 9,
         "xtick.labelsize": 9.5, "ytick.labelsize": 9.5, "svg.hashsalt": "lhmix-report", "svg.fonttype": "none"}
S_BINS_PER_BAR = 5  # the s panel draws bars of 0.005: 5 of the run files' 0.001 bins
DODGE = 0.04        # variants drawn side by side, this far apart on x, so equal values hide no curve
DPI = 150


def _line_style(variant: str) -> dict:
    line = CONTROL_LINE if variant in CONTROL_VARIANTS else FAMILY_LINES.get(family(variant), "-")
    return {"color": VARIANT_COLOURS.get(variant, "grey"), "linestyle": line,
            "marker": "o", "markersize": 4, "label": paper_name(variant)}


def _dodge(index: int, count: int) -> float:
    """x offset of the index-th of `count` variants on an axis of whole steps (epochs, categories)."""
    return (index - (count - 1) / 2) * DODGE


def _grid_ticks(axis, values, positions=None) -> None:
    """Ticks at the grid points, written as in params.yaml (no 10^x on a log axis)."""
    axis.set_xticks(values if positions is None else positions, [f"{v:g}" for v in values])
    axis.minorticks_off()


def svg_folder(png_folder: Path) -> Path:
    """Where the SVGs go: a sibling of the PNGs' folder, so that `dvc plots show`, which shows every image of
    the folder declared as plots (the PNGs'), shows each figure once."""
    return png_folder.parent / SVG_FOLDER


def _save(figure, out: Path, stem: str) -> list[Path]:
    """PNG (in `out`) and SVG (in svg_folder(out)) with no date or software version inside, so equal results
    give equal bytes."""
    png, svg = out / f"{stem}.png", svg_folder(out) / f"{stem}.svg"
    figure.savefig(png, dpi=DPI, metadata={"Software": None})
    figure.savefig(svg, metadata={"Date": None, "Creator": None})
    plt.close(figure)
    return [png, svg]


def _legend_below(figure, axis, columns: int = 6) -> None:
    handles, labels = axis.get_legend_handles_labels()
    if handles:
        figure.legend(handles, labels, loc="outside lower center", ncol=min(columns, len(handles)), frameon=False)


def _empty(axis, what: str) -> None:
    axis.text(0.5, 0.5, f"no {what}", ha="center", va="center", transform=axis.transAxes)


def _runs(count: int, what: str = "run") -> str:
    return f"{count} {what}{'' if count == 1 else 's'}"


def _seed_count(runs: dict[str, list[dict]]) -> str:
    """How many seeds the variants' means average: '5 seeds', or '2 to 5 seeds' when variants differ."""
    counts = sorted({len({r["seed"] for r in rows}) for rows in runs.values()}) or [0]
    if len(counts) == 1:
        return _runs(counts[0], "seed")
    return f"{counts[0]} to {counts[-1]} seeds"


def _ratio(s: np.ndarray, alpha: float, beta: float) -> np.ndarray:
    return lhmix_lambda(np.clip(s, 0.0, 1.0), alpha, beta)


def _grid_panel(axis, values, name: str, fixed: str, ratio) -> None:
    s = np.linspace(0, 1, 201)
    colours = plt.cm.viridis(np.linspace(0, 0.9, len(values)))
    for value, colour in zip(values, colours):
        axis.plot(s, ratio(s, value), color=colour, label=f"${name}$ = {value:g}")
    axis.set(title=f"${fixed}$", xlabel="similarity $s$", ylabel=r"mixing ratio $\lambda$", ylim=(0.48, 1.02))
    axis.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)


def _similarity_panel(axis, s_hist: dict | None, runs: int, alpha: float, beta: float) -> None:
    """Pooled s of the main LH-Mix runs' training pairs (bars) and lambda(s) at the configured ratio."""
    axis.set(title=rf"LH-Mix training pairs, {_runs(runs)} pooled ($\alpha$ = {alpha:g}, $\beta$ = {beta:g})",
             xlabel="similarity $s$")
    if not s_hist or not s_hist.get("n"):
        _empty(axis, "LH-Mix training pairs recorded")
        return
    counts = np.zeros(HISTOGRAM_BINS)
    counts[s_hist["first_bin"]:s_hist["first_bin"] + len(s_hist["counts"])] = s_hist["counts"]
    bars = counts.reshape(-1, S_BINS_PER_BAR).sum(axis=1) / s_hist["n"]
    width = S_BINS_PER_BAR / HISTOGRAM_BINS
    edges = np.arange(len(bars)) * width
    used = bars > 0
    axis.bar(edges[used], 100 * bars[used], width=width, align="edge", color=VARIANT_COLOURS["prompt_lhmix"],
             alpha=0.6, label="pairs (% per 0.005 of s)")
    axis.set_ylabel("share of training pairs (%)")
    low, high = s_hist["min"], s_hist["max"]
    axis.set_xlim(max(0.0, low - 0.05), min(1.0, high + 0.02) if high < 0.98 else 1.0)
    right = axis.twinx()
    s = np.linspace(*axis.get_xlim(), 200)
    right.plot(s, _ratio(s, alpha, beta), color="black", label=r"$\lambda(s)$")
    right.set_ylabel(r"$\lambda(s)$ (black line)")
    right.set_ylim(0.48, max(beta, 0.6) + 0.02)
    lam_low, lam_high = _ratio(np.array([high, low]), alpha, beta)
    axis.text(0.03, 0.97, f"min-max over the pairs:\n$s$ in [{low:.3f}, {high:.3f}]\n"
              + rf"$\rightarrow\ \lambda$ in [{lam_low:.3f}, {lam_high:.3f}]",
              transform=axis.transAxes, va="top", ha="left", fontsize=9.5,
              bbox={"facecolor": "white", "edgecolor": "grey", "alpha": 0.9})


def lambda_figure(results: dict, out: Path) -> list[Path]:
    """Figure 3 (LH-Mix Eq. 4), plus the similarity of the actual training pairs."""
    config = results["config"]
    figure, (left, middle, right) = plt.subplots(1, 3, figsize=(14, 4.2), layout="constrained")
    _grid_panel(left, PAPER_ALPHAS, r"\alpha", r"\beta = 1", lambda s, a: _ratio(s, a, 1.0))
    _grid_panel(middle, PAPER_BETAS, r"\beta", r"\alpha = 1", lambda s, b: _ratio(s, 1.0, b))
    lhmix = results["diagnostics"].get(LHMIX, {})
    _similarity_panel(right, lhmix.get("s"), lhmix.get("runs", 0), config["alpha"], config["beta"])
    return _save(figure, out, "fig3_lambda")


def _not_run_figure(out: Path, stem: str, title: str, keys: str) -> list[Path]:
    """A figure whose runs params.yaml does not list: one panel saying so and how to run them."""
    figure, axis = plt.subplots(figsize=(7, 1.6), layout="constrained")
    axis.set_axis_off()
    axis.text(0.5, 0.5, f"{title}: not run in this profile\n(params.yaml: {keys} lists none).\nThe profile "
              "default-full runs it: dvc exp run -S profile=default-full", ha="center", va="center",
              transform=axis.transAxes)
    return _save(figure, out, stem)


def sparse_figure(results: dict, out: Path) -> list[Path]:
    """Figure 4: F1 against the fraction of training data, one panel per F1 (one run per point); the
    fractions as equally spaced steps, largest first."""
    if not results["sparse"]:
        return _not_run_figure(out, "fig4_sparse", "Figure 4, sparse data", "sweeps.sparse")
    figure, axes = plt.subplots(1, 2, figsize=(9, 4), layout="constrained")
    runs = by_variant(results["sparse"])
    fractions = sorted({r["fraction"] for r in results["sparse"]}, reverse=True)
    for axis, (metric, label) in zip(axes, F1_LABELS.items()):
        for index, (variant, rows) in enumerate(runs.items()):
            value = {r["fraction"]: r[metric] for r in rows}
            axis.plot([step + _dodge(index, len(runs)) for step in range(len(fractions))],
                      [value[f] for f in fractions], **_line_style(variant))
        if runs:
            _grid_ticks(axis, fractions, positions=range(len(fractions)))
            axis.set_xlim(-0.5, len(fractions) - 0.5)
        else:
            _empty(axis, "sparse runs in params.yaml\n(profile default-full runs them)")
        axis.set(xlabel="fraction of the training set", ylabel=label)
    figure.suptitle(f"sparse data: one run per point (seed {results['config']['sweep_seed']}), so no error bars")
    _legend_below(figure, axes[0])
    return _save(figure, out, "fig4_sparse")


def sweeps_figure(results: dict, out: Path) -> list[Path]:
    """Figure 5: LH-Mix over the alpha grid (beta = 1) and the beta grid (alpha = 1), one row per F1, one run per
    point (params sweeps.seed: no error bars), beside the prompt without Mixup from the same warm-up (dotted) and,
    for scale, the main runs' spread of that prompt over their seeds (band, mean +- std). A point whose best dev
    epoch is a warm-up epoch scores the warm-up's model, not an LH-Mix one: it is marked."""
    if not (results["sweeps"]["alpha"] or results["sweeps"]["beta"]):
        return _not_run_figure(out, "fig5_sweeps", "Figure 5, the alpha and beta sweeps", "sweeps.alpha, sweeps.beta")
    seed = results["config"]["sweep_seed"]
    prompts = [r for r in results["main"] if r["variant"] == "prompt"]
    baseline = next((r for r in prompts if r["seed"] == seed), None)
    figure, axes = plt.subplots(2, 2, figsize=(9, 6.8), layout="constrained", sharex="col")
    for column, (grid, symbol, fixed) in enumerate((("alpha", r"\alpha", r"\beta = 1"),
                                                    ("beta", r"\beta", r"\alpha = 1"))):
        rows = sorted(results["sweeps"][grid], key=lambda r: r[grid])
        for row_index, (metric, label) in enumerate(F1_LABELS.items()):
            axis = axes[row_index, column]
            if rows:
                axis.plot([r[grid] for r in rows], [r[metric] for r in rows], **_line_style(LHMIX))
                warm = [r for r in rows if best_in_warmup(r)]
                if warm:
                    axis.scatter([r[grid] for r in warm], [r[metric] for r in warm], s=110, marker="s",
                                 facecolor="none", edgecolor="black", linewidths=1.4, zorder=4,
                                 label="best dev epoch in the warm-up: the warm-up's model")
            else:
                _empty(axis, f"{grid} sweep in params.yaml\n(profile default-full runs it)")
            if len(prompts) > 1:
                spread = mean_std(r[metric] for r in prompts)
                axis.axhspan(spread["mean"] - spread["std"], spread["mean"] + spread["std"],
                             color=VARIANT_COLOURS["prompt"], alpha=0.15, linewidth=0,
                             label=f"{paper_name('prompt')}, main runs: mean ± std over {_runs(len(prompts), 'seed')}")
            if baseline:
                axis.axhline(baseline[metric], color=VARIANT_COLOURS["prompt"], linestyle=":",
                             label=f"{paper_name('prompt')}, seed {seed} (same warm-up)")
            axis.set_ylabel(label)
            if row_index == 0:
                axis.set_title(f"${fixed}$")
            else:
                axis.set_xlabel(f"${symbol}$")
        if rows:
            if grid == "alpha":
                axes[0, column].set_xscale("log")
            for axis in axes[:, column]:
                _grid_ticks(axis, sorted({r[grid] for r in rows}))
    figure.suptitle(f"{paper_name(LHMIX)} sweeps: one run per point (seed {seed}), so no error bars")
    handles = {}
    for axis in axes.flat:   # the warm-up marker may appear in any panel: one legend entry per label
        handles.update(zip(*reversed(axis.get_legend_handles_labels())))
    if handles:
        figure.legend(list(handles.values()), list(handles), loc="outside lower center", ncol=2, frameon=False)
    return _save(figure, out, "fig5_sweeps")

def _grouped_bars(axis, groups: list[str], runs: dict[str, list[dict]], value) -> None:
    """Bars per group and variant: mean over seeds, error bar = std over seeds (none for one seed)."""
    width = 0.8 / max(len(runs), 1)
    positions = np.arange(len(groups))
    for index, (variant, rows) in enumerate(runs.items()):
        stats = [mean_std(value(r, group) for r in rows) for group in groups]
        errors = [s["std"] if s["std"] is not None else 0.0 for s in stats]
        axis.bar(positions + index * width, [s["mean"] for s in stats], width, yerr=errors, capsize=2,
                 color=VARIANT_COLOURS.get(variant, "grey"), label=paper_name(variant))
    axis.set_xticks(positions + 0.4 - width / 2, groups)

def depth_frequency_figure(results: dict, out: Path) -> list[Path]:
    """Figure 7: macro-F1 per depth and per label-frequency bucket, mean +- std over seeds."""
    runs = by_variant(results["main"])
    depths = sorted({d for r in results["main"] for d in r["per_depth"]}, key=int)
    buckets = [b for b in ("rare", "medium", "frequent") if any(b in r["by_frequency"] for r in results["main"])]
    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2), layout="constrained")
    _grouped_bars(left, [f"depth {d}" for d in depths], runs,
                  lambda r, group: r["per_depth"][group.split()[1]]["macro_f1"])
    _grouped_bars(right, buckets, runs, lambda r, bucket: r["by_frequency"][bucket])
    left.set(ylabel="macro-F1 (%)", title="by depth")
    right.set(ylabel="macro-F1 (%)", title="by training frequency of the label")
    figure.suptitle(f"test macro-F1, mean ± std over {_seed_count(runs)}")
    _legend_below(figure, left, columns=4)
    return _save(figure, out, "fig7_depth_frequency")


def curves_figure(results: dict, out: Path) -> list[Path]:
    """Dev micro- and macro-F1 per epoch, mean +- std over the seeds whose run reached that epoch, one line per
    variant; early stopping ends runs at different epochs, so the lower panels count those seeds and a hollow
    marker is a mean over fewer seeds than the variant has."""
    runs = by_variant(results["main"])
    figure, axes = plt.subplots(2, 2, figsize=(10, 5.6), layout="constrained", sharex=True,
                                gridspec_kw={"height_ratios": [3, 1]})
    for column, metric in enumerate(F1_LABELS):
        axis, counts = axes[0, column], axes[1, column]
        for index, (variant, rows) in enumerate(runs.items()):
            epochs = sorted({p["epoch"] for r in rows for p in r["history"]})
            values = [[p[f"dev_{metric}"] for r in rows for p in r["history"] if p["epoch"] == e] for e in epochs]
            stats = [mean_std(v) for v in values]
            x = [e + _dodge(index, len(runs)) for e in epochs]
            style = _line_style(variant)
            axis.errorbar(x, [s["mean"] for s in stats], yerr=[s["std"] if s["std"] is not None else 0.0 for s in stats],
                          capsize=2, **{**style, "marker": None})
            full = [len(v) == len(rows) for v in values]
            for filled in (True, False):
                axis.plot([p for p, f in zip(x, full) if f == filled],
                          [s["mean"] for s, f in zip(stats, full) if f == filled], linestyle="none", marker="o",
                          markersize=4, color=style["color"],
                          markerfacecolor=style["color"] if filled else "white")
            counts.step(epochs, [len(v) for v in values], where="mid", color=style["color"],
                        linestyle=style["linestyle"])
        warmup = max((r["warmup_epochs"] for r in results["main"]), default=0)
        if warmup:
            for panel in (axis, counts):
                panel.axvline(warmup + 0.5, color="grey", linestyle=":", linewidth=1)
            axis.text(warmup + 0.55, 0.02, "Mixup starts", transform=axis.get_xaxis_transform(), fontsize=9)
        axis.set(ylabel=f"dev {F1_LABELS[metric]}")
        counts.set(xlabel="epoch (warm-up included)", ylabel="seeds")
        counts.yaxis.get_major_locator().set_params(integer=True)
        counts.xaxis.get_major_locator().set_params(integer=True)
    figure.suptitle(f"dev set, mean ± std over the seeds still training ({_seed_count(runs)} at the start; "
                    "hollow: fewer, lower panels: how many)")
    _legend_below(figure, axes[0, 0], columns=4)
    return _save(figure, out, "training_curves")

def _entered(neighbour: dict, tops: list[int]) -> int | None:
    """The smallest top k the label entered after training, if any."""
    return next((k for k in tops if neighbour["rank_after"] <= k < neighbour["rank_before"]), None)


def label_words_figure(results: dict, out: Path) -> list[Path]:
    """Figure 6: t-SNE of the chosen label's label word and its nearest labels', at initialisation and after
    training (separate layouts); the labels that entered the top 3 and top 15 are marked alike in both
    panels, and named with their rank in that panel."""
    f = results["figure6"]
    tops, chosen, colour = sorted(f["tops"]), f["label"], VARIANT_COLOURS[f["variant"]]
    groups = {tops[0]: {"s": 75, "facecolor": colour, "edgecolor": "black", "linewidths": 0.8,
                        "label": f"entered the top {tops[0]}"},
              tops[1]: {"s": 60, "facecolor": "white", "edgecolor": colour, "linewidths": 2.0,
                        "label": f"entered the top {tops[1]}"},
              None: {"s": 22, "facecolor": "#BBBBBB", "edgecolor": "none", "label": "other labels shown"}}
    figure, axes = plt.subplots(1, 2, figsize=(12, 5.6), layout="constrained")
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
    _legend_below(figure, axes[0])
    return _save(figure, out, "fig6_label_words")


FIGURES = (lambda_figure, sparse_figure, sweeps_figure, label_words_figure, depth_frequency_figure, curves_figure)


def draw_all(results: dict, out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    svg_folder(out).mkdir(parents=True, exist_ok=True)
    with matplotlib.rc_context(STYLE):
        return [path for draw in FIGURES for path in draw(results, out)]
