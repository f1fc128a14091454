"""An augmented copy of a processed dataset, itself a complete processed dataset
(lhmix.datasets.contract): the same labels.json, dev and test; train holds every original document,
each followed by its augmented copies, with ids "<id>#<method><k>" (k = 1, 2, ...) and the
original's labels. stats.json's "augmentation" says how the copies were made and how many there are.
"""
from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path
from typing import Callable

from lhmix.core.files import read_json, write_json
from lhmix.data.documents import Documents, read_dataset
from lhmix.datasets.contract import PreparedDataset, write_dataset

# texts -> for each text, its augmented copies (possibly none)
Augmenter = Callable[[list[str]], list[list[str]]]
MISSING = "missing.json"


def write_augmented(source: Path, out: Path, method: str, augmenter: Augmenter, settings: dict) -> dict:
    """The processed dataset `source` -> its augmented copy `out` (data/processed/<dataset>_<method>, whose name
    training takes as its dataset), validated and written atomically (lhmix.datasets.contract); returns its stats."""
    return write_dataset(augment_dataset(Path(source), method, augmenter, settings), out)


def summary(stats: dict) -> str:
    """One line on what an augmented dataset's stats.json says was done."""
    how = stats["augmentation"]
    return (f"{how['source']} -> {stats['dataset']}: train {how['original']} + {how['copies']} {how['method']} "
            f"copies ({how['texts_without_copy']} texts without one), dev and test as they were")


def write_missing(out: Path, method: str, reason: str) -> Path:
    """In place of an augmented dataset that cannot be made here: its folder `out` holds only missing.json,
    saying why. Returns that file."""
    path = Path(out) / MISSING
    shutil.rmtree(path.parent, ignore_errors=True)
    write_json({"method": method, "missing": reason}, path)
    return path


def augment_dataset(source: Path, method: str, augmenter: Augmenter, settings: dict) -> PreparedDataset:
    """The dataset in `source` with every train text followed by its copies from `augmenter`;
    `settings` (the method's parameters) go into stats.json."""
    hierarchy, splits = read_dataset(source)
    train = splits["train"]
    copies = augmenter(train.texts)
    documents = []
    for doc_id, labels, text, its_copies in zip(train.ids, train.labels, train.texts, copies, strict=True):
        documents.append({"id": doc_id, "labels": labels, "text": text})
        documents += [{"id": f"{doc_id}#{method}{k}", "labels": labels, "text": copy}
                      for k, copy in enumerate(its_copies, start=1)]
    how = {"method": method, "source": source.name, **settings, "original": len(train),
           "copies": len(documents) - len(train), "texts_without_copy": sum(not c for c in copies)}
    return PreparedDataset(name=f"{source.name}_{method}", hierarchy=hierarchy,
                           splits={"train": documents, "dev": rows(splits["dev"]), "test": rows(splits["test"])},
                           dropped=Counter(read_json(source / "stats.json")["dropped"]),
                           extra_stats={"augmentation": how})


def rows(documents: Documents) -> list[dict]:
    return [{"id": doc_id, "labels": labels, "text": text}
            for doc_id, labels, text in zip(documents.ids, documents.labels, documents.texts)]

