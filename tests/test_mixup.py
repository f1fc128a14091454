import functools
import math

import numpy as np
import pytest
import torch

from lhmix.model import mixup
from lhmix.core.errors import ParamError
from lhmix.model.losses import zmlce
from lhmix.core.ratios import check_ratio_params, lhmix_lambda
from lhmix.model.mixup import beta_ratio, lhmix_ratio, mix, mixed_loss, permutation


@pytest.mark.parametrize("alpha", [0.1, 0.3, 1, 2, 10])
@pytest.mark.parametrize("beta", [0.7, 0.85, 1])
def test_ratio_is_eq4(alpha, beta):
    grid = [0.0, 0.1, 0.25, 0.5, 0.9, 1.0]
    got = lhmix_ratio(torch.tensor(grid, dtype=torch.float64), alpha, beta)
    assert got.tolist() == pytest.approx([-(beta - 0.5) * s ** alpha + beta for s in grid])


def test_ratio_bounds_and_rounding():
    lam = lhmix_ratio(torch.tensor([0.0, 1.0, 1.0000001, -1e-7]), 2, 0.9)
    assert lam.tolist() == pytest.approx([0.9, 0.5, 0.5, 0.9])


@pytest.mark.parametrize("alpha, beta, name", [
    (0, 0.8, "alpha"), (-1, 0.8, "alpha"), (float("nan"), 0.8, "alpha"), (float("inf"), 0.8, "alpha"),
    ("2", 0.8, "alpha"), (True, 0.8, "alpha"), (1, 0.5, "beta"), (1, 1.01, "beta"), (1, 0.3, "beta"),
    (1, None, "beta")])
def test_bad_ratio_params_name_the_parameter(alpha, beta, name):
    with pytest.raises(ParamError, match=f"'{name}'"):
        check_ratio_params(alpha, beta)


def test_ints_are_accepted_as_floats():
    alpha, beta = check_ratio_params(2, 1)
    assert (alpha, beta) == (2.0, 1.0)
    assert type(alpha) is float
    assert type(beta) is float


def test_lhmix_lambda_is_one_formula_for_numpy_and_torch():
    s = np.array([0.0, 0.25, 1.0])
    # beta - (beta - 0.5) s^alpha at alpha 2, beta 0.75: 0.75, 0.75 - 0.25 / 16, 0.5
    assert lhmix_lambda(s, 2, 0.75).tolist() == [0.75, 0.734375, 0.5]
    assert torch.equal(lhmix_ratio(torch.from_numpy(s), 2, 0.75), torch.from_numpy(lhmix_lambda(s, 2, 0.75)))


def test_lhmix_ratio_clamps_similarities_rounded_out_of_range():
    assert lhmix_ratio(torch.tensor([-1e-7, 1 + 1e-7]), 1, 0.75).tolist() == [0.75, 0.5]


@pytest.mark.parametrize("a", [0.4, 1.0, 2.0])
def test_beta_sampler_moments(a):
    draws = beta_ratio(200_000, a, torch.Generator().manual_seed(0)).double()
    assert draws.dtype == torch.float64
    assert draws.min() >= 0
    assert draws.max() <= 1
    assert draws.mean().item() == pytest.approx(0.5, abs=0.005)
    assert draws.var().item() == pytest.approx(1 / (4 * (2 * a + 1)), rel=0.03)


def test_beta_sampler_is_reproducible_and_consumes_n_uniforms():
    first = beta_ratio(7, 1.0, torch.Generator().manual_seed(3))
    again = beta_ratio(7, 1.0, torch.Generator().manual_seed(3))
    other = beta_ratio(7, 1.0, torch.Generator().manual_seed(4))
    assert first.dtype == torch.float32
    assert torch.equal(first, again)
    assert not torch.equal(first, other)
    used, reference = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
    beta_ratio(9, 0.3, used)
    torch.rand(9, generator=reference, dtype=torch.float64)
    assert torch.equal(used.get_state(), reference.get_state())


def test_beta_sampler_leaves_global_rng_alone():
    state = torch.random.get_rng_state()
    beta_ratio(4, 1.0, torch.Generator().manual_seed(0))
    permutation(4, torch.Generator().manual_seed(0))
    assert torch.equal(state, torch.random.get_rng_state())


def test_beta_sampler_rejects_bad_a():
    with pytest.raises(ParamError, match="mixup_beta_a"):
        beta_ratio(3, 0, torch.Generator())


def test_permutation():
    perm = permutation(10, torch.Generator().manual_seed(1))
    assert perm.dtype == torch.long
    assert sorted(perm.tolist()) == list(range(10))
    assert torch.equal(perm, permutation(10, torch.Generator().manual_seed(1)))


def test_mix_by_hand():
    states = torch.tensor([[[1.0, 2.0], [3.0, 4.0]], [[10.0, 20.0], [30.0, 40.0]]])  # [B=2, S=2, H=2]
    mixed = mix(states, torch.tensor([1, 0]), torch.tensor([0.75, 0.5]))
    assert mixed.tolist() == [[[3.25, 6.5], [9.75, 13.0]], [[5.5, 11.0], [16.5, 22.0]]]


def test_mixed_loss_weighs_each_sample_with_its_own_lambda():
    slices = [slice(0, 1), slice(1, 3)]
    logits = torch.tensor([[2.0, -1.0, 0.5], [-1.0, 1.5, -0.5], [0.3, 0.1, -2.0]])
    targets = torch.tensor([[1, 0, 1], [0, 1, 0], [1, 1, 0]])
    perm, lam = torch.tensor([1, 2, 0]), torch.tensor([0.9, 0.5, 0.6])
    loss_fn = functools.partial(zmlce, depth_slices=slices)
    got = mixed_loss(loss_fn, logits, targets, perm, lam)

    def loss(scores, gold):  # ZMLCE written out
        total = 0.0
        for depth in slices:
            labels = range(depth.start, depth.stop)
            total += math.log(1 + sum(math.exp(scores[v]) for v in labels if not gold[v]))
            total += math.log(1 + sum(math.exp(-scores[v]) for v in labels if gold[v]))
        return total

    rows, gold = logits.tolist(), targets.tolist()
    own = [loss(rows[i], gold[i]) for i in range(3)]
    partner = [loss(rows[i], gold[perm[i]]) for i in range(3)]
    expected = [lam[i].item() * own[i] + (1 - lam[i].item()) * partner[i] for i in range(3)]
    assert got.tolist() == pytest.approx(expected, rel=1e-6)

    # the published code's slip: mean(lambda) * mean(loss) loses the pairing
    mean_lam = sum(lam.tolist()) / 3
    slip = mean_lam * sum(own) / 3 + (1 - mean_lam) * sum(partner) / 3
    assert got.mean().item() != pytest.approx(slip, rel=1e-3)
    assert got.mean().item() == pytest.approx(sum(expected) / 3, rel=1e-6)


def test_histogram_summary_by_hand():
    values = torch.tensor([0.5001, 0.5002, 0.5205, 0.5505, 0.9999])
    counts = mixup.histogram(values)
    assert counts.shape == (mixup.HISTOGRAM_BINS,)
    assert counts.sum() == 5
    summary = mixup.histogram_summary(counts.tolist(), float(values.double().sum()))
    # cumulative counts reach 0.25 (5 %) in bin 500, 2.5 (50 %) in bin 520, 4.75 (95 %) in bin 999
    assert summary == {"n": 5, "mean": pytest.approx(0.61424, abs=1e-6), "q05": 0.5005, "q50": 0.5205,
                       "q95": 0.9995, "first_bin": 500, "counts": [2] + [0] * 19 + [1] + [0] * 29 + [1] + [0] * 448 + [1]}
    assert mixup.histogram_summary([0.0] * mixup.HISTOGRAM_BINS, 0.0) == {"n": 0}
