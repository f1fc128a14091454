"""HPT's and LH-Mix's Table 1: the dataset, its depth, labels, labels per document and split sizes, and what
preparing it dropped."""
from __future__ import annotations

from lhmix.reporting.markdown import table


def render(results: dict) -> str:
    stats = results["dataset"]
    dropped = ", ".join(f"{k}: {v}" for k, v in stats["dropped"].items()) or "none"
    return table(["depth", "labels", "labels per level", "avg labels/doc", "train", "dev", "test", "dropped"],
                 [[str(stats["depth"]), str(stats["num_labels"]), " / ".join(map(str, stats["labels_per_level"])),
                   f"{stats['avg_labels_per_doc']:.2f}", *(str(stats["splits"][s]) for s in ("train", "dev", "test")),
                   dropped]])
