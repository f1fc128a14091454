import math

import pytest
import torch

from lhmix.model.losses import zmlce

SLICES = [slice(0, 2), slice(2, 4)]


def log1p_sum_exp(values):
    return math.log(1 + sum(math.exp(v) for v in values))


def by_hand(scores, gold):
    total = 0.0
    for depth in SLICES:
        labels = range(depth.start, depth.stop)
        total += log1p_sum_exp([scores[v] for v in labels if not gold[v]])
        total += log1p_sum_exp([-scores[v] for v in labels if gold[v]])
    return total


def test_matches_formula_per_sample():
    scores = [[1.0, -2.0, 3.0, 0.5], [0.2, 0.7, -1.5, -0.3], [-4.0, 2.5, 1.0, 1.0]]
    gold = [[1, 0, 0, 1], [1, 1, 0, 1], [0, 1, 1, 1]]
    loss = zmlce(torch.tensor(scores), torch.tensor(gold, dtype=torch.float32), SLICES)
    assert loss.shape == (3,)
    expected = [by_hand(s, g) for s, g in zip(scores, gold)]
    assert loss.tolist() == pytest.approx(expected, rel=1e-6)
    # first sample written out: depth 1 = log(1+e^-2) + log(1+e^-1), depth 2 = log(1+e^3) + log(1+e^-0.5)
    assert loss[0].item() == pytest.approx(
        math.log(1 + math.exp(-2)) + math.log(1 + math.exp(-1))
        + math.log(1 + math.exp(3)) + math.log(1 + math.exp(-0.5)), rel=1e-6)


def test_bool_and_float_targets_agree():
    scores = torch.randn(5, 4, generator=torch.Generator().manual_seed(0))
    gold = torch.tensor([[1, 0, 1, 0], [0, 1, 0, 1], [1, 0, 0, 0], [0, 0, 0, 0], [1, 1, 1, 1]])
    assert torch.equal(zmlce(scores, gold.bool(), SLICES), zmlce(scores, gold.float(), SLICES))


def test_empty_groups_contribute_zero():
    # no gold at all: only the negative term, log(1 + sum exp(p)) over each depth
    loss = zmlce(torch.tensor([[0.0, 0.0, 0.0, 0.0]]), torch.zeros(1, 4), SLICES)
    assert loss.item() == pytest.approx(2 * math.log(3))


def test_stable_for_extreme_scores_and_finite_gradients():
    scores = torch.tensor([[1000.0, -1000.0, -1000.0, 1000.0]], requires_grad=True)
    gold = torch.tensor([[0, 1, 0, 1]])
    loss = zmlce(scores, gold, SLICES)
    assert loss.item() == pytest.approx(2000.0)
    loss.sum().backward()
    assert torch.isfinite(scores.grad).all()
    assert scores.grad.tolist() == [[1.0, -1.0, 0.0, 0.0]]
