"""From the data contract to padded tensor batches.

A split is read once into `Documents` (lhmix.data.documents); the model family turns the texts
into token ids (lhmix.model.inputs.build_inputs) and `Encoded` keeps them, with the labels, as flat
int arrays plus offsets, so RCV1's 781k test documents cost a few bytes per token rather than a
Python list per document.

Batching:
- training (`length_batches`): shuffle, sort by length within chunks of ~50 batches, cut into
  batches, shuffle the batches. The order comes only from (seed, epoch), so a resumed or
  warm-started run sees exactly the batches an uninterrupted run sees.
- evaluation (`sorted_batches`): by length, so padding is minimal; order does not matter there.
- `collate` pads to the longest row of the batch (never to max_length) and builds the multi-hot
  targets.

`train_subset` keeps a fixed fraction of the training set for the sparse-data study: a
permutation seeded with 0 (not the run seed), the first round(F * n) documents of it (at least
one), kept in file order. All seeds and variants of one fraction therefore train on the same
documents, and a smaller fraction's subset is contained in every larger one.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch

from lhmix.core.errors import ParamError
from lhmix.data.documents import Documents

CHUNK_BATCHES = 50
SUBSET_SEED = 0


def train_subset(docs: Documents, fraction: float) -> Documents:
    """The deterministic fraction of the training set used by the sparse-data study."""
    if not 0.0 < fraction <= 1.0:
        raise ParamError("train_fraction", fraction, "a number in (0, 1]")
    if fraction == 1.0:
        return docs
    keep = max(1, round(fraction * len(docs)))
    chosen = np.random.default_rng(SUBSET_SEED).permutation(len(docs))[:keep]
    return docs.take(np.sort(chosen).tolist())


class Ragged:
    """A list of int rows stored as one flat int32 array and row offsets."""

    def __init__(self, rows: Sequence[Sequence[int]]):
        lengths = np.fromiter((len(row) for row in rows), dtype=np.int64, count=len(rows))
        self.offsets = np.zeros(len(rows) + 1, dtype=np.int64)
        np.cumsum(lengths, out=self.offsets[1:])
        self.values = np.fromiter((value for row in rows for value in row), dtype=np.int32,
                                  count=int(self.offsets[-1]))

    @classmethod
    def from_arrays(cls, offsets: np.ndarray, values: np.ndarray) -> "Ragged":
        """From stored arrays, checked: offsets start at 0, never decrease and end at len(values)."""
        offsets, values = np.asarray(offsets, dtype=np.int64), np.asarray(values, dtype=np.int32)
        if (offsets.ndim != 1 or len(offsets) == 0 or offsets[0] != 0 or offsets[-1] != len(values)
                or (np.diff(offsets) < 0).any()):
            raise ValueError("offsets do not describe the values")
        ragged = cls.__new__(cls)
        ragged.offsets, ragged.values = offsets, values
        return ragged

    def __len__(self) -> int:
        return len(self.offsets) - 1

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    def row(self, index: int) -> np.ndarray:
        return self.values[self.offsets[index]:self.offsets[index + 1]].astype(np.int64)


@dataclass
class Encoded:
    """A split ready for batching: token ids and label ids per document."""
    ids: list[str]
    tokens: Ragged
    labels: Ragged
    label_lists: list[list[int]]

    @classmethod
    def build(cls, docs: Documents, input_ids: Sequence[Sequence[int]] | Ragged) -> "Encoded":
        if len(input_ids) != len(docs):
            raise ValueError(f"{len(input_ids)} encoded inputs for {len(docs)} documents")
        tokens = input_ids if isinstance(input_ids, Ragged) else Ragged(input_ids)
        return cls(ids=list(docs.ids), tokens=tokens, labels=Ragged(docs.labels),
                   label_lists=docs.labels)

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def lengths(self) -> np.ndarray:
        return self.tokens.lengths


@dataclass
class Batch:
    indices: torch.Tensor         # [B] positions in the split
    input_ids: torch.Tensor       # [B, S] padded to the longest row
    attention_mask: torch.Tensor  # [B, S]
    targets: torch.Tensor         # [B, V] multi-hot, float32

    def to(self, device: torch.device) -> "Batch":
        """On a GPU through pinned memory, so that the copy does not block the host."""
        pin = device.type == "cuda"
        return Batch(*((tensor.pin_memory() if pin else tensor).to(device, non_blocking=True) for tensor in
                       (self.indices, self.input_ids, self.attention_mask, self.targets)))

    def __len__(self) -> int:
        return len(self.indices)


def collate(split: Encoded, indices: Sequence[int], pad_id: int, num_labels: int) -> Batch:
    indices = np.asarray(indices, dtype=np.int64)
    lengths = split.tokens.lengths[indices]
    input_ids = np.full((len(indices), int(lengths.max())), pad_id, dtype=np.int64)
    attention_mask = np.zeros(input_ids.shape, dtype=np.int64)
    for position, (index, length) in enumerate(zip(indices, lengths)):
        input_ids[position, :length] = split.tokens.row(index)
        attention_mask[position, :length] = 1
    return Batch(indices=torch.from_numpy(indices), input_ids=torch.from_numpy(input_ids),
                 attention_mask=torch.from_numpy(attention_mask),
                 targets=multi_hot_targets(split.labels, indices, num_labels))


def multi_hot_targets(labels: Ragged, indices: np.ndarray, num_labels: int) -> torch.Tensor:
    counts = labels.lengths[indices]
    rows = np.repeat(np.arange(len(indices)), counts)
    columns = np.concatenate([labels.row(i) for i in indices]) if len(indices) else np.zeros(0, np.int64)
    targets = torch.zeros(len(indices), num_labels, dtype=torch.float32)
    targets[torch.from_numpy(rows), torch.from_numpy(columns)] = 1.0
    return targets


def length_batches(lengths: np.ndarray, batch_size: int, seed: int, epoch: int,
                   min_size: int = 1) -> list[list[int]]:
    """Training batches of one epoch, a function of (lengths, batch_size, seed, epoch) only.

    A final batch smaller than `min_size` (e.g. fewer documents than DDP ranks) is merged into
    the batch before it rather than dropped.
    """
    rng = np.random.default_rng([seed, epoch])
    order = rng.permutation(len(lengths))
    chunk_size = batch_size * CHUNK_BATCHES
    batches: list[list[int]] = []
    for start in range(0, len(order), chunk_size):
        chunk = order[start:start + chunk_size]
        chunk = chunk[np.argsort(lengths[chunk], kind="stable")]
        batches.extend(chunk[i:i + batch_size].tolist() for i in range(0, len(chunk), batch_size))
    if len(batches) > 1 and len(batches[-1]) < min_size:
        batches[-2].extend(batches.pop())
    return [batches[i] for i in rng.permutation(len(batches))]


def sorted_batches(lengths: np.ndarray, batch_size: int) -> list[list[int]]:
    """Evaluation batches: documents by length, so each batch pads little."""
    order = np.argsort(lengths, kind="stable")
    return [order[i:i + batch_size].tolist() for i in range(0, len(order), batch_size)]


def shard(batch: Sequence[int], rank: int, world_size: int) -> list[int]:
    """This rank's share of a batch under DDP: every world_size-th document."""
    return list(batch[rank::world_size])
