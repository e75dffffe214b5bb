"""Order-statistic percentile intervals: their coverage on simulated latencies, and what they say
when there are too few samples (the percentile bootstrap they replace covered a p95 about 79% of
the time at 30 samples under a 95% label)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import optimize, stats

from workbench.kit.intervals import PercentileInterval, percentile_interval, samples_needed

TRIALS = 5000  # at least 1,000; 5,000 keeps the 93-99% check clear of sampling noise (sd ~0.2%)

# Latency distributions with known percentiles, in ms: (median, sigma) of lognormal components
# and their weights. "bimodal" is a fast path (cache hit) and a slow one (cache miss).
DISTRIBUTIONS = {
    "lognormal": [(1.0, 120.0, 0.6)],
    "bimodal": [(0.8, 40.0, 0.25), (0.2, 300.0, 0.3)],
}


def _true_percentile(components: list[tuple[float, float, float]], percentile: float) -> float:
    """The exact percentile of a mixture of lognormals, from its cdf (analytic for one)."""
    p = percentile / 100.0

    def cdf(x: float) -> float:
        return sum(w * stats.norm.cdf(math.log(x / m) / s) for w, m, s in components)

    if len(components) == 1:
        _, median, sigma = components[0]
        return median * math.exp(sigma * stats.norm.ppf(p))
    return optimize.brentq(lambda x: cdf(x) - p, 1e-6, 1e6, xtol=1e-12)


def _draw(components: list[tuple[float, float, float]], trials: int, n: int, seed: int):
    """``trials`` x ``n`` latencies (ms) from the mixture."""
    rng = np.random.default_rng(seed)
    which = rng.choice(len(components), size=(trials, n), p=[w for w, _, _ in components])
    medians = np.array([m for _, m, _ in components])[which]
    sigmas = np.array([s for _, _, s in components])[which]
    return medians * np.exp(sigmas * rng.standard_normal((trials, n)))


def _coverage(name: str, n: int, percentile: int) -> float:
    """Share of trials whose interval holds the true percentile (vectorised: the interval's
    order statistics depend only on n, so they are found once from ranks 0..n-1)."""
    components = DISTRIBUTIONS[name]
    truth = _true_percentile(components, percentile)
    ranks = percentile_interval(np.arange(n, dtype=float), percentile)
    low, high = int(ranks.low), int(ranks.high)
    draws = _draw(components, TRIALS, n, seed=n * 1000 + percentile)
    ordered = np.sort(draws, axis=1)
    for sample, row in zip(draws[:5], ordered[:5], strict=True):  # the shortcut is the real thing
        interval = percentile_interval(sample, percentile)
        assert (interval.low, interval.high) == (row[low], row[high])
    return float(np.mean((ordered[:, low] <= truth) & (truth <= ordered[:, high])))


# Every distribution x n x percentile where an interval exists (p95 at n = 30 has none).
COVERED = [
    (name, n, percentile)
    for name in DISTRIBUTIONS
    for n in (30, 100)
    for percentile in (50, 95)
    if n >= samples_needed(percentile)
]


@pytest.mark.parametrize(("name", "n", "percentile"), COVERED)
def test_interval_covers_the_true_percentile_93_to_99_percent_of_the_time(name, n, percentile):
    """Over 5,000 trials, the interval holds the true percentile in 93% to 99% of them."""
    assert 0.93 <= _coverage(name, n, percentile) <= 0.99


@pytest.mark.parametrize("name", list(DISTRIBUTIONS))
def test_p95_at_30_samples_says_too_few_samples_in_every_trial(name):
    """p95 at n = 30 (72 needed): every trial's interval has no bounds and says why."""
    draws = _draw(DISTRIBUTIONS[name], 1000, 30, seed=30)

    intervals = [percentile_interval(sample, 95) for sample in draws]

    assert all(i.low is None and i.high is None and not i.ok for i in intervals)
    assert {i.describe() for i in intervals} == {
        "too few samples for a p95 interval (n = 30; need ≥ 72)"
    }


def test_samples_needed_for_the_median_and_the_95th_percentile():
    """A 95% interval needs 6 samples for p50 and 72 for p95 (0.95^71 > 2.5% > 0.95^72)."""
    assert samples_needed(50) == 6
    assert samples_needed(95) == 72
    assert 0.95**71 > 0.025 > 0.95**72


def test_describe_gives_bounds_or_the_samples_needed():
    """With bounds: "95% interval 12.1–15.3 ms"; without: n and the samples needed."""
    shown = PercentileInterval(95.0, 0.95, 100, 72, 12.1, 15.3)
    missing = percentile_interval([1.0] * 10, 95)

    assert shown.describe() == "95% interval 12.1–15.3 ms"
    assert missing.describe() == "too few samples for a p95 interval (n = 10; need ≥ 72)"


def test_median_interval_of_six_samples_is_their_range():
    """Six samples 1..6: the p50 interval is the smallest to the largest (5 samples: none)."""
    interval = percentile_interval([3, 1, 6, 2, 5, 4], 50)

    assert (interval.low, interval.high) == (1.0, 6.0)
    assert not percentile_interval([1, 2, 3, 4, 5], 50).ok
