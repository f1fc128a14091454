"""LH-Mix Figure 4: F1 on sparse training data (params sweeps.sparse: fractions of the training set, one run per
point at the sweep seed), its table and its figure."""
from __future__ import annotations

from pathlib import Path

from lhmix.reporting import drawing, prose
from lhmix.reporting.markdown import number, table
from lhmix.reporting.variants import by_variant


def render(results: dict) -> str:
    rows = [[f"{r['fraction']:g}", r["variant"], number(r["micro_f1"]), number(r["macro_f1"]), str(r["epochs_run"]),
             prose.best_epoch(r), r["stop_reason"]] for r in results["sparse"]]
    return "\n".join([table(["fraction of train", "variant", "micro-F1", "macro-F1", "epochs run", "best epoch",
                             "stop"], rows), "", prose.BEST_IN_WARMUP])


def draw(results: dict, out: Path) -> list[Path]:
    """Figure 4: F1 against the fraction of training data, one panel per F1 (one run per point); the
    fractions as equally spaced steps, largest first."""
    if not results["sparse"]:
        return drawing.not_run_figure(out, "fig4_sparse", "Figure 4, sparse data", "sweeps.sparse")
    figure, axes = drawing.plt.subplots(1, 2, figsize=(9, 4), layout="constrained")
    runs = by_variant(results["sparse"])
    fractions = sorted({r["fraction"] for r in results["sparse"]}, reverse=True)
    for axis, (metric, label) in zip(axes, drawing.F1_LABELS.items()):
        for index, (variant, rows) in enumerate(runs.items()):
            value = {r["fraction"]: r[metric] for r in rows}
            axis.plot([step + drawing.dodge(index, len(runs)) for step in range(len(fractions))],
                      [value[f] for f in fractions], **drawing.line_style(variant))
        if runs:
            drawing.grid_ticks(axis, fractions, positions=range(len(fractions)))
            axis.set_xlim(-0.5, len(fractions) - 0.5)
        else:
            drawing.empty(axis, "sparse runs in params.yaml\n(profile default-full runs them)")
        axis.set(xlabel="fraction of the training set", ylabel=label)
    figure.suptitle(f"sparse data: one run per point (seed {results['config']['sweep_seed']}), so no error bars")
    drawing.legend_below(figure, axes[0])
    return drawing.save(figure, out, "fig4_sparse")
