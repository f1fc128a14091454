"""LH-Mix Figure 3: the mixing ratio lambda(s) over the paper's alpha and beta grids (LH-Mix Eq. 4), and beside it
the similarity s of the actual training pairs (the main LH-Mix runs, pooled) with the lambda they give."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from lhmix.core.histogram import BINS as HISTOGRAM_BINS
from lhmix.core.ratios import lhmix_lambda
from lhmix.reporting import drawing
from lhmix.reporting.variants import LHMIX

PAPER_ALPHAS = (0.1, 0.3, 0.6, 1, 2, 5, 10)
PAPER_BETAS = (0.7, 0.75, 0.8, 0.85, 0.9, 0.95, 1)
S_BINS_PER_BAR = 5  # the s panel draws bars of 0.005: 5 of the run files' 0.001 bins


def _ratio(s: np.ndarray, alpha: float, beta: float) -> np.ndarray:
    return lhmix_lambda(np.clip(s, 0.0, 1.0), alpha, beta)


def _grid_panel(axis, values, name: str, fixed: str, ratio) -> None:
    s = np.linspace(0, 1, 201)
    colours = drawing.plt.cm.viridis(np.linspace(0, 0.9, len(values)))
    for value, colour in zip(values, colours):
        axis.plot(s, ratio(s, value), color=colour, label=f"${name}$ = {value:g}")
    axis.set(title=f"${fixed}$", xlabel="similarity $s$", ylabel=r"mixing ratio $\lambda$", ylim=(0.48, 1.02))
    axis.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)


def _similarity_panel(axis, s_hist: dict | None, runs: int, alpha: float, beta: float) -> None:
    """Pooled s of the main LH-Mix runs' training pairs (bars) and lambda(s) at the configured ratio."""
    axis.set(title=rf"LH-Mix training pairs, {drawing.runs_text(runs)} pooled ($\alpha$ = {alpha:g}, $\beta$ = {beta:g})",
             xlabel="similarity $s$")
    if not s_hist or not s_hist.get("n"):
        drawing.empty(axis, "LH-Mix training pairs recorded")
        return
    counts = np.zeros(HISTOGRAM_BINS)
    counts[s_hist["first_bin"]:s_hist["first_bin"] + len(s_hist["counts"])] = s_hist["counts"]
    bars = counts.reshape(-1, S_BINS_PER_BAR).sum(axis=1) / s_hist["n"]
    width = S_BINS_PER_BAR / HISTOGRAM_BINS
    edges = np.arange(len(bars)) * width
    used = bars > 0
    axis.bar(edges[used], 100 * bars[used], width=width, align="edge", color=drawing.VARIANT_COLOURS["prompt_lhmix"],
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


def draw(results: dict, out: Path) -> list[Path]:
    """Figure 3 (LH-Mix Eq. 4), plus the similarity of the actual training pairs."""
    config = results["config"]
    figure, (left, middle, right) = drawing.plt.subplots(1, 3, figsize=(14, 4.2), layout="constrained")
    _grid_panel(left, PAPER_ALPHAS, r"\alpha", r"\beta = 1", lambda s, a: _ratio(s, a, 1.0))
    _grid_panel(middle, PAPER_BETAS, r"\beta", r"\alpha = 1", lambda s, b: _ratio(s, 1.0, b))
    lhmix = results["diagnostics"].get(LHMIX, {})
    _similarity_panel(right, lhmix.get("s"), lhmix.get("runs", 0), config["alpha"], config["beta"])
    return drawing.save(figure, out, "fig3_lambda")
