"""LH-Mix Figure 5: LH-Mix over the alpha grid (beta = 1) and the beta grid (alpha = 1) (params sweeps.alpha,
sweeps.beta; one run per point at the sweep seed), its tables and its figure."""
from __future__ import annotations

from pathlib import Path

from lhmix.reporting import drawing, prose
from lhmix.reporting.comparisons import REFERENCE
from lhmix.reporting.markdown import histogram, number, table
from lhmix.reporting.stats import mean_std
from lhmix.reporting.variants import LHMIX, best_in_warmup, paper_name


def render(results: dict) -> str:
    parts = []
    for grid, fixed in (("alpha", "β = 1"), ("beta", "α = 1")):
        symbol = "α" if grid == "alpha" else "β"
        rows = [[f"{r[grid]:g}", number(r["micro_f1"]), number(r["macro_f1"]), histogram(r.get("lambda")),
                 str(r["epochs_run"]), prose.best_epoch(r), r["stop_reason"]] for r in results["sweeps"][grid]]
        parts += [f"## Figure 5: {symbol} sweep ({REFERENCE}, {fixed}, seed {results['config']['sweep_seed']})", "",
                  table([symbol, "micro-F1", "macro-F1", "λ used: mean [5 %, 50 %, 95 %]", "epochs run",
                         "best epoch", "stop"], rows), "", prose.BEST_IN_WARMUP, ""]
    return "\n".join(parts)


def draw(results: dict, out: Path) -> list[Path]:
    """Figure 5: LH-Mix over the alpha grid (beta = 1) and the beta grid (alpha = 1), one row per F1, one run per
    point (params sweeps.seed: no error bars), beside the prompt without Mixup from the same warm-up (dotted) and,
    for scale, the main runs' spread of that prompt over their seeds (band, mean +- std). A point whose best dev
    epoch is a warm-up epoch scores the warm-up's model, not an LH-Mix one: it is marked."""
    if not (results["sweeps"]["alpha"] or results["sweeps"]["beta"]):
        return drawing.not_run_figure(out, "fig5_sweeps", "Figure 5, the alpha and beta sweeps", "sweeps.alpha, sweeps.beta")
    seed = results["config"]["sweep_seed"]
    prompts = [r for r in results["main"] if r["variant"] == "prompt"]
    baseline = next((r for r in prompts if r["seed"] == seed), None)
    figure, axes = drawing.plt.subplots(2, 2, figsize=(9, 6.8), layout="constrained", sharex="col")
    for column, (grid, symbol, fixed) in enumerate((("alpha", r"\alpha", r"\beta = 1"),
                                                    ("beta", r"\beta", r"\alpha = 1"))):
        rows = sorted(results["sweeps"][grid], key=lambda r: r[grid])
        for row_index, (metric, label) in enumerate(drawing.F1_LABELS.items()):
            axis = axes[row_index, column]
            if rows:
                axis.plot([r[grid] for r in rows], [r[metric] for r in rows], **drawing.line_style(LHMIX))
                warm = [r for r in rows if best_in_warmup(r)]
                if warm:
                    axis.scatter([r[grid] for r in warm], [r[metric] for r in warm], s=110, marker="s",
                                 facecolor="none", edgecolor="black", linewidths=1.4, zorder=4,
                                 label="best dev epoch in the warm-up: the warm-up's model")
            else:
                drawing.empty(axis, f"{grid} sweep in params.yaml\n(profile default-full runs it)")
            if len(prompts) > 1:
                spread = mean_std(r[metric] for r in prompts)
                axis.axhspan(spread["mean"] - spread["std"], spread["mean"] + spread["std"],
                             color=drawing.VARIANT_COLOURS["prompt"], alpha=0.15, linewidth=0,
                             label=f"{paper_name('prompt')}, main runs: mean ± std over {drawing.runs_text(len(prompts), 'seed')}")
            if baseline:
                axis.axhline(baseline[metric], color=drawing.VARIANT_COLOURS["prompt"], linestyle=":",
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
                drawing.grid_ticks(axis, sorted({r[grid] for r in rows}))
    figure.suptitle(f"{paper_name(LHMIX)} sweeps: one run per point (seed {seed}), so no error bars")
    handles = {}
    for axis in axes.flat:   # the warm-up marker may appear in any panel: one legend entry per label
        handles.update(zip(*reversed(axis.get_legend_handles_labels())))
    if handles:
        figure.legend(list(handles.values()), list(handles), loc="outside lower center", ncol=2, frameon=False)
    return drawing.save(figure, out, "fig5_sweeps")
