"""The statistics of the report, as formulas: mean and spread over seeds, t-tests with their 95 %
confidence intervals, the verdict on a claim, equivalence tests (TOST), the minimal detectable difference
of a test, and quantiles of pooled histograms.

Differences are `a - b` in the units of the values given (F1 points in the report). Two tests:
- paired t-test on the per-seed differences (scipy ttest_rel), for two variants of one family, which
  continue the same warm-up state of each seed: the seed is a real pairing;
- Welch's t-test (scipy ttest_ind, equal_var=False), for variants of two families, whose runs share
  nothing but a seed number.
Both intervals come from the t distribution of their own test (scipy's confidence_interval()).

Several claims are tested at once, so each verdict is read on its Holm-adjusted p (Holm 1979, step-down,
family-wise error 0.05 over the family given); the raw p is shown beside it. A test without a p (too few
seeds, no spread, or a p that is not a number) is inconclusive, with its reason.

A question hoped to show no difference (a control of the mechanism) is an equivalence test instead: TOST
(Schuirmann 1987), two one-sided paired t-tests of "difference <= -m" and "difference >= +m" for a margin m
fixed before any result (params stats.equivalence_margin); its p is the larger of the two (statsmodels'
ttost_paired). Its verdict: "equivalent within +-m" when that p is under 0.05, "different" (with the sign)
when the paired t-test of no difference is, "too weak to tell" otherwise: a non-significant difference is
never read as no difference.

The power of a test is stated as its minimal detectable difference (MDD): the true difference the test finds
with 80 % probability, two-sided, at the alpha it is held to, from the observed spread: the noncentral t
distribution's effect size (`t_power`: the paired test, or two independent groups in units of the pooled SD,
Student's equal-variance approximation of Welch; the same formulas as statsmodels' TTestPower and TTestIndPower)
times that spread.
"""
from __future__ import annotations

import contextlib
import math
import warnings
from dataclasses import asdict, dataclass

import numpy as np
from scipy import optimize, stats as scipy_stats
from statsmodels.stats.weightstats import ttost_paired

from lhmix.core import histogram as bins

SIGNIFICANCE = 0.05
MISSING_P = object()  # verdict(): "use the comparison's own p"
CONFIDENCE = 0.95
POWER = 0.8
SUPPORTED, CONTRADICTED, INCONCLUSIVE = "supported (+)", "contradicted (-)", "inconclusive"
TOO_WEAK = "too weak to tell"
PAIRED, WELCH = "paired t", "Welch t"
# Below this spread (relative to the values) the per-seed differences are equal and t is undefined;
# F1 values are rounded to 1e-4 points, so real spreads are far above it.
NO_SPREAD = 1e-9


@dataclass(frozen=True)
class Comparison:
    test: str                 # PAIRED or WELCH
    n: str                    # "3 pairs" or "3 + 3" (Welch)
    diff: float               # mean of a minus mean of b
    low: float | None = None  # 95 % confidence interval of diff
    high: float | None = None
    t: float | None = None
    df: float | None = None
    p: float | None = None    # two-sided
    note: str = ""            # why there is no test, when there is none
    sd: float | None = None   # spread the test sees: SD of the per-seed differences (paired), pooled SD (Welch)
    seeds: tuple[int, int] | None = None  # sizes: (pairs, pairs) or (n of a, n of b)

    def to_dict(self) -> dict:
        return asdict(self)


def mean_std(values) -> dict:
    """{mean, std, n}; std is the sample standard deviation (ddof 1), None for a single value."""
    values = np.asarray(list(values), dtype=float)
    std = float(values.std(ddof=1)) if len(values) > 1 else None
    return {"mean": float(values.mean()), "std": std, "n": int(len(values))}


def _no_spread(*samples) -> bool:
    scale = max(1.0, *(float(np.max(np.abs(s))) for s in samples))
    return all(float(np.std(s)) <= NO_SPREAD * scale for s in samples)


@contextlib.contextmanager
def _near_constant_ok():
    """scipy warns of precision loss when a sample is constant (equal F1 on every seed, common with few
    test documents); its variance is then exactly 0, which the t formulas handle."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Precision loss occurred", category=RuntimeWarning)
        yield


def _tested(test: str, n: str, diff: float, result, sd: float, seeds: tuple[int, int]) -> Comparison:
    interval = result.confidence_interval(CONFIDENCE)
    return Comparison(test, n, diff, float(interval.low), float(interval.high), float(result.statistic),
                      float(result.df), float(result.pvalue), sd=sd, seeds=seeds)


def paired(a: dict[int, float], b: dict[int, float]) -> Comparison:
    """Paired t-test of a - b over the seeds both have (values keyed by seed)."""
    seeds = sorted(set(a) & set(b))
    differences = np.array([a[seed] - b[seed] for seed in seeds], dtype=float)
    n = f"{len(seeds)} pairs"
    if len(seeds) < 2:
        return Comparison(PAIRED, n, float(differences.mean()) if seeds else math.nan,
                          note="fewer than 2 seeds: no test")
    if _no_spread(differences):
        return Comparison(PAIRED, n, float(differences.mean()),
                          note="no spread in the per-seed differences: t undefined")
    with _near_constant_ok():
        result = scipy_stats.ttest_rel([a[s] for s in seeds], [b[s] for s in seeds])
    return _tested(PAIRED, n, float(differences.mean()), result, float(differences.std(ddof=1)),
                   (len(seeds), len(seeds)))


def welch(a: list[float], b: list[float]) -> Comparison:
    """Welch's t-test of mean(a) - mean(b), unequal variances."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    n, diff = f"{len(a)} + {len(b)}", float(a.mean() - b.mean())
    if len(a) < 2 or len(b) < 2:
        return Comparison(WELCH, n, diff, note="fewer than 2 seeds on a side: no test")
    if _no_spread(a, b):
        return Comparison(WELCH, n, diff, note="no spread over seeds on either side: t undefined")
    with _near_constant_ok():
        result = scipy_stats.ttest_ind(a, b, equal_var=False)
    pooled = math.sqrt(((len(a) - 1) * a.var(ddof=1) + (len(b) - 1) * b.var(ddof=1)) / (len(a) + len(b) - 2))
    return _tested(WELCH, n, diff, result, pooled, (len(a), len(b)))


def usable(p) -> bool:
    """A p-value a verdict can rest on: a number in [0, 1] (not None, not NaN)."""
    return p is not None and isinstance(p, (int, float)) and math.isfinite(p) and 0 <= p <= 1


def verdict(comparison: Comparison, p: float | None = MISSING_P) -> str:
    """On the claim "a > b": supported or contradicted when p < 0.05 (by the sign of the difference),
    inconclusive otherwise, and when there is no usable p. `p` defaults to the comparison's own (raw) p;
    the report passes the Holm-adjusted one."""
    p = comparison.p if p is MISSING_P else p
    if not usable(p) or p >= SIGNIFICANCE or not math.isfinite(comparison.diff) or comparison.diff == 0:
        return INCONCLUSIVE
    return SUPPORTED if comparison.diff > 0 else CONTRADICTED


def tost(a: dict[int, float], b: dict[int, float], margin: float) -> float | None:
    """The TOST p of |a - b| < margin over the seeds both have (paired), None where there is no test (fewer
    than 2 seeds, no spread: as the paired t-test)."""
    seeds = sorted(set(a) & set(b))
    differences = np.array([a[seed] - b[seed] for seed in seeds], dtype=float)
    if len(seeds) < 2 or _no_spread(differences):
        return None
    with _near_constant_ok():
        p, _, _ = ttost_paired(np.array([a[s] for s in seeds], dtype=float),
                               np.array([b[s] for s in seeds], dtype=float), -margin, margin)
    return float(p)


def equivalence_verdict(comparison: Comparison, p_tost: float | None, p_difference: float | None,
                        margin: float) -> str:
    """On a question hoped to show no difference: equivalent (TOST), different (t-test of no difference,
    with the sign of a - b), or too weak to tell; both p as the family's correction gives them."""
    if usable(p_tost) and p_tost < SIGNIFICANCE:
        return f"equivalent within +-{margin:g}"
    if usable(p_difference) and p_difference < SIGNIFICANCE and comparison.diff != 0:
        return f"different ({'+' if comparison.diff > 0 else '-'})"
    return TOO_WEAK


def t_power(test: str, effect: float, n_a: int, n_b: int, alpha: float) -> float:
    """The probability that `test` (paired over n_a pairs, or two groups of n_a and n_b) rejects no difference,
    two-sided at `alpha`, when the true difference is `effect` SDs: the noncentral t. Each tail is an upper tail
    (the lower one of noncentrality nc is the upper one of -nc): scipy's lower tail is NaN where it underflows at
    a large nc, which statsmodels' power passes on (TTestPower gave NaN at 5 pairs and an effect of 5.6)."""
    if test == PAIRED:
        df, nc = n_a - 1, effect * math.sqrt(n_a)
    else:
        df, nc = n_a + n_b - 2, effect * math.sqrt(n_a * n_b / (n_a + n_b))
    critical = scipy_stats.t.ppf(1 - alpha / 2, df)
    power = float(scipy_stats.nct.sf(critical, df, nc) + scipy_stats.nct.sf(critical, df, -nc))
    if not math.isfinite(power):
        raise ArithmeticError(f"the power of a {test} test at effect {effect}, n {n_a}/{n_b}, alpha {alpha} is {power}")
    return power


def minimal_detectable_difference(comparison: Comparison, alpha: float, power: float = POWER) -> float | None:
    """The true difference `comparison`'s test detects with probability `power`, two-sided at `alpha`, given
    its observed spread; None without a spread (no test)."""
    if comparison.sd is None or comparison.seeds is None or not comparison.sd > 0:
        return None
    n_a, n_b = comparison.seeds
    high = 1.0
    while t_power(comparison.test, high, n_a, n_b, alpha) < power:
        high *= 2
    effect = optimize.brentq(lambda e: t_power(comparison.test, e, n_a, n_b, alpha) - power, 0.0, high, xtol=1e-10)
    return float(effect) * comparison.sd


def seeds_needed(test: str, sd: float | None, alpha: float, target: float, power: float = POWER) -> int | None:
    """The fewest seeds (pairs, or runs per variant for Welch) at which a test of spread `sd` has an MDD of at
    most `target`, two-sided at `alpha`: how many seeds the design needs, from the spread these seeds show.
    None without a spread. The power of each whole n is computed exactly (t_power), searched upwards from the
    normal approximation, which never asks for more."""
    if sd is None or not sd > 0:
        return None
    effect = target / sd
    groups = 1 if test == PAIRED else 2

    def reaches(n: int) -> bool:
        return t_power(test, effect, n, n, alpha) >= power
    z = scipy_stats.norm.ppf(1 - alpha / 2) + scipy_stats.norm.ppf(power)
    low = max(2, math.floor(groups * (z / effect) ** 2))   # the normal approximation: at most the answer
    if reaches(low):
        return low
    step = 1
    while not reaches(low + step):
        low, step = low + step, step * 2
    high = low + step      # low fails, high reaches: bisect
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (low, middle) if reaches(middle) else (middle, high)
    return high


def no_verdict_reason(comparison: Comparison, p: float | None) -> str:
    """Why a comparison is inconclusive without reaching the threshold ('' when it has a usable p)."""
    if comparison.note:
        return comparison.note
    if not usable(p):
        return f"p is {p}: no test result"
    return ""


def holm(p_values: list) -> list:
    """Holm-adjusted p of each entry over the family of the entries that have a usable p (in the order
    given); entries without one stay None. adjusted p_(i) = max_{j <= i} min(1, (m - j + 1) p_(j)) over the
    ascending p_(1) <= ... <= p_(m)."""
    tested = sorted((p, index) for index, p in enumerate(p_values) if usable(p))
    m, adjusted, running = len(tested), [None] * len(p_values), 0.0
    for rank, (p, index) in enumerate(tested):
        running = max(running, min(1.0, (m - rank) * p))
        adjusted[index] = running
    return adjusted


def t_critical(n: int) -> float:
    """t quantile of the 95 % interval of a mean over n seeds: the half-width is this x sd / sqrt(n)."""
    return float(scipy_stats.t.ppf(0.5 + CONFIDENCE / 2, n - 1))


def pooled_histogram(summaries: list[dict]) -> dict:
    """One histogram from several runs' {n, mean, first_bin, counts}: counts added bin by bin, the
    mean as pooled sum / pooled n, quantiles as the centre of the first bin whose cumulative count
    reaches q x n (the rule the runs use for their own quantiles). {"n": 0} when nothing was mixed."""
    counts = np.zeros(bins.BINS, dtype=np.int64)
    total = 0.0
    for summary in summaries:
        if not summary.get("n"):
            continue
        first = summary["first_bin"]
        counts[first:first + len(summary["counts"])] += np.asarray(summary["counts"], dtype=np.int64)
        total += summary["mean"] * summary["n"]
    n = int(counts.sum())
    if n == 0:
        return {"n": 0}
    first_bin, used = bins.used_bins(counts)
    return {"n": n, "mean": total / n, **bins.quantile_centres(counts), "min": first_bin / bins.BINS,
            "max": (first_bin + len(used)) / bins.BINS, "first_bin": first_bin, "counts": used}
