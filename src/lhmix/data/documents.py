"""Reading a prepared dataset (the contract written by lhmix.datasets.contract): the label tree and
the three splits, in file order."""
from __future__ import annotations

import json
import operator
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from lhmix.core.errors import MalformedInput
from lhmix.core.files import parse_json, read_json
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


DOCUMENT_KEYS = frozenset({"id", "labels", "text"})


class DocumentCheck:
    """The contract's rules for one document, shared by the writer and the reader. It remembers
    the ids it has passed, so one check spanning the splits of a dataset keeps ids unique across
    them. RCV1's test split has 781k lines: the common case runs in map/set built-ins, and a
    Python-level loop runs only to describe a document that fails."""

    def __init__(self, hierarchy: Hierarchy, single_path: bool = False):
        self.parent = [label.parent for label in hierarchy.labels]
        self.single_path = single_path
        self.ids: set[str] = set()

    def problem(self, doc) -> str | None:
        """What is wrong with `doc`, and what was expected; None when it keeps every rule."""
        if not isinstance(doc, dict) or not DOCUMENT_KEYS <= doc.keys():
            return 'expected an object with "id", "labels", "text"'
        return self._id_problem(doc["id"]) or self._labels_problem(doc["labels"]) or \
            self._text_problem(doc["text"])

    def _id_problem(self, doc_id) -> str | None:
        if type(doc_id) is not str or not doc_id:
            return f'"id" {_shown(doc_id)}: expected a non-empty string'
        if doc_id in self.ids:
            return f'"id" {_shown(doc_id)} appears twice: expected ids unique across the splits'
        self.ids.add(doc_id)
        return None

    def _labels_problem(self, labels) -> str | None:
        count = len(self.parent)
        if not (isinstance(labels, list) and set(map(type, labels)) == {int}  # non-empty, and no bools
                and 0 <= min(labels) and max(labels) < count):
            return f'"labels" {_shown(labels)}: expected a non-empty list of label ids in 0..{count - 1}'
        if not all(map(operator.lt, labels, labels[1:])):
            return f'"labels" {labels}: expected ascending ids without repeats'
        parents = set(map(self.parent.__getitem__, labels))
        parents.discard(None)
        if not parents.issubset(labels):
            orphan = next(label for label in labels if self.parent[label] not in (None, *labels))
            return (f'"labels" {labels}: label {orphan} lacks its parent {self.parent[orphan]}, '
                    f'expected every ancestor included')
        fork = self.first_fork(labels) if self.single_path else None
        if fork:
            return (f'"labels" {labels}: labels {fork[0]} and {fork[1]} are not one path, expected one label '
                    f'per depth, each the child of the one above (stats.json: "single_path": true)')
        return None

    def first_fork(self, labels: list[int]) -> tuple[int, int] | None:
        """For ascending labels with their ancestors: the first neighbours where the labels stop
        being one path from the top, or None. Ids are ordered by depth, so a path lists each
        label right after its parent."""
        if list(map(self.parent.__getitem__, labels[1:])) == labels[:-1]:
            return None
        return next((upper, lower) for upper, lower in zip(labels, labels[1:]) if self.parent[lower] != upper)

    @staticmethod
    def _text_problem(text) -> str | None:
        if type(text) is not str or not text or text.isspace():
            return f'"text" {_shown(text)}: expected a non-empty string'
        return None


def _shown(value, limit: int = 60) -> str:
    shown = json.dumps(value, ensure_ascii=False)
    return shown if len(shown) <= limit else shown[:limit - 3] + "..."


def read_documents(path: str | Path, check: DocumentCheck) -> Documents:
    """Read a contract split; a line that is not a valid document raises MalformedInput."""
    path = Path(path)
    ids, texts, labels = [], [], []
    with open(path, "rb") as handle:
        for line_number, line in enumerate(handle, start=1):
            doc = parse_json(line, path, line_number)
            problem = check.problem(doc)
            if problem:
                raise MalformedInput(path, line_number, problem)
            ids.append(doc["id"])
            texts.append(doc["text"])
            labels.append(doc["labels"])
    return Documents(ids, texts, labels)


SPLITS = ("train", "dev", "test")


def read_dataset(folder: str | Path, splits: Sequence[str] = SPLITS) -> tuple[Hierarchy, dict[str, Documents]]:
    """The label tree and the named splits of a prepared dataset folder, every line checked."""
    folder = Path(folder)
    hierarchy = Hierarchy.load(folder / "labels.json")
    check = DocumentCheck(hierarchy, single_path=recorded_single_path(folder / "stats.json"))
    return hierarchy, {name: read_documents(folder / f"{name}.jsonl", check) for name in splits}


def recorded_single_path(stats_path: Path) -> bool:
    """stats.json's "single_path". A folder prepared before it was recorded reads as multi-path,
    where only the ancestor rule applies."""
    stats = read_json(stats_path)
    flag = stats.get("single_path", False) if isinstance(stats, dict) else None
    if not isinstance(flag, bool):
        raise MalformedInput(stats_path, None, '"single_path": expected true or false (or absent)')
    return flag
