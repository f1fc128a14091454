"""LH-Mix's similarity s as the released code computes it (fskong/LH-Mix, models/prompt.py and train.py), the
`similarity.source: published` beside the frozen table of lhmix.model.similarity_table.

At every mixing step the classifier's own encoder, with its current weights and in its current mode (training:
dropout on), encodes the label sequences of the batch, and each sample and its partner pi(i) get
    s_i = 0.5 * (cos(h_i, h_pi(i)) + 1),   h = the [CLS] output of the label sequence,
which lambda(s) of Eq. 4 (lhmix.core.ratios) turns into the mixing ratio. A document's label sequence is its
local hierarchy (lhmix.data.hierarchy.Hierarchy.local_hierarchy) as the released code writes it:
    [CLS] [D1] names of its depth-1 labels [D2] names of its depth-2 labels ... [DD] ... [SEP]
with the prompt's own depth markers [Dd] (lhmix.model.inputs; a depth without a label keeps its marker, as
released), right-padded with [PAD] to `similarity.label_length` tokens (released: 512). The released code
encodes it with no attention mask, so the pads are attended like words: the longer the padding, the more
alike every [CLS] output, and s -> 1, lambda -> 0.5 (measured in the README). With `similarity.attention_mask:
true` the pads are masked, as the frozen precompute does.

Gradients: the released code computes s inside the model's forward pass, outside torch.no_grad, and keeps
lambda attached, so the loss also reaches the encoder through lambda (the mixed states and the two loss
weights). So does this: the loop computes s inside its Objective's forward (where DDP sees every use).
Dropout in this extra forward pass draws from the global torch stream, never from the Mixup stream: the
partners of a published-source run are those of the frozen-source run of the same seed.
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor
from torch.nn import functional

from lhmix.core.errors import ParamError
from lhmix.data.hierarchy import Hierarchy
from lhmix.model.inputs import marker_id
from lhmix.model.similarity_table import local_hierarchy_key


def label_sequence(tokenizer, hierarchy: Hierarchy, label_ids: Sequence[int]) -> list[int]:
    """Token ids of one document's label sequence, unpadded: [CLS] [D1] names ... [DD] names [SEP]."""
    ids = [tokenizer.cls_token_id]
    for depth, group in enumerate(hierarchy.local_hierarchy(label_ids), start=1):
        names = " ".join(hierarchy.labels[label_id].name for label_id in group)
        ids += [marker_id(tokenizer, depth), *tokenizer(names, add_special_tokens=False)["input_ids"]]
    return ids + [tokenizer.sep_token_id]


class LabelSequences:
    """The padded label sequence of each distinct local hierarchy of a training set ([K, L] ids) and each
    document's row of it ([N]): local hierarchies repeat, so a sequence is stored once."""

    def __init__(self, ids: Tensor, rows: Tensor, pad_token_id: int):
        self.ids, self.rows, self.pad_token_id = ids, rows, pad_token_id

    @classmethod
    def build(cls, tokenizer, hierarchy: Hierarchy, label_lists: Sequence[Sequence[int]], length: int,
              max_positions: int) -> "LabelSequences":
        """Sequences padded to `length` (similarity.label_length), which must hold the longest of them and fit
        the encoder's `max_positions` position embeddings."""
        keys = sorted({local_hierarchy_key(labels) for labels in label_lists})
        sequences = [label_sequence(tokenizer, hierarchy, key) for key in keys]
        longest = max(range(len(keys)), key=lambda row: len(sequences[row]))
        if len(sequences[longest]) > length:
            raise ParamError("similarity.label_length", length,
                             f"at least {len(sequences[longest])}, the tokens of the longest label sequence of the "
                             f"training set (its labels: {[hierarchy.labels[i].name for i in keys[longest]]})")
        if length > max_positions:
            raise ParamError("similarity.label_length", length,
                             f"at most {max_positions}, the classifier's position embeddings")
        ids = torch.full((len(keys), length), tokenizer.pad_token_id, dtype=torch.long)
        for row, sequence in enumerate(sequences):
            ids[row, :len(sequence)] = torch.tensor(sequence)
        row_of = {key: row for row, key in enumerate(keys)}
        rows = torch.tensor([row_of[local_hierarchy_key(labels)] for labels in label_lists], dtype=torch.long)
        return cls(ids, rows, tokenizer.pad_token_id)

    def to(self, device) -> "LabelSequences":
        return LabelSequences(self.ids.to(device), self.rows.to(device), self.pad_token_id)

    def of(self, indices: Tensor) -> Tensor:
        """[B, L] ids of the documents `indices` (rows of the training split)."""
        return self.ids[self.rows[indices.to(self.rows.device)]]


def pair_similarity(model, sequences: Tensor, perm: Tensor, pad_token_id: int | None = None) -> Tensor:
    """s_i = 0.5 * (cos(h_i, h_perm(i)) + 1), float32 [B], h = [CLS] outputs of `model`'s encoder
    (lhmix.model.classifier.HTCModel) on `sequences`, in the mode the model is in and with gradients. No
    attention mask, as released; with pad_token_id, the positions holding it are masked."""
    mask = None if pad_token_id is None else model.encoder_mask((sequences != pad_token_id).long())
    states = model.encoder(input_ids=sequences, attention_mask=mask).last_hidden_state[:, 0].float()
    return 0.5 * (functional.cosine_similarity(states, states[perm.to(states.device)], dim=1) + 1)
