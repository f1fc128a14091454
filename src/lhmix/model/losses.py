"""ZMLCE: the zero-bounded multi-label cross-entropy, per depth, summed over depths.

For the labels of one depth with scores p, gold set pos and the rest neg:
    L^d = log(1 + sum_{v in neg} exp(p_v)) + log(1 + sum_{v in pos} exp(-p_v))
It pushes gold scores above 0 and the others below 0, so a label is predicted when p_v > 0.
Both terms are logsumexp over the selected scores with an extra 0 (the "1 +"), which stays finite
for any score. Used by both families: for `bert` the [CLS] head's |V| scores are split by the same
depth slices, so the two families differ only in where the scores come from.

`train.loss` chooses the form: per_depth (default) is the sum over depths the papers write (HPT Eq. 2,
LH-Mix Eq. 7); per_document is what both published codes compute (LH-Mix models/loss.py): one ZMLCE per
document over every label of the hierarchy, a single 0 anchor for all depths together.
"""
from __future__ import annotations

import torch
from torch import Tensor

from lhmix.core.vocabulary import LOSSES, check_choice


def zmlce(logits: Tensor, targets: Tensor, depth_slices: list[slice]) -> Tensor:
    """Per-sample loss [B] from scores [B,V] and multi-hot targets [B,V] (bool or 0/1 float)."""
    if logits.dtype in (torch.float16, torch.bfloat16):  # autocast scores: sum the loss in fp32
        logits = logits.float()
    gold = targets.bool()
    total = logits.new_zeros(logits.shape[0])
    for depth_slice in depth_slices:
        scores, positive = logits[:, depth_slice], gold[:, depth_slice]
        total = total + _log1p_sum_exp(scores.masked_fill(positive, float("-inf")))
        total = total + _log1p_sum_exp((-scores).masked_fill(~positive, float("-inf")))
    return total


def loss_slices(depth_slices: list[slice], form: str) -> list[slice]:
    """The label ranges each ZMLCE term runs over: one per depth, or one over all labels (ids are
    contiguous per depth and the depths follow each other, lhmix.model.classifier)."""
    check_choice("train.loss", form, LOSSES)
    if form == "per_depth":
        return list(depth_slices)
    return [slice(depth_slices[0].start, depth_slices[-1].stop)]


def _log1p_sum_exp(values: Tensor) -> Tensor:
    """log(1 + sum exp(values)) along the last dim; entries at -inf drop out of the sum."""
    zero = values.new_zeros(values.shape[:-1] + (1,))
    return torch.logsumexp(torch.cat([zero, values], dim=-1), dim=-1)
