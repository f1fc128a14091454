"""reports/README.md: the reproduced paper on one page (each dataset's tables and figures, environment)."""
from __future__ import annotations

import os
import platform
from importlib import metadata

from lhmix.reporting import markdown


# Each figure with the section of tables.md it belongs to (the last section whose heading starts so); one whose
# section is missing goes to the end of its dataset.
FIGURES = [("fig3_lambda", "Figure 3: mixing ratio λ against local-hierarchy similarity s, and the s of the "
                           "actual training pairs", "The mechanism"),
           ("fig4_sparse", "Figure 4: sparse training data", "Figure 4"),
           ("fig5_sweeps", "Figure 5: α and β sweeps", "Figure 5"),
           ("fig6_label_words", "Figure 6: label words nearest one label, before and after training (t-SNE)",
            "Figure 6"),
           ("fig7_depth_frequency", "Figure 7: F1 by depth and by label frequency", "Per depth: precision"),
           ("training_curves", "Training curves (dev set)", "Training time")]
SVG_FOLDER = "svg"  # results/<dataset>/svg/, beside figures/ (the PNGs, DVC's image plots)
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
    # Nothing is measured here, so that the page's bytes depend only on its inputs; machines of one kind differ
    # up to 2x, and the machine's speed is measured by `make bench` (reports/bench.md).
    return {"python": platform.python_version(), "platform": platform.platform(), "device": device,
            "torch threads": torch.get_num_threads(),
            "machine speed": "not measured by this stage: `make bench` measures the torch.matmul peak and step "
                             "times (reports/bench.md); the times above scale with it",
            **versions}


def _nested(tables: str) -> str:
    """A dataset's tables.md one heading level down, under the dataset's own section."""
    return tables.replace("\n## ", "\n### ").replace("# Results on", "## Results on", 1).rstrip()


def _figure(dataset: str, stem: str, caption: str) -> list[str]:
    folder = f"../results/{dataset}"
    return [f"#### {caption}", "", f"![{caption}]({folder}/figures/{stem}.png)", "",
            f"([SVG]({folder}/{SVG_FOLDER}/{stem}.svg))", ""]


def _with_figures(dataset: str, tables: str) -> list[str]:
    """A dataset's nested tables with each figure at the end of its section."""
    lines = _nested(tables).split("\n")
    starts = [i for i, line in enumerate(lines) if line.startswith("### ")]
    after: dict[int, list[str]] = {}
    for stem, caption, section in FIGURES:
        matching = [i for i in starts if lines[i].startswith(f"### {section}")]
        end = next((i for i in starts if matching and i > matching[-1]), len(lines)) if matching else len(lines)
        after.setdefault(end, []).extend(_figure(dataset, stem, caption))
    parts = []
    for index, line in enumerate(lines):
        parts += after.get(index, []) + [line]
    return parts + [""] + after.get(len(lines), [])


RELEASED_SIMILARITY = "## The released code's similarity"


def released_similarity(ablation: str | None) -> list[str]:
    """The published-similarity section of reports/ablation.md (`make ablation`, outside the pipeline), one level
    down, or nothing where the ablation has not measured it."""
    body = markdown.section(ablation, RELEASED_SIMILARITY) if ablation else None
    if body is None:
        return []
    return [f"{RELEASED_SIMILARITY} (`make ablation`, from [ablation.md](ablation.md))", "", body, ""]


def render(datasets: list[str], tables: dict[str, str], env: dict, ablation: str | None = None) -> str:
    parts = ["# Reproduced results", "",
             "Written by `dvc repro` (stage `report`) from `results/<dataset>/`; do not edit by hand.", ""]
    for dataset in datasets:
        parts += _with_figures(dataset, tables[dataset])
    parts += released_similarity(ablation)
    parts += ["## Environment", "", "| | |", "| --- | --- |",
              *(f"| {key} | {value} |" for key, value in env.items()), ""]
    return "\n".join(parts)
