"""The mixing ratios' formulas and their parameters, torch-free: written once, applied to torch tensors by
training (lhmix.model.mixup) and to numpy arrays by the report's figures (lhmix.reporting.plots).

LH-Mix ratio (paper Eq. 4): lambda = -(beta - 0.5) * s**alpha + beta, s = similarity of the two local
hierarchies in [0, 1]: similar pairs mix strongly (lambda near 0.5), dissimilar ones weakly (near beta).
"""
from __future__ import annotations

import math
from numbers import Real

from lhmix.core.errors import ParamError


def real_number(name: str, value, expected: str) -> float:
    """value as a float; ints are accepted (`dvc exp run -S alpha=2`), bools and non-numbers are not."""
    if isinstance(value, bool) or not isinstance(value, Real):
        raise ParamError(name, value, expected)
    return float(value)


def check_ratio_params(alpha, beta) -> tuple[float, float]:
    """alpha > 0 and 0.5 < beta <= 1, as floats."""
    alpha = real_number("alpha", alpha, "a number > 0")
    beta = real_number("beta", beta, "a number in (0.5, 1]")
    if not (math.isfinite(alpha) and alpha > 0):
        raise ParamError("alpha", alpha, "a number > 0")
    if not 0.5 < beta <= 1:
        raise ParamError("beta", beta, "a number in (0.5, 1]")
    return alpha, beta


def lhmix_lambda(s, alpha, beta):
    """lambda(s) of Eq. 4, elementwise, for s already in [0, 1]: plain arithmetic, so a torch tensor and a
    numpy array both go through it (the caller clamps s in its own library)."""
    alpha, beta = check_ratio_params(alpha, beta)
    return -(beta - 0.5) * s ** alpha + beta


def check_fixed_ratio(value, name: str = "train.fixed_lambda") -> float:
    """A fixed-lambda control's lambda (train.fixed_lambda, spread.fixed_lambda): a number in [0, 1]."""
    value = real_number(name, value, "a number in [0, 1]")
    if not 0 <= value <= 1:
        raise ParamError(name, value, "a number in [0, 1]")
    return value
