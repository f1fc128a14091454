"""Mixup of hidden states with a per-sample ratio lambda: vanilla (Beta) and LH-Mix (similarity).

Sample i is paired with pi(i) of a random permutation of the batch; its hidden states (each depth's
[MASK] state, or [CLS]) become  h~_i = lambda_i h_i + (1 - lambda_i) h_pi(i), and its loss is
    lambda_i L(p~_i, y_i) + (1 - lambda_i) L(p~_i, y_pi(i))
before the batch mean: each sample's own lambda weighs its own loss (not mean(lambda) * mean(loss)).

LH-Mix ratio (paper Eq. 4, written once in lhmix.core.ratios): lambda = -(beta - 0.5) * s**alpha + beta,
s = similarity of the two local hierarchies in [0, 1].

Two controls separate what the similarity guides from how strongly LH-Mix mixes:
- shuffled similarity: each pair takes the s of another pair of the same batch (a random derangement of
  the batch's s), so the batch's lambdas are exactly LH-Mix's but no longer belong to their pairs;
- fixed lambda: one lambda for every pair.

Randomness comes only from the generator passed in, so nothing here touches the global RNG.
"""
from __future__ import annotations

import math
from typing import Callable

import numpy as np
import torch
from scipy.special import betaincinv
from torch import Tensor

from lhmix.core import histogram as bins
from lhmix.core.errors import ParamError
from lhmix.core.ratios import check_fixed_ratio, lhmix_lambda, real_number


def lhmix_ratio(s: Tensor, alpha, beta) -> Tensor:
    """LH-Mix's lambda of each similarity; s is clamped to [0, 1] against rounding."""
    return lhmix_lambda(s.clamp(0.0, 1.0), alpha, beta)


def beta_ratio(n: int, a, generator: torch.Generator) -> Tensor:
    """n draws of Beta(a, a) as float32, by the inverse CDF of n uniforms from `generator`.

    Exactly n uniforms are consumed, so the generator's stream does not depend on the values drawn.
    """
    a = real_number("train.mixup_beta_a", a, "a number > 0")
    if not (math.isfinite(a) and a > 0):
        raise ParamError("train.mixup_beta_a", a, "a number > 0")
    uniforms = torch.rand(n, generator=generator, dtype=torch.float64, device=generator.device)
    draws = betaincinv(a, a, uniforms.cpu().numpy())
    return torch.from_numpy(draws).to(device=generator.device, dtype=torch.float32)


def fixed_ratio(n: int, value, device=None) -> Tensor:
    """lambda = value for each of n samples, float32."""
    return torch.full((n,), check_fixed_ratio(value), dtype=torch.float32, device=device)


def derangement(n: int, generator: torch.Generator) -> Tensor:
    """A random permutation without fixed points (the identity for n = 1): a random cycle through
    all n indices, i.e. order[k] -> order[k + 1]."""
    order = torch.randperm(n, generator=generator, device=generator.device)
    target = torch.empty_like(order)
    target[order] = order.roll(-1)
    return target


def shuffled(values: Tensor, generator: torch.Generator) -> Tensor:
    """values[sigma] for a random derangement sigma: each entry replaced by another entry's value, so the
    multiset of values is unchanged and no entry keeps its own (unless all are equal or n = 1)."""
    return values[derangement(len(values), generator).to(values.device, non_blocking=True)]


def permutation(n: int, generator: torch.Generator) -> Tensor:
    """The partner index pi(i) of every sample (a sample may be its own partner)."""
    return torch.randperm(n, generator=generator, device=generator.device)


def mix(states: Tensor, perm: Tensor, lam: Tensor) -> Tensor:
    """h~_i = lam_i h_i + (1 - lam_i) h_perm(i), for states [B,S,H] and lam [B]."""
    lam = lam.to(device=states.device, dtype=states.dtype).view(-1, 1, 1)
    return lam * states + (1 - lam) * states[perm.to(states.device)]


def mixed_loss(per_sample_loss_fn: Callable[[Tensor, Tensor], Tensor], logits: Tensor,
               targets: Tensor, perm: Tensor, lam: Tensor) -> Tensor:
    """lam_i L(logits_i, y_i) + (1 - lam_i) L(logits_i, y_perm(i)), per sample [B]."""
    lam = lam.to(device=logits.device, dtype=logits.dtype)
    own = per_sample_loss_fn(logits, targets)
    partner = per_sample_loss_fn(logits, targets[perm.to(targets.device)])
    return lam * own + (1 - lam) * partner


# ----------------------------------------------------------------------------- what mixing used

HISTOGRAM_BINS = bins.BINS  # lhmix.core.histogram: the bins and the quantile rule the report reads too


def histogram(values: Tensor) -> Tensor:
    """Counts of `values` (in [0, 1]) in HISTOGRAM_BINS equal bins, float64, on values' device."""
    return torch.histc(values.detach().double(), bins=HISTOGRAM_BINS, min=0.0, max=1.0)


EPOCH_SUMMARY = ("mean", "q05", "q50", "q95")


def epoch_summary(observed: dict[str, tuple[list[float], float]]) -> dict:
    """What one epoch's mixing used, for its history entry: {'lambda_mean', 'lambda_q05', ..., 's_q95'} from
    {name: (histogram counts, sum)}; empty for an epoch without mixing. Per epoch, because the published
    similarity (lhmix.model.published_similarity) changes as the encoder trains."""
    summary = {}
    for name, (counts, total) in sorted(observed.items()):
        whole = histogram_summary(counts, total)
        summary.update({f"{name}_{key}": whole[key] for key in EPOCH_SUMMARY if key in whole})
    return summary


def histogram_summary(counts: list[float], total: float) -> dict:
    """A run's histogram: n, exact mean (from the running sum) and the 5/50/95 % quantiles (bin centres),
    rounded to 6 digits; the non-empty range of counts is kept for plots: bins first_bin, first_bin + 1, ..."""
    counts = np.asarray(counts, dtype=np.float64)
    n = float(counts.sum())
    if n == 0:
        return {"n": 0}
    quantiles = {name: round(centre, 6) for name, centre in bins.quantile_centres(counts).items()}
    first_bin, used = bins.used_bins(counts)
    return {"n": int(n), "mean": round(total / n, 6), **quantiles, "first_bin": first_bin, "counts": used}
