"""results/<dataset>/figures/*.png and svg/*.svg, every figure of the report from results/<dataset>/results.json:
the paper's Figures 3 to 6 (lhmix.reporting.figure3 ... figure6, each with its computation and note), and, here,
F1 by depth and by label frequency (Figure 7) and the dev-set training curves. Every figure says how many seeds
each point averages, with error bars of one std over them where there are several (lhmix.reporting.drawing)."""
from __future__ import annotations

from pathlib import Path

import matplotlib
import numpy as np

from lhmix.reporting import drawing, figure3, figure4, figure5, figure6
from lhmix.reporting.drawing import F1_LABELS, VARIANT_COLOURS, plt
from lhmix.reporting.stats import mean_std
from lhmix.reporting.variants import by_variant, paper_name


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
    figure.suptitle(f"test macro-F1, mean ± std over {drawing.seed_count(runs)}")
    drawing.legend_below(figure, left, columns=4)
    return drawing.save(figure, out, "fig7_depth_frequency")


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
            x = [e + drawing.dodge(index, len(runs)) for e in epochs]
            style = drawing.line_style(variant)
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
    figure.suptitle(f"dev set, mean ± std over the seeds still training ({drawing.seed_count(runs)} at the start; "
                    "hollow: fewer, lower panels: how many)")
    drawing.legend_below(figure, axes[0, 0], columns=4)
    return drawing.save(figure, out, "training_curves")

FIGURES = (figure3.draw, figure4.draw, figure5.draw, figure6.draw, depth_frequency_figure, curves_figure)


def draw_all(results: dict, out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    drawing.svg_folder(out).mkdir(parents=True, exist_ok=True)
    with matplotlib.rc_context(drawing.STYLE):
        return [path for draw in FIGURES for path in draw(results, out)]
