"""The label tree: ids, names, parents, depths, and the local hierarchy of a document.

Label ids are 0..|V|-1, ordered by depth and then by the path of keys from the root, so
the labels of one depth are a contiguous id range and ids never depend on input order.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping, Sequence


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
            if label.id != index:
                raise ValueError(f"label ids must be 0..n-1 in order; got {label.id} at {index}")
            if label.depth == 1:
                if label.parent is not None:
                    raise ValueError(f"top-level label {label.id} has a parent")
            elif label.parent is None or self.labels[label.parent].depth != label.depth - 1:
                raise ValueError(f"label {label.id} at depth {label.depth} needs a parent one level up")
        self.depth = max((label.depth for label in self.labels), default=0)
        self._by_depth = [[] for _ in range(self.depth)]
        for label in self.labels:
            self._by_depth[label.depth - 1].append(label.id)

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

    def close(self, label_ids: Iterable[int]) -> list[int]:
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
        return cls([Label(id=int(r["id"]), name=str(r["name"]),
                          parent=None if r["parent"] is None else int(r["parent"]),
                          depth=int(r["depth"])) for r in rows])

    @classmethod
    def load(cls, path: str | Path) -> "Hierarchy":
        with open(path, encoding="utf-8") as handle:
            return cls.from_json(json.load(handle))
