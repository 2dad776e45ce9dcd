"""Evaluation statistics: Wilson intervals and the exact McNemar test against known values."""
from __future__ import annotations

import math

import numpy as np
import pytest

from lnn_control.eval.stats import mcnemar_exact, wilson_interval


@pytest.mark.parametrize(
    "k, n, expected",
    [  # reference values (Wilson 1927; e.g. R's prop.test(correct=FALSE) / binom::binom.wilson)
        (8, 10, (0.4902, 0.9433)),
        (0, 10, (0.0, 0.2775)),
        (10, 10, (0.7225, 1.0)),
        (50, 100, (0.4038, 0.5962)),
        (1, 20, (0.0089, 0.2361)),
    ],
)
def test_wilson_interval_matches_reference_values(k, n, expected):
    lo, hi = wilson_interval(k, n)
    assert lo == pytest.approx(expected[0], abs=1e-4)
    assert hi == pytest.approx(expected[1], abs=1e-4)


def test_wilson_interval_holds_the_estimate_and_narrows_with_more_episodes():
    for n in (1, 3, 10, 37):
        for k in range(n + 1):
            lo, hi = wilson_interval(k, n)
            assert 0.0 <= lo <= k / n <= hi <= 1.0
    assert np.diff([np.diff(wilson_interval(n // 2, n))[0] for n in (10, 40, 160)]).max() < 0
    assert wilson_interval(0, 0) == (0.0, 1.0)


def test_wilson_interval_covers_the_true_rate_95_percent_of_the_time_on_average():
    n = 30
    intervals = [wilson_interval(k, n) for k in range(n + 1)]
    coverage = [sum(math.comb(n, k) * p**k * (1 - p) ** (n - k)
                    for k, (lo, hi) in enumerate(intervals) if lo <= p <= hi)
                for p in np.linspace(0.05, 0.95, 91)]   # exact binomial coverage, not a simulation
    assert 0.945 <= np.mean(coverage) <= 0.96
    assert min(coverage) > 0.92


def test_wilson_interval_rejects_impossible_counts():
    with pytest.raises(ValueError, match="3 of 2"):
        wilson_interval(3, 2)


def test_mcnemar_counts_discordant_pairs_and_gives_exact_p_values():
    a = [True] * 6 + [True, False, False]
    b = [False] * 6 + [True, False, False]
    result = mcnemar_exact(a, b)
    assert (result.pairs, result.both, result.only_a, result.only_b, result.neither) == (9, 1, 6, 0, 2)
    assert result.p_value == pytest.approx(2 / 2**6)            # 0.03125: a real difference
    assert mcnemar_exact(a[1:], b[1:]).p_value == pytest.approx(2 / 2**5)  # 5 vs 0: 0.0625, not yet
    # 7 vs 3: 2 * sum_{i<=3} C(10, i) / 2^10
    seven_three = mcnemar_exact([True] * 7 + [False] * 3, [False] * 7 + [True] * 3)
    assert seven_three.p_value == pytest.approx(2 * sum(math.comb(10, i) for i in range(4)) / 1024)


def test_mcnemar_is_symmetric_and_one_when_policies_agree():
    a, b = [True, False, True, True], [False, True, True, False]
    assert mcnemar_exact(a, b).p_value == mcnemar_exact(b, a).p_value
    assert mcnemar_exact([True, False], [True, False]).p_value == 1.0
    assert mcnemar_exact([True, False], [False, True]).p_value == 1.0
    with pytest.raises(ValueError, match="equal lengths"):
        mcnemar_exact([True], [True, False])
