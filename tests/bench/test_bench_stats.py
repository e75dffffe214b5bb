"""Latency statistics: percentiles, spread and bootstrap intervals from hand-computed samples."""

from __future__ import annotations

import math

import numpy as np
import pytest

from workbench.bench.stats import LatencyStats, summarise_gaps

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


def test_single_sample_has_zero_stdev_and_collapsed_intervals():
    """One 7 ms sample: every percentile and both confidence intervals are 7 ms, stdev 0."""
    stats = LatencyStats.from_samples([0.007])

    assert stats.stdev_ms == 0.0
    values = [
        stats.mean_ms,
        stats.p50_ms,
        stats.p99_ms,
        stats.p50_ci_low_ms,
        stats.p50_ci_high_ms,
        stats.p95_ci_low_ms,
        stats.p95_ci_high_ms,
    ]
    assert values == pytest.approx([7.0] * len(values))


def test_no_samples_raises_value_error():
    """An empty sample list raises ValueError saying at least one sample is needed."""
    with pytest.raises(ValueError, match="at least one sample"):
        LatencyStats.from_samples([])


# Bootstrap intervals


def test_bootstrap_intervals_are_ordered_around_the_sample_percentiles():
    """Both intervals satisfy low <= sample percentile <= high on 1..20 ms."""
    stats = LatencyStats.from_samples([ms / 1000 for ms in range(1, 21)])

    assert stats.p50_ci_low_ms <= stats.p50_ms <= stats.p50_ci_high_ms
    assert stats.p95_ci_low_ms <= stats.p95_ms <= stats.p95_ci_high_ms
    assert stats.p50_ci_low_ms < stats.p50_ci_high_ms


def test_bootstrap_interval_of_median_covers_the_true_median_of_an_exponential():
    """Over 200 seeded draws of 200 exponential samples, >= 85% of p50 intervals hold ln(2)*scale."""
    # Prepare
    rng = np.random.default_rng(1234)
    scale_seconds = 0.01
    true_median_ms = math.log(2) * scale_seconds * 1000
    repetitions = 200

    # Execute
    covered = 0
    for repetition in range(repetitions):
        samples = rng.exponential(scale_seconds, size=200)
        stats = LatencyStats.from_samples(samples, resamples=500, seed=repetition)
        covered += stats.p50_ci_low_ms <= true_median_ms <= stats.p50_ci_high_ms

    # Assert
    assert covered / repetitions >= 0.85


def test_seeded_bootstrap_is_repeatable():
    """The same samples and seed give identical intervals; another seed gives different ones."""
    samples = np.random.default_rng(7).exponential(0.01, size=50)

    first = LatencyStats.from_samples(samples, resamples=300, seed=3)
    again = LatencyStats.from_samples(samples, resamples=300, seed=3)
    other = LatencyStats.from_samples(samples, resamples=300, seed=4)

    assert first == again
    assert (first.p50_ci_low_ms, first.p50_ci_high_ms, first.p95_ci_low_ms) != (
        other.p50_ci_low_ms,
        other.p50_ci_high_ms,
        other.p95_ci_low_ms,
    )


# Serialisation


def test_to_dict_from_dict_round_trip_is_equal():
    """LatencyStats.from_dict(stats.to_dict()) equals the original, field for field."""
    stats = LatencyStats.from_samples(ONE_TO_FIVE_MS, resamples=200)

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
