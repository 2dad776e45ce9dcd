"""Statistics for closed-loop evaluation: binomial confidence intervals and paired tests.

Rates (success, collision, timeout) are binomial proportions over N episodes; their 95%
intervals are Wilson score intervals, which stay inside [0, 1] and behave at 0/N and N/N
where the normal approximation does not. Two policies flown on the same seeds give paired
outcomes; whether their success rates really differ is the exact McNemar test on the
discordant pairs (seeds where exactly one of the two succeeded).

How well a score (a policy's uncertainty) separates positives from negatives is the AUROC:
the probability that a random positive scores higher than a random negative, ties counting
one half (the Mann-Whitney statistic; 0.5 = no better than chance, 1 = perfect). Its 95%
interval is a percentile bootstrap that resamples whole clusters (episodes: the steps of one
episode are not independent) with replacement, within each stratum (positives and negatives
apart when each episode is one sample of one class).
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

Z_95 = 1.959963984540054  # two-sided 95% quantile of the standard normal


def wilson_interval(successes: int, trials: int, z: float = Z_95) -> tuple[float, float]:
    """The Wilson score interval (lo, hi) for `successes` out of `trials` (95% by default).

    With no trials nothing is known, and the interval is the whole of [0, 1].
    """
    if trials < 0 or not 0 <= successes <= trials:
        raise ValueError(f"need 0 <= successes <= trials, got {successes} of {trials}")
    if trials == 0:
        return 0.0, 1.0
    p = successes / trials
    z2 = z * z
    denominator = 1.0 + z2 / trials
    centre = (p + z2 / (2 * trials)) / denominator
    half_width = z / denominator * math.sqrt(p * (1.0 - p) / trials + z2 / (4 * trials * trials))
    # At 0/N and N/N the bound equals the point estimate exactly; keep rounding from crossing it.
    return max(0.0, min(p, centre - half_width)), min(1.0, max(p, centre + half_width))


@dataclass(frozen=True)
class PairedComparison:
    """Exact McNemar test of two policies' successes on shared seeds.

    `only_a`: seeds where A succeeded and B did not; `only_b`: the reverse. `p_value` is the
    two-sided exact binomial p-value of `only_a` vs `only_b` under "equally likely".
    """

    pairs: int
    both: int
    only_a: int
    only_b: int
    neither: int
    p_value: float


def mcnemar_exact(success_a: Sequence[bool], success_b: Sequence[bool]) -> PairedComparison:
    """Compare paired success outcomes (index i of both = the same seed)."""
    if len(success_a) != len(success_b):
        raise ValueError(f"paired outcomes need equal lengths, got {len(success_a)} and {len(success_b)}")
    pairs = list(zip(map(bool, success_a), map(bool, success_b), strict=True))
    only_a = sum(a and not b for a, b in pairs)
    only_b = sum(b and not a for a, b in pairs)
    both = sum(a and b for a, b in pairs)
    return PairedComparison(pairs=len(pairs), both=both, only_a=only_a, only_b=only_b,
                            neither=len(pairs) - both - only_a - only_b,
                            p_value=_two_sided_sign_test(only_a, only_b))


def _two_sided_sign_test(k: int, m: int) -> float:
    """P(a split at least as uneven as k vs m | each discordant pair is a fair coin)."""
    n = k + m
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, i) for i in range(min(k, m) + 1)) / 2.0**n
    return min(1.0, 2.0 * tail)


def auroc(scores, positive, weights=None) -> float | None:
    """The AUROC of `scores` for the boolean labels `positive` (optionally each sample counted
    `weights` times); None when either class is empty."""
    scores = np.asarray(scores, np.float64)
    positive = np.asarray(positive, bool)
    weights = np.ones(len(scores)) if weights is None else np.asarray(weights, np.float64)
    order = np.argsort(scores, kind="stable")
    return _sorted_auroc(_tie_starts(scores[order]), positive[order], weights[order])


def bootstrap_auroc(scores, positive, clusters, stratified: bool = False, reps: int = 1000,
                    seed: int = 0) -> tuple[float | None, list[float] | None]:
    """(AUROC, its 95% percentile-bootstrap interval [lo, hi]) of `scores` for `positive`.
    Each bootstrap draw resamples the clusters (`clusters[i]`: sample i's cluster, e.g. its
    episode) with replacement; `stratified`: positives' and negatives' clusters apart (every
    cluster then holds one class). (None, None) when either class is empty."""
    scores = np.asarray(scores, np.float64)
    positive = np.asarray(positive, bool)
    cluster_ids, cluster_of = np.unique(np.asarray(clusters), return_inverse=True)
    order = np.argsort(scores, kind="stable")
    starts = _tie_starts(scores[order])
    positive, cluster_of = positive[order], cluster_of[order]
    estimate = _sorted_auroc(starts, positive, np.ones(len(scores)))
    if estimate is None:
        return None, None
    if stratified:
        cluster_positive = np.zeros(len(cluster_ids), bool)
        cluster_positive[cluster_of[positive]] = True
        strata = [np.flatnonzero(cluster_positive), np.flatnonzero(~cluster_positive)]
    else:
        strata = [np.arange(len(cluster_ids))]
    rng = np.random.default_rng(seed)
    draws = []
    for _ in range(reps):
        counts = np.zeros(len(cluster_ids))
        for members in strata:
            np.add.at(counts, rng.choice(members, size=len(members)), 1.0)
        value = _sorted_auroc(starts, positive, counts[cluster_of])
        if value is not None:
            draws.append(value)
    return estimate, [float(np.percentile(draws, 2.5)), float(np.percentile(draws, 97.5))]


def _tie_starts(sorted_scores: np.ndarray) -> np.ndarray:
    """The index where each run of equal values in `sorted_scores` starts."""
    if not len(sorted_scores):
        return np.zeros(0, int)
    return np.flatnonzero(np.r_[True, sorted_scores[1:] != sorted_scores[:-1]])


def _sorted_auroc(starts, positive, weights) -> float | None:
    """AUROC from samples sorted by score (`starts`: where each tie group begins), weighted."""
    if not len(starts):
        return None
    positive_weight = np.add.reduceat(weights * positive, starts)
    negative_weight = np.add.reduceat(weights * ~positive, starts)
    total_positive, total_negative = positive_weight.sum(), negative_weight.sum()
    if total_positive <= 0 or total_negative <= 0:
        return None
    negatives_below = np.cumsum(negative_weight) - negative_weight
    wins = np.sum(positive_weight * (negatives_below + 0.5 * negative_weight))
    return float(wins / (total_positive * total_negative))
