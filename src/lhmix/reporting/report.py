"""reports/README.md: the reproduced paper on one page (tables, figures, dataset stats, environment, timings)."""
from __future__ import annotations

import os
import platform
import statistics
from importlib import metadata

FIGURES = [("fig3_lambda.png", "Figure 3: mixing ratio lambda against local-hierarchy similarity s"),
           ("fig4_sparse.png", "Figure 4: sparse training data"),
           ("fig5_sweeps.png", "Figure 5: alpha and beta sweeps"),
           ("fig7_depth_frequency.png", "Figure 7: F1 by depth and by label frequency"),
           ("training_curves.png", "Training curves (dev macro-F1)")]

# Published LH-Mix and HPT numbers (micro / macro F1), for comparison at paper scale.
PUBLISHED = {
    "wos": {"LH-Mix": (87.27, 82.07), "HPT": (87.16, 81.93), "LH-Mix, 5 seeds": "87.15+-0.14 / 81.82+-0.18"},
    "nyt": {"LH-Mix": (80.57, 71.26), "HPT": (80.42, 70.42), "LH-Mix, 5 seeds": "80.51+-0.15 / 71.03+-0.24"},
    "rcv1": {"LH-Mix": (87.47, 71.93), "HPT": (87.26, 69.53), "LH-Mix, 5 seeds": "87.39+-0.12 / 71.49+-0.50"},
}
PACKAGES = ("torch", "transformers", "dvc", "dvclive", "numpy", "scipy", "scikit-learn", "pandas", "matplotlib")


def environment() -> dict:
    import torch

    versions = {}
    for package in PACKAGES:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = "not installed"
    device = torch.cuda.get_device_name(0) if torch.cuda.is_available() else f"CPU ({os.cpu_count()} cores)"
    return {"python": platform.python_version(), "platform": platform.platform(), "device": device,
            "torch threads": torch.get_num_threads(), **versions}


def _timings(results: dict) -> list[str]:
    lines = ["| runs | count | wall time (s) | median examples/s |", "| --- | --- | --- | --- |"]
    groups = {"main": results["main"], "alpha/beta sweeps": results["sweeps"]["alpha"] + results["sweeps"]["beta"],
              "sparse": results["sparse"]}
    for name, rows in groups.items():
        seconds = [r["train_seconds"] for r in rows if r.get("train_seconds") is not None]
        speeds = [r["examples_per_second"] for r in rows if r.get("examples_per_second") is not None]
        lines.append(f"| {name} | {len(rows)} | {sum(seconds):.0f} | "
                     f"{statistics.median(speeds) if speeds else float('nan'):.1f} |")
    return lines


def render(datasets: list[str], results: dict[str, dict], tables: dict[str, str], env: dict) -> str:
    parts = ["# Reproduced results", "",
             "Written by `dvc repro` (stage `report`) from `results/<dataset>/`; do not edit by hand.",
             "F1 in %, test set, scored with the best dev-macro-F1 checkpoint of each run.", ""]
    for dataset in datasets:
        # Every table heading of the dataset goes one level down under its section.
        parts += [tables[dataset].replace("\n## ", "\n### ").replace("# Results on", "## Results on", 1), ""]
        if dataset in PUBLISHED:
            parts += ["### Published (paper)", "", "| model | micro-F1 / macro-F1 |", "| --- | --- |"]
            for model, value in PUBLISHED[dataset].items():
                shown = value if isinstance(value, str) else f"{value[0]:.2f} / {value[1]:.2f}"
                parts.append(f"| {model} | {shown} |")
            parts.append("")
        for name, caption in FIGURES:
            parts += [f"### {caption}", "", f"![{caption}](../results/{dataset}/figures/{name})", ""]
        parts += ["### Training time", "", *_timings(results[dataset]), ""]
    parts += ["## Environment", "", "| | |", "| --- | --- |",
              *(f"| {key} | {value} |" for key, value in env.items()), ""]
    return "\n".join(parts)
