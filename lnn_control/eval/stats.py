"""Statistics for closed-loop evaluation: binomial confidence intervals and paired tests.

Rates (success, collision, timeout) are binomial proportions over N episodes; their 95%
intervals are Wilson score intervals, which stay inside [0, 1] and behave at 0/N and N/N
where the normal approximation does not. Two policies flown on the same seeds give paired
outcomes; whether their success rates really differ is the exact McNemar test on the
discordant pairs (seeds where exactly one of the two succeeded).
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

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
