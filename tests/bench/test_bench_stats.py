"""Latency statistics: percentiles, spread and order-statistic intervals from hand-computed
samples."""

from __future__ import annotations

import math

import numpy as np
import pytest

from workbench.bench.stats import LatencyStats, describe_interval, interval_of, summarise_gaps
from workbench.kit.intervals import PercentileInterval, percentile_interval

# 1, 2, 3, 4 and 5 ms, given in seconds as the measurement loop records them.
ONE_TO_FIVE_MS = [0.001, 0.002, 0.003, 0.004, 0.005]


# Summary values


def test_mean_and_stdev_of_one_to_five_ms():
    """Samples of 1..5 ms have mean 3 ms and sample standard deviation sqrt(2.5) ms."""
    stats = LatencyStats.from_samples(ONE_TO_FIVE_MS)

    assert stats.mean_ms == pytest.approx(3.0)
    assert stats.stdev_ms == pytest.approx(math.sqrt(2.5))


def test_percentiles_of_one_to_five_ms_interpolate_linearly():
    """p50, p90, p95 and p99 of 1..5 ms are 3, 4.6, 4.8 and 4.96 ms (linear interpolation)."""
    stats = LatencyStats.from_samples(ONE_TO_FIVE_MS)

    assert stats.p50_ms == pytest.approx(3.0)
    assert stats.p90_ms == pytest.approx(4.6)
    assert stats.p95_ms == pytest.approx(4.8)
    assert stats.p99_ms == pytest.approx(4.96)


def test_min_max_and_count_of_one_to_five_ms():
    """Samples of 1..5 ms in shuffled order have min 1 ms, max 5 ms and count 5."""
    stats = LatencyStats.from_samples([0.004, 0.001, 0.005, 0.002, 0.003])

    assert stats.min_ms == pytest.approx(1.0)
    assert stats.max_ms == pytest.approx(5.0)
    assert stats.count == 5


def test_single_sample_has_zero_stdev_and_no_intervals():
    """One 7 ms sample: every percentile is 7 ms, stdev 0, and both interval bounds are NaN."""
    stats = LatencyStats.from_samples([0.007])

    assert stats.stdev_ms == 0.0
    assert [stats.mean_ms, stats.p50_ms, stats.p99_ms] == pytest.approx([7.0] * 3)
    bounds = [stats.p50_ci_low_ms, stats.p50_ci_high_ms, stats.p95_ci_low_ms, stats.p95_ci_high_ms]
    assert all(math.isnan(bound) for bound in bounds)


def test_no_samples_raises_value_error():
    """An empty sample list raises ValueError saying at least one sample is needed."""
    with pytest.raises(ValueError, match="at least one sample"):
        LatencyStats.from_samples([])


# Order-statistic intervals


def test_intervals_are_the_order_statistics_of_kit_intervals():
    """On 1..100 ms the bounds are those percentile_interval gives: p50 40-61 ms, p95 90-100 ms."""
    samples = [ms / 1000 for ms in range(1, 101)]

    stats = LatencyStats.from_samples(samples)

    p50 = percentile_interval(np.asarray(samples) * 1000, 50)
    p95 = percentile_interval(np.asarray(samples) * 1000, 95)
    assert (stats.p50_ci_low_ms, stats.p50_ci_high_ms) == pytest.approx((p50.low, p50.high))
    assert (stats.p95_ci_low_ms, stats.p95_ci_high_ms) == pytest.approx((p95.low, p95.high))
    assert (stats.p50_ci_low_ms, stats.p50_ci_high_ms) == pytest.approx((40.0, 61.0))
    assert (stats.p95_ci_low_ms, stats.p95_ci_high_ms) == pytest.approx((90.0, 100.0))


def test_intervals_hold_the_sample_percentiles():
    """On 1..100 ms both intervals satisfy low <= sample percentile <= high."""
    stats = LatencyStats.from_samples([ms / 1000 for ms in range(1, 101)])

    assert stats.p50_ci_low_ms <= stats.p50_ms <= stats.p50_ci_high_ms
    assert stats.p95_ci_low_ms <= stats.p95_ms <= stats.p95_ci_high_ms


def test_twenty_samples_give_a_p50_interval_and_too_few_for_p95():
    """20 samples: a p50 interval (6 needed), NaN p95 bounds and "need ≥ 72" for p95."""
    stats = LatencyStats.from_samples([ms / 1000 for ms in range(1, 21)])

    assert stats.interval(50).ok
    assert math.isnan(stats.p95_ci_low_ms) and math.isnan(stats.p95_ci_high_ms)
    assert stats.interval(95) == PercentileInterval(95.0, 0.95, 20, 72, None, None)
    assert stats.describe_interval(95) == "too few samples for a p95 interval (n = 20; need ≥ 72)"


def test_the_same_samples_give_the_same_intervals():
    """No random draws: two summaries of the same samples are equal."""
    samples = np.random.default_rng(7).exponential(0.01, size=100)

    assert LatencyStats.from_samples(samples) == LatencyStats.from_samples(samples)


def test_describe_interval_keeps_whole_milliseconds_above_a_thousand():
    """Bounds of 2316.46 and 4263.6 ms read "2,316–4,264 ms"; 12.14 and 15.33 ms "12.1–15.3 ms"."""
    slow = {"count": 100, "p50_ci_low_ms": 2316.46, "p50_ci_high_ms": 4263.6}
    fast = {"count": 100, "p50_ci_low_ms": 12.14, "p50_ci_high_ms": 15.33}

    assert describe_interval(slow, 50) == "95% interval 2,316–4,264 ms"
    assert describe_interval(fast, 50) == "95% interval 12.1–15.3 ms"


def test_interval_of_a_saved_row_with_too_few_samples_for_p95_has_no_p95_bounds():
    """A row saved with bootstrap bounds from 10 calls: too few samples for p95 (72 needed);
    its p50 bounds stand (6 needed)."""
    row = {"count": 10, "p50_ci_low_ms": 4.0, "p50_ci_high_ms": 6.0}
    row |= {"p95_ci_low_ms": 8.0, "p95_ci_high_ms": 9.0}

    assert interval_of(row, 95).describe() == (
        "too few samples for a p95 interval (n = 10; need ≥ 72)"
    )
    assert (interval_of(row, 50).low, interval_of(row, 50).high) == (4.0, 6.0)


def test_interval_of_a_row_without_interval_columns_has_no_bounds():
    """A cloud summary with no successful request (count 0, NaN bounds) says too few samples."""
    row = {"count": 0, "p95_ci_low_ms": math.nan, "p95_ci_high_ms": math.nan}

    assert describe_interval(row, 95) == "too few samples for a p95 interval (n = 0; need ≥ 72)"


def test_interval_of_another_percentile_is_refused():
    """Only the p50 and p95 intervals are kept: p99 raises ValueError naming 50 and 95."""
    stats = LatencyStats.from_samples(ONE_TO_FIVE_MS)

    with pytest.raises(ValueError, match="50, 95"):
        stats.interval(99)


# Serialisation


def test_to_dict_from_dict_round_trip_is_equal():
    """LatencyStats.from_dict(stats.to_dict()) equals the original, field for field."""
    stats = LatencyStats.from_samples([ms / 1000 for ms in range(1, 101)])

    data = stats.to_dict()

    assert data["p50_ms"] == stats.p50_ms
    assert LatencyStats.from_dict(data) == stats


# Inter-token gaps


def test_summarise_gaps_of_hand_case():
    """Gaps of 10, 20, 30 and 40 ms give mean 25, p50 25 and p95 38.5 ms."""
    summary = summarise_gaps([0.010, 0.020, 0.030, 0.040])

    assert summary == pytest.approx({"itl_mean_ms": 25.0, "itl_p50_ms": 25.0, "itl_p95_ms": 38.5})


def test_summarise_gaps_of_no_gaps_is_nan():
    """No gaps (a single generated token) gives NaN for mean, p50 and p95."""
    summary = summarise_gaps([])

    assert set(summary) == {"itl_mean_ms", "itl_p50_ms", "itl_p95_ms"}
    assert all(math.isnan(value) for value in summary.values())
