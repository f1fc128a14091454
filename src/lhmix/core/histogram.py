"""The histograms of what mixing used (lambda, and LH-Mix's s, both in [0, 1]): BINS equal bins on [0, 1],
read by the centre of the first bin whose cumulative count reaches q x n, so a quantile is exact to within
half a bin (0.0005). Torch-free: training counts on its device (lhmix.model.mixup.histogram) and summarises
each run (lhmix.model.mixup.histogram_summary); the report pools the runs (lhmix.reporting.stats)."""
from __future__ import annotations

import numpy as np

BINS = 1000
QUANTILES = (0.05, 0.5, 0.95)


def bin_centre(index: int) -> float:
    return (index + 0.5) / BINS


def quantile_centres(counts: np.ndarray) -> dict[str, float]:
    """{'q05', 'q50', 'q95'}: the centre of the first bin whose cumulative count reaches q x n."""
    n = counts.sum()
    cumulative = np.cumsum(counts)
    return {f"q{round(q * 100):02d}": bin_centre(int(np.searchsorted(cumulative, q * n))) for q in QUANTILES}


def used_bins(counts: np.ndarray) -> tuple[int, list[int]]:
    """The first non-empty bin and the counts from it to the last non-empty one (what a summary keeps)."""
    used = np.flatnonzero(counts)
    return int(used[0]), [int(count) for count in counts[used[0]:used[-1] + 1]]
