"""Similarity of two documents' local hierarchies, from a frozen encoder, computed ahead of training.

A document's local hierarchy is its gold labels grouped by depth. It is written as a sentence with
plain-text depth markers, e.g. "level 1: computer science. level 2: machine learning." (several labels
at one depth joined with ", "; a depth without a label is left out). The paper writes learnt [Dth_d]
tokens, but the similarity encoder is frozen and never learns them; words it already knows carry the
level. The frozen encoder (eval mode, attention mask honoured, no gradient) gives the [CLS] vector of
each sentence, as in the paper (all-MiniLM-L6-v2 was trained with mean pooling, but its [CLS]
vector still separates related from unrelated hierarchies: we keep the paper's choice). Vectors are
L2-normalised so that cos(h_i, h_j) is a dot product, and
    s = 0.5 * (cos(h_i, h_j) + 1)  in [0, 1].
Local hierarchies repeat a lot (WOS: 134 distinct among 30k texts), so each distinct one is encoded
once; training only looks rows up. The table is keyed by the sorted label ids of the local hierarchy.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Sequence

import torch
from torch import Tensor

from lhmix.encoders import load_encoder, load_tokenizer
from lhmix.errors import LhmixError
from lhmix.files import replaced_on_success
from lhmix.hierarchy import Hierarchy

log = logging.getLogger(__name__)

Key = tuple[int, ...]


def local_hierarchy_text(hierarchy: Hierarchy, label_ids: Sequence[int]) -> str:
    parts = []
    for depth, group in enumerate(hierarchy.local_hierarchy(label_ids), start=1):
        if group:
            names = ", ".join(hierarchy.labels[label_id].name for label_id in group)
            parts.append(f"level {depth}: {names}.")
    return " ".join(parts)


def _key(label_ids: Sequence[int]) -> Key:
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

    def __len__(self) -> int:
        return len(self.keys)

    def rows(self, label_lists: Sequence[Sequence[int]]) -> Tensor:
        """Row of each document's local hierarchy; LhmixError for one the table does not hold."""
        rows = []
        for index, labels in enumerate(label_lists):
            row = self._row_of.get(_key(labels))
            if row is None:
                raise LhmixError(f"document {index}: its local hierarchy {list(_key(labels))} is not in the "
                                 f"similarity table (built from {self.num_docs} docs); rebuild the table "
                                 "from the same training data")
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
        with replaced_on_success(path) as temporary:
            torch.save(payload, temporary)

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


def precompute(encoder_name: str, hierarchy: Hierarchy, label_lists: Sequence[Sequence[int]],
               max_length: int, batch_size: int = 64, device: str | torch.device = "cpu",
               ) -> SimilarityTable:
    """Encode each distinct local hierarchy of `label_lists` once (keys in sorted order)."""
    keys = sorted({_key(labels) for labels in label_lists})
    texts = [local_hierarchy_text(hierarchy, key) for key in keys]
    log.info("similarity: %d documents, %d distinct local hierarchies to encode", len(label_lists), len(keys))
    tokenizer = load_tokenizer(encoder_name)
    encoder = load_encoder(encoder_name).encoder
    vectors = encode_texts(encoder.to(device), tokenizer, texts, max_length, batch_size)
    vectors = torch.nn.functional.normalize(vectors.float().cpu(), dim=1)
    return SimilarityTable(keys, vectors, texts, encoder_name, len(label_lists))


def encode_texts(encoder, tokenizer, texts: list[str], max_length: int, batch_size: int) -> Tensor:
    """[CLS] vectors [N, H] of `texts` from a frozen encoder, batches padded to their longest."""
    encoder.eval()
    device = next(encoder.parameters()).device
    ids = tokenizer(texts, truncation=True, max_length=max_length)["input_ids"]
    vectors = []
    with torch.inference_mode():
        for start in range(0, len(ids), batch_size):
            batch = ids[start:start + batch_size]
            width = max(len(row) for row in batch)
            input_ids = torch.full((len(batch), width), tokenizer.pad_token_id, dtype=torch.long)
            attention_mask = torch.zeros((len(batch), width), dtype=torch.long)
            for row, token_ids in enumerate(batch):
                input_ids[row, :len(token_ids)] = torch.tensor(token_ids)
                attention_mask[row, :len(token_ids)] = 1
            hidden = encoder(input_ids=input_ids.to(device),
                             attention_mask=attention_mask.to(device)).last_hidden_state
            vectors.append(hidden[:, 0])
    if not vectors:
        return torch.zeros((0, encoder.config.hidden_size))
    return torch.cat(vectors)
