"""The report's statistics against values computed by hand.

Closed forms of the two-sided t p-value used below: 2 df: p = 1 - t / sqrt(t^2 + 2);
4 df: p = 1 - x (3 - x^2) / 2 with x = t / sqrt(t^2 + 4).
"""
import math

import numpy as np
import pytest

from lhmix.reporting import stats


def test_paired_t_of_differences_1_2_3():
    comparison = stats.paired({0: 11.0, 1: 12.0, 2: 13.0}, {0: 10.0, 1: 10.0, 2: 10.0})
    # mean 2, sd 1, t = 2 / (1 / sqrt 3) = 3.4641, 2 df, p = 1 - 2 sqrt 3 / sqrt 14 = 0.074180
    assert comparison.test == stats.PAIRED
    assert comparison.n == "3 pairs"
    assert comparison.diff == pytest.approx(2.0)
    assert comparison.t == pytest.approx(2 * math.sqrt(3))
    assert comparison.df == 2
    assert comparison.p == pytest.approx(1 - 2 * math.sqrt(3) / math.sqrt(14)) == pytest.approx(0.0742, abs=1e-4)
    # 2 +- t(0.975, 2) / sqrt 3, t(0.975, 2) = 4.3027
    assert comparison.low == pytest.approx(2 - 4.302653 / math.sqrt(3), abs=1e-5)
    assert comparison.high == pytest.approx(2 + 4.302653 / math.sqrt(3), abs=1e-5)


def test_paired_uses_only_the_seeds_both_sides_have():
    comparison = stats.paired({0: 11.0, 1: 12.0, 2: 13.0, 7: 99.0}, {0: 10.0, 1: 10.0, 2: 10.0})
    assert comparison.n == "3 pairs"
    assert comparison.diff == pytest.approx(2.0)


def test_welch_equal_variances_and_sizes():
    comparison = stats.welch([3.0, 4.0, 5.0], [1.0, 2.0, 3.0])
    # diff 2, se = sqrt(1/3 + 1/3), t = 2.4495, df = (2/3)^2 / (2 (1/3)^2 / 2) = 4
    t = 2 / math.sqrt(2 / 3)
    x = t / math.sqrt(t * t + 4)
    assert comparison.test == stats.WELCH
    assert comparison.n == "3 + 3"
    assert comparison.t == pytest.approx(t)
    assert comparison.df == pytest.approx(4.0)
    assert comparison.p == pytest.approx(1 - x * (3 - x * x) / 2) == pytest.approx(0.070484, abs=1e-6)
    # 2 +- t(0.975, 4) x se, t(0.975, 4) = 2.7764
    assert comparison.low == pytest.approx(2 - 2.776445 * math.sqrt(2 / 3), abs=1e-5)
    assert comparison.high == pytest.approx(2 + 2.776445 * math.sqrt(2 / 3), abs=1e-5)


def test_welch_with_one_constant_side():
    comparison = stats.welch([3.0, 4.0, 5.0], [1.0, 1.0, 1.0])
    # diff 3, se = sqrt(1/3), t = 3 sqrt 3 = 5.196, df = (1/3)^2 / ((1/3)^2 / 2) = 2, p = 1 - t / sqrt(29)
    assert comparison.diff == pytest.approx(3.0)
    assert comparison.t == pytest.approx(3 * math.sqrt(3))
    assert comparison.df == pytest.approx(2.0)
    assert comparison.p == pytest.approx(1 - 3 * math.sqrt(3) / math.sqrt(29)) == pytest.approx(0.0351, abs=1e-4)


def test_no_test_without_spread_or_seeds():
    same = stats.paired({0: 50.0, 1: 46.0}, {0: 50.0, 1: 46.0})
    assert same.diff == 0
    assert same.p is None
    assert same.low is None
    assert "no spread" in same.note
    shifted = stats.paired({0: 51.0, 1: 47.0}, {0: 50.0, 1: 46.0})
    assert shifted.diff == pytest.approx(1.0)
    assert shifted.p is None
    assert stats.paired({0: 1.0}, {0: 0.0}).p is None
    assert stats.welch([1.0, 1.0], [2.0, 2.0]).p is None
    assert stats.welch([1.0], [2.0, 3.0]).note == "fewer than 2 seeds on a side: no test"


def test_verdicts():
    def comparison(diff, p):
        return stats.Comparison(stats.PAIRED, "3 pairs", diff, p=p)
    assert stats.verdict(comparison(1.0, 0.01)) == "supported (+)"
    assert stats.verdict(comparison(-1.0, 0.01)) == "contradicted (-)"
    assert stats.verdict(comparison(1.0, 0.05)) == "inconclusive"
    assert stats.verdict(comparison(-1.0, 0.2)) == "inconclusive"
    assert stats.verdict(comparison(1.0, None)) == "inconclusive"
    # a NaN p is no test result, not "significant" (NaN >= 0.05 is False)
    assert stats.verdict(comparison(1.0, math.nan)) == "inconclusive"
    assert stats.no_verdict_reason(comparison(1.0, math.nan), math.nan) == "p is nan: no test result"
    # the verdict on an adjusted p: 0.01 raw, 0.06 after Holm
    assert stats.verdict(comparison(1.0, 0.01), 0.06) == "inconclusive"
    assert stats.verdict(comparison(1.0, 0.06), 0.01) == "supported (+)"


# One-sided p of t with 2 df: P(T > |t|) = (1 - |t| / sqrt(t^2 + 2)) / 2.
def _one_sided_2df(t):
    return (1 - abs(t) / math.sqrt(t * t + 2)) / 2


def test_tost_against_hand_computed_values():
    a = {0: 10.1, 1: 10.3, 2: 10.2, 9: 50.0}
    b = {0: 10.0, 1: 10.0, 2: 10.0}
    # differences 0.1, 0.3, 0.2: mean 0.2, sd 0.1, se 0.1 / sqrt 3. Margin 1: t of "diff >= +1" is
    # (0.2 - 1) / se = -8 sqrt 3 (t^2 = 192), of "diff <= -1" (0.2 + 1) / se = 12 sqrt 3; p is the larger one-sided p
    assert stats.tost(a, b, 1.0) == pytest.approx(_one_sided_2df(8 * math.sqrt(3)), rel=1e-6)
    assert stats.tost(a, b, 1.0) == pytest.approx((1 - math.sqrt(192 / 194)) / 2, rel=1e-6)
    # margin 0.25: (0.2 - 0.25) / se = -0.5 sqrt 3 / ... = -0.866: p = 0.2389, not equivalent
    assert stats.tost(a, b, 0.25) == pytest.approx(_one_sided_2df(0.05 * math.sqrt(3) / 0.1), rel=1e-6)
    assert stats.tost(a, b, 0.25) == pytest.approx(0.2389, abs=1e-4)
    # no test without two seeds or without spread
    assert stats.tost({0: 1.0}, {0: 0.0}, 1.0) is None
    assert stats.tost({0: 1.0, 1: 2.0}, {0: 0.0, 1: 1.0}, 1.0) is None


def test_equivalence_verdicts():
    up, down = stats.Comparison(stats.PAIRED, "5 pairs", 0.4), stats.Comparison(stats.PAIRED, "5 pairs", -2.0)
    assert stats.equivalence_verdict(up, 0.01, 0.5, 1.0) == "equivalent within +-1"
    assert stats.equivalence_verdict(down, 0.3, 0.01, 1.0) == "different (-)"
    assert stats.equivalence_verdict(up, 0.3, 0.01, 0.5) == "different (+)"
    # neither: the seeds rule out neither a difference of the margin nor none
    assert stats.equivalence_verdict(up, 0.2, 0.3, 1.0) == "too weak to tell"
    assert stats.equivalence_verdict(up, None, None, 1.0) == "too weak to tell"
    assert stats.equivalence_verdict(up, math.nan, 0.06, 1.0) == "too weak to tell"


def _power_two_sided(effect, df, noncentrality, alpha):
    """Power of a two-sided t-test: P(|T'| > t(1 - alpha / 2, df)) under the noncentral t."""
    from scipy import stats as scipy_stats
    critical = scipy_stats.t.ppf(1 - alpha / 2, df)
    return scipy_stats.nct.sf(critical, df, noncentrality) + scipy_stats.nct.cdf(-critical, df, noncentrality)


def test_minimal_detectable_difference_from_the_t_distribution():
    def paired_unit(n):
        return stats.Comparison(stats.PAIRED, f"{n} pairs", 0.0, sd=1.0, seeds=(n, n))
    # n = 5 at 80 % power, two-sided: 1.68 SD at alpha 0.05, 3.31 SD at Holm's first step over 12 tests
    assert stats.minimal_detectable_difference(paired_unit(5), 0.05) == pytest.approx(1.68, abs=0.005)
    assert stats.minimal_detectable_difference(paired_unit(5), 0.05 / 12) == pytest.approx(3.31, abs=0.005)
    # by definition: at the MDD, the noncentral t (df n - 1, noncentrality d sqrt n) gives power 0.8
    for n, alpha in ((5, 0.05), (5, 0.05 / 12), (10, 0.01)):
        d = stats.minimal_detectable_difference(paired_unit(n), alpha)
        assert _power_two_sided(d, n - 1, d * math.sqrt(n), alpha) == pytest.approx(0.8, abs=1e-4)
    # scales with the observed SD: differences 1, 2, 3, 4, 5 have sd sqrt(2.5)
    comparison = stats.paired({s: 10.0 + s + 1 for s in range(5)}, {s: 10.0 for s in range(5)})
    assert comparison.sd == pytest.approx(math.sqrt(2.5))
    assert stats.minimal_detectable_difference(comparison, 0.05) == pytest.approx(
        stats.minimal_detectable_difference(paired_unit(5), 0.05) * math.sqrt(2.5))
    # Welch's case, two groups of 5: pooled SD, noncentrality d sqrt(n / 2), 8 df
    welch = stats.welch([1.0, 2.0, 3.0, 4.0, 5.0], [2.0, 2.0, 4.0, 4.0, 3.0])
    assert welch.sd == pytest.approx(math.sqrt((2.5 + 1.0) / 2))
    d = stats.minimal_detectable_difference(welch, 0.05) / welch.sd
    assert _power_two_sided(d, 8, d * math.sqrt(5 / 2), 0.05) == pytest.approx(0.8, abs=1e-4)
    assert d == pytest.approx(2.02, abs=0.005)
    # no spread, no MDD
    assert stats.minimal_detectable_difference(stats.Comparison(stats.PAIRED, "1 pairs", 0.0), 0.05) is None


def test_seeds_needed_is_the_fewest_that_reach_the_target():
    def mdd(n, sd, alpha):
        return stats.minimal_detectable_difference(stats.Comparison(stats.PAIRED, f"{n} pairs", 0.0, sd=sd,
                                                                    seeds=(n, n)), alpha)
    # 1.68 SD at n = 5 (above), and n = 4 detects only more: a target of 1.7 SD needs 5 seeds, at any SD
    assert stats.seeds_needed(stats.PAIRED, 1.0, 0.05, 1.7) == 5
    assert stats.seeds_needed(stats.PAIRED, 2.0, 0.05, 3.4) == 5
    assert mdd(4, 1.0, 0.05) > 1.7
    for sd, alpha, target in ((0.7, 0.005, 1.0), (1.27, 0.05 / 12, 1.0), (0.5, 0.05, 0.7)):
        n = stats.seeds_needed(stats.PAIRED, sd, alpha, target)
        assert mdd(n, sd, alpha) <= target < mdd(n - 1, sd, alpha)
    welch = stats.seeds_needed(stats.WELCH, 1.0, 0.05, 2.03)   # two groups of 5 detect 2.02 pooled SD (above)
    assert welch == 5
    assert stats.seeds_needed(stats.PAIRED, None, 0.05, 1.0) is None
    # a spread 50 times the target, where statsmodels' solver returns NaN (it stopped the stats stage of an earlier
    # rebuild): still the fewest seeds, about (2.87 + 0.84)^2 x 2,500; statsmodels' power agrees where it is finite
    n = stats.seeds_needed(stats.PAIRED, 50.0, 0.05 / 12, 1.0)
    from statsmodels.stats.power import TTestPower

    def power(pairs):
        return TTestPower().power(effect_size=1.0 / 50.0, nobs=pairs, alpha=0.05 / 12)
    assert 30_000 < n < 40_000 and power(n) >= stats.POWER > power(n - 1)
    assert stats.t_power(stats.PAIRED, 1.0 / 50.0, n, n, 0.05 / 12) == pytest.approx(power(n), abs=1e-9)


def test_the_mdd_where_statsmodels_solver_stopped_short():
    # 3 pairs at alpha 0.05 / 4: TTestPower().solve_power gave 5.00 SD, where the power is 0.61 (its power is NaN
    # on the way); 5 pairs at 0.005 it gave 3.09 (power 0.78)
    def unit(n):
        return stats.Comparison(stats.PAIRED, f"{n} pairs", 0.0, sd=1.0, seeds=(n, n))

    def simulated_power(effect, n, alpha, draws=400_000):   # paired t-tests of normal differences, counted
        from scipy import stats as scipy_stats
        x = np.random.default_rng(0).normal(effect, 1.0, (draws, n))
        t = x.mean(axis=1) / (x.std(axis=1, ddof=1) / math.sqrt(n))
        return float((np.abs(t) > scipy_stats.t.ppf(1 - alpha / 2, n - 1)).mean())
    three = stats.minimal_detectable_difference(unit(3), 0.05 / 4)
    assert three == pytest.approx(6.55, abs=0.005)
    assert simulated_power(three, 3, 0.05 / 4) == pytest.approx(0.8, abs=0.003)
    assert simulated_power(5.00, 3, 0.05 / 4) == pytest.approx(0.61, abs=0.005)
    five = stats.minimal_detectable_difference(unit(5), 0.005)
    assert five == pytest.approx(3.16, abs=0.005)
    assert simulated_power(five, 5, 0.005) == pytest.approx(0.8, abs=0.003)


def test_seeds_needed_where_five_seeds_already_detect_far_less_than_the_target():
    # the rebuild's LH-Mix vs shuffled after the warm-up: sd 0.124, MDD 0.37 at 5 pairs, alpha 0.05 / 8, target 0.7.
    # statsmodels' power is NaN at 5 pairs there (scipy's lower tail underflows), which had made it 7 seeds.
    n = stats.seeds_needed(stats.PAIRED, 0.1243, 0.05 / 8, 0.7)
    assert n <= 5
    assert stats.minimal_detectable_difference(stats.Comparison(stats.PAIRED, "5 pairs", 0.0, sd=0.1243, seeds=(5, 5)),
                                               0.05 / 8) == pytest.approx(0.37, abs=0.005)
    for pairs in range(2, 40):   # a probability everywhere, rising with n
        assert 0 <= stats.t_power(stats.PAIRED, 0.7 / 0.1243, pairs, pairs, 0.05 / 8) <= 1
    assert stats.t_power(stats.PAIRED, 0.7 / 0.1243, n, n, 0.05 / 8) >= stats.POWER
    assert stats.t_power(stats.PAIRED, 0.7 / 0.1243, n - 1, n - 1, 0.05 / 8) < stats.POWER


def test_holm_against_hand_computed_values():
    # usable p: 0.01, 0.04, 0.03 (m = 3): sorted 0.01 x 3 = 0.03; 0.03 x 2 = 0.06; 0.04 x 1 = 0.04 -> max 0.06
    assert stats.holm([0.01, 0.04, 0.03, None, math.nan]) == pytest.approx([0.03, 0.06, 0.06, None, None])
    # capped at 1, and monotone in the raw p
    assert stats.holm([0.5, 0.6]) == pytest.approx([1.0, 1.0])
    assert stats.holm([0.001, 0.2, 0.02, 0.04]) == pytest.approx([0.004, 0.2, 0.06, 0.08])
    assert stats.holm([]) == []


def test_t_critical_and_mean_std():
    assert stats.t_critical(3) == pytest.approx(4.302653, abs=1e-6)
    assert stats.t_critical(2) == pytest.approx(12.706205, abs=1e-6)
    assert stats.mean_std([1.0, 2.0, 3.0]) == {"mean": 2.0, "std": 1.0, "n": 3}
    assert stats.mean_std([4.0]) == {"mean": 4.0, "std": None, "n": 1}


def test_pooled_histogram_adds_counts_then_takes_quantiles():
    first = {"n": 4, "mean": 0.501, "first_bin": 500, "counts": [2, 0, 2]}
    second = {"n": 4, "mean": 0.5015, "first_bin": 501, "counts": [4]}
    pooled = stats.pooled_histogram([first, second, {"n": 0}])
    # bins 500: 2, 501: 4, 502: 2; cumulative 2, 6, 8 of n = 8
    assert pooled["n"] == 8
    assert pooled["first_bin"] == 500
    assert pooled["counts"] == [2, 4, 2]
    assert pooled["mean"] == pytest.approx((0.501 * 4 + 0.5015 * 4) / 8)
    # q05: 0.4 -> bin 500; q50: 4 -> bin 501; q95: 7.6 -> bin 502 (bin centres)
    assert (pooled["q05"], pooled["q50"], pooled["q95"]) == pytest.approx((0.5005, 0.5015, 0.5025))
    assert (pooled["min"], pooled["max"]) == pytest.approx((0.5, 0.503))
    assert stats.pooled_histogram([{"n": 0}]) == {"n": 0}


def test_pooled_histogram_of_one_run_is_that_runs_own_summary():
    torch = pytest.importorskip("torch")
    from lhmix.model import mixup

    values = torch.tensor([0.8123, 0.85, 0.85, 0.9, 0.93, 0.999, 1.0], dtype=torch.float64)
    own = mixup.histogram_summary(mixup.histogram(values).tolist(), float(values.sum()))
    pooled = stats.pooled_histogram([own])
    for key in ("n", "first_bin", "counts", "q05", "q50", "q95"):
        assert pooled[key] == pytest.approx(own[key])
    assert pooled["mean"] == pytest.approx(own["mean"], abs=1e-6)
