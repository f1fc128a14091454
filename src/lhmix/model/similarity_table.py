"""The similarity s of two documents' local hierarchies, looked up during LH-Mix training.

The table is computed ahead of training by the similarity stage (lhmix.similarity.precompute): one
L2-normalised vector per distinct local hierarchy of the training set, from a frozen encoder, keyed
by the sorted label ids of the local hierarchy. Training only looks rows up:
    s = 0.5 * (cos(h_i, h_j) + 1)  in [0, 1]   (LH-Mix section 4.2)
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import torch
from torch import Tensor

from lhmix.core.errors import LhmixError
from lhmix.core.files import write_torch

Key = tuple[int, ...]


def local_hierarchy_key(label_ids: Sequence[int]) -> Key:
    return tuple(sorted(set(int(label_id) for label_id in label_ids)))


class SimilarityTable:
    def __init__(self, keys: list[Key], vectors: Tensor, texts: list[str], encoder_name: str,
                 num_docs: int):
        self.keys = keys
        self.vectors = vectors  # [K, H] float32, L2-normalised rows
        self.texts = texts
        self.encoder_name = encoder_name
        self.num_docs = num_docs
        self._row_of = {key: row for row, key in enumerate(keys)}
        # Found by the precompute, printed by the similarity stage; not saved.
        self.truncated: list[str] = []
        self.same_vector: list[tuple[str, str]] = []

    def __len__(self) -> int:
        return len(self.keys)

    def rows(self, label_lists: Sequence[Sequence[int]]) -> Tensor:
        """Row of each document's local hierarchy; LhmixError for one the table does not hold."""
        rows = []
        for index, labels in enumerate(label_lists):
            row = self._row_of.get(local_hierarchy_key(labels))
            if row is None:
                raise LhmixError(f"document {index}: its local hierarchy {list(local_hierarchy_key(labels))} "
                                 f"is not in the similarity table (built from {self.num_docs} docs); "
                                 "rebuild the table from the same training data")
            rows.append(row)
        return torch.tensor(rows, dtype=torch.long)

    def pair_similarity(self, rows: Tensor, perm: Tensor) -> Tensor:
        """s_i = 0.5 * (cos(h_rows[i], h_rows[perm[i]]) + 1), float32 [B] on rows' device."""
        vectors = self.vectors.to(rows.device)
        mine = vectors[rows]
        partner = mine[perm.to(rows.device)]
        return 0.5 * ((mine * partner).sum(dim=1) + 1)

    def save(self, path: str | Path) -> None:
        """Written via a temporary file; same content gives the same bytes."""
        payload = {"keys": [list(key) for key in self.keys], "vectors": self.vectors.contiguous(),
                   "texts": self.texts, "encoder": self.encoder_name, "num_docs": self.num_docs}
        write_torch(payload, path)

    @classmethod
    def load(cls, path: str | Path) -> "SimilarityTable":
        path = Path(path)
        if not path.is_file():
            raise LhmixError(f"{path}: similarity table not found; run `dvc repro` on its similarity stage "
                             "(stages/similarity.py) first")
        try:
            payload = torch.load(path, map_location="cpu", weights_only=True)
            keys = [tuple(int(label) for label in key) for key in payload["keys"]]
            return cls(keys, payload["vectors"].float(), list(payload["texts"]),
                       str(payload["encoder"]), int(payload["num_docs"]))
        except LhmixError:
            raise
        except Exception as error:
            raise LhmixError(f"{path}: not a readable similarity table ({error})") from None
