"""The data contract every dataset ends in, written atomically and byte-deterministically.

data/processed/<name>/
  train.jsonl dev.jsonl test.jsonl   one {"id", "labels", "text"} a line: a unique non-empty id, ascending
                                     label ids with every ancestor included, a non-empty text
                                     (lhmix.data.documents.DocumentCheck, applied on writing and reading)
  labels.json                        the tree (see lhmix.data.hierarchy)
  stats.json                         the paper's Table 1 row, every dropped document counted by reason,
                                     "single_path": whether every document is one path from the top
                                     (one label per depth), which reading then holds every line to, and
                                     what its builder adds (an augmented set: how it was made)
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sized

from lhmix.core.errors import LhmixError
from lhmix.core.files import give_usual_mode, write_json
from lhmix.core.progress_log import ProgressLog
from lhmix.data.documents import DocumentCheck
from lhmix.data.hierarchy import Hierarchy

SPLITS = ("train", "dev", "test")


@dataclass
class PreparedDataset:
    """What a dataset reader returns. `splits` may be lazy generators (RCV1 streams);
    they may add to `dropped` while they are consumed: stats are written after them."""
    name: str
    hierarchy: Hierarchy
    splits: dict[str, Iterable[dict]]
    dropped: Counter = field(default_factory=Counter)
    extra_stats: dict = field(default_factory=dict)  # more keys of stats.json


def dumps(obj) -> str:
    return json.dumps(obj, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def write_dataset(dataset: PreparedDataset, out_dir: str | Path) -> dict:
    """Write the contract into `out_dir`; on any error nothing is left behind. Returns stats."""
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
        stats = _write_into(dataset, staging, out_dir)
        give_usual_mode(staging)
        if out_dir.exists():
            shutil.rmtree(out_dir)
        os.replace(staging, out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return stats


def _write_into(dataset: PreparedDataset, folder: Path, destination: Path) -> dict:
    hierarchy = dataset.hierarchy
    for depth in range(1, hierarchy.depth + 1):
        if not hierarchy.labels_at(depth):
            raise LhmixError(f"{destination / 'labels.json'}: no label at depth {depth} of {hierarchy.depth}: "
                             f"dataset '{dataset.name}' cannot be classified at that depth")
    write_json(hierarchy.to_json(), folder / "labels.json")
    sizes, label_count, single_path = {}, 0, True
    check = DocumentCheck(hierarchy)  # the reader's rules, so what is written reads back
    for split in SPLITS:
        count, documents = 0, dataset.splits[split]
        # a streamed split (a generator) reports its own progress, with the total its reader knows
        size = len(documents) if isinstance(documents, Sized) else None
        writing = ProgressLog(f"prepare {dataset.name}: {split}", size, "document", enabled=size is not None)
        with open(folder / f"{split}.jsonl", "w", encoding="utf-8") as handle:
            for doc in documents:
                count += 1
                writing.advance()
                problem = check.problem(doc)
                if problem:
                    raise LhmixError(f"dataset '{dataset.name}', {split} document {count}: {problem} (its "
                                     "builder must drop such a document, counted, or stop naming its source)")
                single_path = single_path and check.first_fork(doc["labels"]) is None
                handle.write(dumps({"id": doc["id"], "labels": doc["labels"], "text": doc["text"]}) + "\n")
                label_count += len(doc["labels"])
        writing.finish()
        if count == 0:
            dropped = ", ".join(f"{reason}: {n}" for reason, n in sorted(dataset.dropped.items())) or "none counted"
            raise LhmixError(f"{destination / f'{split}.jsonl'}: no documents: dataset '{dataset.name}' has an empty "
                             f"{split} split (documents dropped: {dropped}); every split needs documents")
        sizes[split] = count
    total = sum(sizes.values())
    stats = {
        "dataset": dataset.name,
        "depth": hierarchy.depth,
        "num_labels": len(hierarchy),
        "labels_per_level": [len(hierarchy.labels_at(d)) for d in range(1, hierarchy.depth + 1)],
        "avg_labels_per_doc": round(label_count / total, 4) if total else 0.0,
        "splits": sizes,
        "docs_total": total,
        "dropped": dict(sorted(dataset.dropped.items())),
        "single_path": single_path,
        **dataset.extra_stats,
    }
    write_json(stats, folder / "stats.json")
    return stats


def summary(stats: dict) -> str:
    """stats.json as one line, e.g. "train 22,339, dev 5,585, test 18,847 documents, 141 labels, depth 2;
    dropped 3 empty text, 12 no label" (a reason's name with spaces)."""
    sizes = ", ".join(f"{split} {stats['splits'][split]:,}" for split in SPLITS)
    dropped = ", ".join(f"{count:,} {reason.replace('_', ' ')}" for reason, count in stats["dropped"].items())
    return (f"{sizes} documents, {stats['num_labels']:,} labels, depth {stats['depth']}; "
            f"dropped {dropped or 'none'}")


def read_split(folder: str | Path, split: str) -> list[dict]:
    with open(Path(folder) / f"{split}.jsonl", encoding="utf-8") as handle:
        return [json.loads(line) for line in handle]
