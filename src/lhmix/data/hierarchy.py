"""The label tree: ids, names, parents, depths, and the local hierarchy of a document.

Label ids are 0..|V|-1, ordered by depth and then by the path of keys from the root, so
the labels of one depth are a contiguous id range and ids never depend on input order.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping, Sequence

from lhmix.core.errors import MalformedInput
from lhmix.core.files import read_json


@dataclass(frozen=True)
class Label:
    id: int
    name: str
    parent: int | None
    depth: int  # 1 for the top level


class Hierarchy:
    def __init__(self, labels: Sequence[Label]):
        self.labels = list(labels)
        for index, label in enumerate(self.labels):
            problem = self._placement_problem(index, label)
            if problem:
                raise ValueError(problem)
        self.depth = max((label.depth for label in self.labels), default=0)
        self._by_depth = [[] for _ in range(self.depth)]
        for label in self.labels:
            self._by_depth[label.depth - 1].append(label.id)

    def _placement_problem(self, index: int, label: Label) -> str | None:
        """What is wrong with `label` at `index`, if anything. A parent must sit exactly one level
        up, so a parent chain never loops back on itself."""
        if label.id != index:
            return f"label at position {index}: id {label.id}, expected ids 0..n-1 in order"
        if label.depth < 1:
            return f"label {label.id}: depth {label.depth}, expected 1 or more"
        if index and label.depth < self.labels[index - 1].depth:
            return (f"label {label.id}: depth {label.depth} after a label at depth "
                    f"{self.labels[index - 1].depth}, expected labels ordered by depth")
        if label.depth == 1:
            return None if label.parent is None else \
                f"label {label.id}: depth 1 with parent {label.parent}, expected no parent at depth 1"
        if label.parent is None:
            return f"label {label.id}: depth {label.depth} with no parent, expected one at depth {label.depth - 1}"
        if not 0 <= label.parent < len(self.labels):  # a negative index would alias a label from the end
            return f"label {label.id}: parent {label.parent}, expected a label id in 0..{len(self.labels) - 1}"
        parent_depth = self.labels[label.parent].depth
        if parent_depth != label.depth - 1:
            return (f"label {label.id}: depth {label.depth}, parent {label.parent} at depth {parent_depth}, "
                    f"expected the parent at depth {label.depth - 1}")
        return None

    def __len__(self) -> int:
        return len(self.labels)

    @classmethod
    def from_paths(cls, paths: Iterable[Sequence[str]],
                   names: Mapping[tuple[str, ...], str] | None = None,
                   ) -> tuple["Hierarchy", dict[tuple[str, ...], int]]:
        """Build the tree from root-first key paths; every prefix of a path becomes a label.

        `names` maps a key path to its readable name (default: the last key).
        Returns the hierarchy and the id of every key path.
        """
        nodes: set[tuple[str, ...]] = set()
        for path in paths:
            path = tuple(path)
            nodes.update(path[:end] for end in range(1, len(path) + 1))
        ordered = sorted(nodes, key=lambda node: (len(node), node))
        id_of = {node: index for index, node in enumerate(ordered)}
        names = names or {}
        labels = [Label(id=id_of[node], name=names.get(node, node[-1]),
                        parent=id_of[node[:-1]] if len(node) > 1 else None, depth=len(node))
                  for node in ordered]
        return cls(labels), id_of

    def depth_of(self, label_id: int) -> int:
        return self.labels[label_id].depth

    def labels_at(self, depth: int) -> list[int]:
        """Ids of the labels at `depth` (1-based), ascending and contiguous."""
        return list(self._by_depth[depth - 1])

    def ancestors(self, label_id: int) -> list[int]:
        """Ancestors of a label, root first, the label itself excluded."""
        chain = []
        parent = self.labels[label_id].parent
        while parent is not None:
            chain.append(parent)
            parent = self.labels[parent].parent
        return chain[::-1]

    def with_ancestors(self, label_ids: Iterable[int]) -> list[int]:
        """The labels with every ancestor added, sorted."""
        closed: set[int] = set()
        for label_id in label_ids:
            closed.add(label_id)
            closed.update(self.ancestors(label_id))
        return sorted(closed)

    def local_hierarchy(self, label_ids: Iterable[int]) -> tuple[tuple[int, ...], ...]:
        """A document's labels grouped by depth: one sorted tuple per depth 1..D."""
        groups: list[list[int]] = [[] for _ in range(self.depth)]
        for label_id in sorted(set(label_ids)):
            groups[self.depth_of(label_id) - 1].append(label_id)
        return tuple(tuple(group) for group in groups)

    def to_json(self) -> list[dict]:
        return [{"id": l.id, "name": l.name, "parent": l.parent, "depth": l.depth}
                for l in self.labels]

    @classmethod
    def from_json(cls, rows: list[dict]) -> "Hierarchy":
        """The tree from to_json's rows; rows that are not one raise ValueError naming the label."""
        if not isinstance(rows, list):
            raise ValueError(f"expected a list of labels, got {type(rows).__name__}")
        return cls([_label_from_row(index, row) for index, row in enumerate(rows)])

    @classmethod
    def load(cls, path: str | Path) -> "Hierarchy":
        """labels.json; any problem with it raises MalformedInput naming the file."""
        rows = read_json(path)
        try:
            return cls.from_json(rows)
        except ValueError as error:
            raise MalformedInput(path, None, str(error)) from None


def _label_from_row(index: int, row) -> Label:
    if isinstance(row, dict) and row.keys() >= {"id", "name", "parent", "depth"}:
        label = Label(id=row["id"], name=row["name"], parent=row["parent"], depth=row["depth"])
        if (_is_int(label.id) and isinstance(label.name, str) and _is_int(label.depth)
                and (label.parent is None or _is_int(label.parent))):
            return label
    raise ValueError(f'label at position {index}: expected {{"id": int, "name": string, '
                     f'"parent": int or null, "depth": int}}, got {json.dumps(row)}')


def _is_int(value) -> bool:
    return type(value) is int  # JSON's true and false are Python ints too
