"""The paper's figures as PNG files, drawn from results/<dataset>/results.json.

Figure 3: lambda against s over the alpha and beta grids; Figure 4: sparse data; Figure 5: alpha and beta sweeps;
Figure 7: F1 by depth and by label frequency; plus the dev macro-F1 training curves.
"""
from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from lhmix.model.mixup import lhmix_ratio  # noqa: E402
from lhmix.reporting.stats import ordered_variants  # noqa: E402

PAPER_ALPHAS = (0.1, 0.3, 0.6, 1, 2, 5, 10)
PAPER_BETAS = (0.7, 0.75, 0.8, 0.85, 0.9, 0.95, 1)
F1_LABELS = {"micro_f1": "micro-F1 (%)", "macro_f1": "macro-F1 (%)"}


def _save(figure, path: Path) -> Path:
    figure.tight_layout()
    # No timestamp in the PNG, so the same results give the same bytes.
    figure.savefig(path, dpi=110, metadata={"Software": None})
    plt.close(figure)
    return path


def _empty(axis, what: str) -> None:
    axis.text(0.5, 0.5, f"no {what} in params.yaml", ha="center", va="center", transform=axis.transAxes)


def lambda_curves(out: Path) -> Path:
    """Figure 3: the LH-Mix ratio (Eq. 4) against the local-hierarchy similarity s."""
    s = torch.linspace(0, 1, 201)
    figure, (left, right) = plt.subplots(1, 2, figsize=(9, 3.6), sharey=True)
    for alpha in PAPER_ALPHAS:
        left.plot(s, lhmix_ratio(s, alpha, 1.0), label=f"alpha={alpha:g}")
    for beta in PAPER_BETAS:
        right.plot(s, lhmix_ratio(s, 1.0, beta), label=f"beta={beta:g}")
    left.set_title("beta = 1")
    right.set_title("alpha = 1")
    for axis in (left, right):
        axis.set_xlabel("similarity s")
        axis.legend(fontsize=7)
    left.set_ylabel("mixing ratio lambda")
    return _save(figure, out / "fig3_lambda.png")


def sparse(results: dict, out: Path) -> Path:
    """Figure 4: F1 against the fraction of training data kept."""
    figure, axes = plt.subplots(1, 2, figsize=(9, 3.6))
    rows = results["sparse"]
    for axis, metric in zip(axes, F1_LABELS):
        for variant in ordered_variants(rows):
            points = sorted((r["fraction"], r[metric]) for r in rows if r["variant"] == variant)
            axis.plot(*zip(*points), marker="o", label=variant)
        if rows:
            axis.legend(fontsize=7)
        else:
            _empty(axis, "sparse runs")
        axis.set_xlabel("fraction of train")
        axis.set_ylabel(F1_LABELS[metric])
    return _save(figure, out / "fig4_sparse.png")


def sweeps(results: dict, out: Path) -> Path:
    """Figure 5: prompt_lhmix F1 over the alpha grid (beta = 1) and the beta grid (alpha = 1)."""
    figure, axes = plt.subplots(1, 2, figsize=(9, 3.6))
    for axis, grid in zip(axes, ("alpha", "beta")):
        rows = sorted(results["sweeps"][grid], key=lambda r: r[grid])
        for metric, label in F1_LABELS.items():
            if rows:
                axis.plot([r[grid] for r in rows], [r[metric] for r in rows], marker="o", label=label)
        if grid == "alpha" and rows:
            axis.set_xscale("log")
        if rows:
            axis.legend(fontsize=7)
        else:
            _empty(axis, f"{grid} sweep")
        axis.set_xlabel(grid)
        axis.set_ylabel("F1 (%)")
    return _save(figure, out / "fig5_sweeps.png")


def _grouped_bars(axis, groups: list[str], values_by_variant: dict[str, list[float]]) -> None:
    width = 0.8 / max(len(values_by_variant), 1)
    positions = np.arange(len(groups))
    for index, (variant, values) in enumerate(values_by_variant.items()):
        axis.bar(positions + index * width, values, width, label=variant)
    axis.set_xticks(positions + 0.4 - width / 2, groups)
    axis.legend(fontsize=6)


def _seed_mean(rows: list[dict], variant: str, field: str, key: str, metric: str | None = None) -> float:
    values = [r[field][key] if metric is None else r[field][key][metric]
              for r in rows if r["variant"] == variant and key in r[field]]
    return float(np.mean(values)) if values else float("nan")


def depth_and_frequency(results: dict, out: Path) -> Path:
    """Figure 7: macro-F1 per depth, and per label-frequency bucket (means over seeds)."""
    rows = results["main"]
    variants = ordered_variants(rows)
    depths = sorted({d for r in rows for d in r["per_depth"]}, key=int)
    buckets = list(dict.fromkeys(b for r in rows for b in r["by_frequency"]))
    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 3.8))
    _grouped_bars(left, [f"depth {d}" for d in depths],
                  {v: [_seed_mean(rows, v, "per_depth", d, "macro_f1") for d in depths] for v in variants})
    _grouped_bars(right, buckets, {v: [_seed_mean(rows, v, "by_frequency", b) for b in buckets] for v in variants})
    left.set_ylabel("macro-F1 (%)")
    right.set_xlabel("training frequency of the label")
    return _save(figure, out / "fig7_depth_frequency.png")


def training_curves(results: dict, out: Path) -> Path:
    """Dev macro-F1 per epoch, mean over seeds, one line per variant."""
    curves: dict[str, dict[int, list[float]]] = defaultdict(lambda: defaultdict(list))
    for row in results["main"]:
        for point in row["history"]:
            curves[row["variant"]][point["epoch"]].append(100 * point["dev_macro_f1"])
    figure, axis = plt.subplots(figsize=(6, 3.8))
    for variant in ordered_variants(results["main"]):
        epochs = sorted(curves[variant])
        axis.plot(epochs, [np.mean(curves[variant][e]) for e in epochs], marker=".", label=variant)
    axis.set_xlabel("epoch")
    axis.set_ylabel("dev macro-F1 (%)")
    axis.legend(fontsize=7)
    return _save(figure, out / "training_curves.png")


def draw_all(results: dict, out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    return [lambda_curves(out), sparse(results, out), sweeps(results, out),
            depth_and_frequency(results, out), training_curves(results, out)]
