"""Reading a prepared dataset (the contract written by lhmix.datasets.contract): the label tree and
the three splits, in file order."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from lhmix.core.errors import MalformedInput
from lhmix.data.hierarchy import Hierarchy


@dataclass
class Documents:
    """One split as read from its jsonl file, in file order."""
    ids: list[str]
    texts: list[str]
    labels: list[list[int]]

    def __len__(self) -> int:
        return len(self.ids)

    def take(self, indices: Sequence[int]) -> "Documents":
        return Documents(ids=[self.ids[i] for i in indices], texts=[self.texts[i] for i in indices],
                         labels=[self.labels[i] for i in indices])


def read_documents(path: str | Path, num_labels: int) -> Documents:
    """Read a contract split; a line that is not a valid document raises MalformedInput."""
    path = Path(path)
    ids, texts, labels = [], [], []
    with open(path, encoding="utf-8") as handle:
        for line_number, line in enumerate(handle, start=1):
            try:
                doc = json.loads(line)
            except json.JSONDecodeError as error:
                raise MalformedInput(path, line_number, f"not JSON ({error.msg})") from None
            if not isinstance(doc, dict) or not {"id", "labels", "text"} <= doc.keys():
                raise MalformedInput(path, line_number, 'expected an object with "id", "labels", "text"')
            doc_labels = doc["labels"]
            if (not isinstance(doc_labels, list) or not doc_labels
                    or not all(isinstance(l, int) and 0 <= l < num_labels for l in doc_labels)):
                raise MalformedInput(path, line_number,
                                     f"labels must be a non-empty list of label ids in 0..{num_labels - 1}")
            ids.append(str(doc["id"]))
            texts.append(str(doc["text"]))
            labels.append(doc_labels)
    return Documents(ids, texts, labels)


SPLITS = ("train", "dev", "test")


def read_dataset(folder: str | Path, splits: Sequence[str] = SPLITS) -> tuple[Hierarchy, dict[str, Documents]]:
    """The label tree and the named splits of a prepared dataset folder."""
    folder = Path(folder)
    hierarchy = Hierarchy.load(folder / "labels.json")
    return hierarchy, {name: read_documents(folder / f"{name}.jsonl", len(hierarchy)) for name in splits}
