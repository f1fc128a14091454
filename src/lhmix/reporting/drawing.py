"""What every figure shares: matplotlib without a display, one colour and line per variant (the papers' names in
the legends), the style, PNG (150 dpi) and SVG written with no date or software version inside (equal results,
equal bytes; SVG text stays text), and the small helpers the figure modules draw with (lhmix.reporting.figure3 to
figure6, lhmix.reporting.plots; Figure 3's formula: lhmix.core.ratios)."""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from lhmix.core.vocabulary import CONTROL_FAMILY, CONTROLS, variant_name  # noqa: E402
from lhmix.reporting.report import SVG_FOLDER  # noqa: E402
from lhmix.reporting.variants import family, paper_name  # noqa: E402

CONTROL_VARIANTS = {variant_name(CONTROL_FAMILY, control) for control in CONTROLS}

# One colour per variant in every figure (Okabe-Ito, colour-blind safe); bert dashed, prompt solid.
VARIANT_COLOURS = {"bert": "#56B4E9", "bert_mixup": "#0072B2", "bert_lhmix": "#009E73",
                   "prompt": "#E69F00", "prompt_mixup": "#D55E00", "prompt_lhmix": "#CC79A7",
                   # the controls of LH-Mix: greys, dotted, so the paper's variants stand out
                   "prompt_lhmix_shuffled": "#666666", "prompt_fixed_lambda": "#AAAAAA"}
CONTROL_LINE = ":"
FAMILY_LINES = {"bert": "--", "prompt": "-"}
F1_LABELS = {"micro_f1": "micro-F1 (%)", "macro_f1": "macro-F1 (%)"}
STYLE = {"font.size": 10, "axes.labelsize": 10.5, "axes.titlesize": 11, "legend.fontsize": 9,
         "xtick.labelsize": 9.5, "ytick.labelsize": 9.5, "svg.hashsalt": "lhmix-report", "svg.fonttype": "none"}
DODGE = 0.04        # variants drawn side by side, this far apart on x, so equal values hide no curve
DPI = 150


def line_style(variant: str) -> dict:
    line = CONTROL_LINE if variant in CONTROL_VARIANTS else FAMILY_LINES.get(family(variant), "-")
    return {"color": VARIANT_COLOURS.get(variant, "grey"), "linestyle": line,
            "marker": "o", "markersize": 4, "label": paper_name(variant)}


def dodge(index: int, count: int) -> float:
    """x offset of the index-th of `count` variants on an axis of whole steps (epochs, categories)."""
    return (index - (count - 1) / 2) * DODGE


def grid_ticks(axis, values, positions=None) -> None:
    """Ticks at the grid points, written as in params.yaml (no 10^x on a log axis)."""
    axis.set_xticks(values if positions is None else positions, [f"{v:g}" for v in values])
    axis.minorticks_off()


def svg_folder(png_folder: Path) -> Path:
    """Where the SVGs go: a sibling of the PNGs' folder, so that `dvc plots show`, which shows every image of
    the folder declared as plots (the PNGs'), shows each figure once."""
    return png_folder.parent / SVG_FOLDER


def save(figure, out: Path, stem: str) -> list[Path]:
    """PNG (in `out`) and SVG (in svg_folder(out)) with no date or software version inside, so equal results
    give equal bytes."""
    png, svg = out / f"{stem}.png", svg_folder(out) / f"{stem}.svg"
    figure.savefig(png, dpi=DPI, metadata={"Software": None})
    figure.savefig(svg, metadata={"Date": None, "Creator": None})
    plt.close(figure)
    return [png, svg]


def legend_below(figure, axis, columns: int = 6) -> None:
    handles, labels = axis.get_legend_handles_labels()
    if handles:
        figure.legend(handles, labels, loc="outside lower center", ncol=min(columns, len(handles)), frameon=False)


def empty(axis, what: str) -> None:
    axis.text(0.5, 0.5, f"no {what}", ha="center", va="center", transform=axis.transAxes)


def runs_text(count: int, what: str = "run") -> str:
    return f"{count} {what}{'' if count == 1 else 's'}"


def seed_count(runs: dict[str, list[dict]]) -> str:
    """How many seeds the variants' means average: '5 seeds', or '2 to 5 seeds' when variants differ."""
    counts = sorted({len({r["seed"] for r in rows}) for rows in runs.values()}) or [0]
    if len(counts) == 1:
        return runs_text(counts[0], "seed")
    return f"{counts[0]} to {counts[-1]} seeds"


def not_run_figure(out: Path, stem: str, title: str, keys: str) -> list[Path]:
    """A figure whose runs params.yaml does not list: one panel saying so and how to run them."""
    figure, axis = plt.subplots(figsize=(7, 1.6), layout="constrained")
    axis.set_axis_off()
    axis.text(0.5, 0.5, f"{title}: not run in this profile\n(params.yaml: {keys} lists none).\nThe profile "
              "default-full runs it: dvc exp run -S profile=default-full", ha="center", va="center",
              transform=axis.transAxes)
    return save(figure, out, stem)
