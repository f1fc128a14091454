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

import math
from typing import Sequence

import torch
from torch import Tensor

from lhmix.core.errors import ParamError
from lhmix.core.progress_log import ProgressLog
from lhmix.data.hierarchy import Hierarchy
from lhmix.model.encoders import load_encoder, load_tokenizer
from lhmix.model.similarity_table import SimilarityTable, local_hierarchy_key

# Two distinct local hierarchies whose vectors are closer than this are reported: s = 1 for them
# makes LH-Mix mix them 50/50 as if they were the same hierarchy (e.g. texts cut too short).
SAME_VECTOR_COSINE = 1 - 1e-6


def local_hierarchy_text(hierarchy: Hierarchy, label_ids: Sequence[int]) -> str:
    parts = []
    for depth, group in enumerate(hierarchy.local_hierarchy(label_ids), start=1):
        if group:
            names = ", ".join(hierarchy.labels[label_id].name for label_id in group)
            parts.append(f"level {depth}: {names}.")
    return " ".join(parts)


def precompute(encoder_name: str, hierarchy: Hierarchy, label_lists: Sequence[Sequence[int]],
               max_length: int, batch_size: int = 64, device: str | torch.device = "cpu",
               ) -> SimilarityTable:
    """Encode each distinct local hierarchy of `label_lists` once (keys in sorted order).

    max_length is the similarity encoder's own limit (`encoder.similarity_max_length`): a text it
    cuts is reported in `truncated`, and distinct hierarchies that come out with the same vector
    in `same_vector` (both are properties of the table, printed by the stage)."""
    if isinstance(max_length, bool) or not isinstance(max_length, int) or max_length < 3:
        raise ParamError("encoder.similarity_max_length", max_length, "an integer >= 3 ([CLS], a token, [SEP])")
    keys = sorted({local_hierarchy_key(labels) for labels in label_lists})
    texts = [local_hierarchy_text(hierarchy, key) for key in keys]
    tokenizer = load_tokenizer(encoder_name)
    encoder = load_encoder(encoder_name).encoder
    lengths = [len(ids) for ids in tokenizer(texts)["input_ids"]]
    vectors = encode_texts(encoder.to(device), tokenizer, texts, max_length, batch_size)
    vectors = torch.nn.functional.normalize(vectors.float().cpu(), dim=1)
    table = SimilarityTable(keys, vectors, texts, encoder_name, len(label_lists))
    table.truncated = [text for text, length in zip(texts, lengths) if length > max_length]
    table.same_vector = same_vector_pairs(vectors, texts)
    return table


def same_vector_pairs(vectors: Tensor, texts: list[str]) -> list[tuple[str, str]]:
    """Pairs of distinct texts whose normalised vectors coincide (cosine above SAME_VECTOR_COSINE)."""
    if len(texts) < 2:
        return []
    cosine = vectors @ vectors.T
    first, second = torch.triu(cosine > SAME_VECTOR_COSINE, diagonal=1).nonzero(as_tuple=True)
    return [(texts[i], texts[j]) for i, j in zip(first.tolist(), second.tolist())]


def encode_texts(encoder, tokenizer, texts: list[str], max_length: int, batch_size: int) -> Tensor:
    """[CLS] vectors [N, H] of `texts` from a frozen encoder, batches padded to their longest."""
    encoder.eval()
    device = next(encoder.parameters()).device
    ids = tokenizer(texts, truncation=True, max_length=max_length)["input_ids"]
    vectors = []
    encoding = ProgressLog(f"similarity: encoding {len(texts):,} local hierarchies",
                           math.ceil(len(ids) / batch_size), "batch")
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
            encoding.advance()
    encoding.finish()
    if not vectors:
        return torch.zeros((0, encoder.config.hidden_size))
    return torch.cat(vectors)
