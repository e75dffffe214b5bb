"""Latency statistics from samples: pure values, no clocks."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

PERCENTILES = (50, 90, 95, 99)


@dataclass(frozen=True)
class LatencyStats:
    """Summary of latency samples, in milliseconds.

    ``p50_ci_*`` and ``p95_ci_*`` bound a bootstrap 95% confidence interval of those percentiles.
    """

    count: int
    mean_ms: float
    stdev_ms: float
    min_ms: float
    max_ms: float
    p50_ms: float
    p90_ms: float
    p95_ms: float
    p99_ms: float
    p50_ci_low_ms: float
    p50_ci_high_ms: float
    p95_ci_low_ms: float
    p95_ci_high_ms: float

    @classmethod
    def from_samples(
        cls, seconds: list[float] | np.ndarray, *, resamples: int = 2000, seed: int = 0
    ) -> LatencyStats:
        """Summarise samples given in seconds.

        Percentiles interpolate linearly between order statistics (numpy's default). The
        bootstrap draws ``resamples`` samples with replacement, seeded for repeatability.

        Raises
        ------
        ValueError
            If there are no samples.
        """
        ms = np.asarray(seconds, dtype=np.float64) * 1000.0
        if ms.size == 0:
            raise ValueError("LatencyStats needs at least one sample.")
        p50, p90, p95, p99 = np.percentile(ms, PERCENTILES)
        low50, high50, low95, high95 = _bootstrap_intervals(ms, resamples, seed)
        return cls(
            count=int(ms.size),
            mean_ms=float(ms.mean()),
            stdev_ms=float(ms.std(ddof=1)) if ms.size > 1 else 0.0,
            min_ms=float(ms.min()),
            max_ms=float(ms.max()),
            p50_ms=float(p50),
            p90_ms=float(p90),
            p95_ms=float(p95),
            p99_ms=float(p99),
            p50_ci_low_ms=low50,
            p50_ci_high_ms=high50,
            p95_ci_low_ms=low95,
            p95_ci_high_ms=high95,
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain values."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LatencyStats:
        """The inverse of :meth:`to_dict`."""
        return cls(**{k: data[k] for k in cls.__dataclass_fields__})


def _bootstrap_intervals(ms: np.ndarray, resamples: int, seed: int) -> tuple[float, ...]:
    if ms.size == 1:
        value = float(ms[0])
        return value, value, value, value
    rng = np.random.default_rng(seed)
    draws = ms[rng.integers(0, ms.size, size=(resamples, ms.size))]
    p50s, p95s = np.percentile(draws, [50, 95], axis=1)
    out = []
    for values in (p50s, p95s):
        low, high = np.percentile(values, [2.5, 97.5])
        out += [float(low), float(high)]
    return tuple(out)


def summarise_gaps(gaps_seconds: list[float]) -> dict[str, float]:
    """Inter-token latency: p50, p95 and mean in ms (NaN when there are no gaps)."""
    if not gaps_seconds:
        return {"itl_mean_ms": math.nan, "itl_p50_ms": math.nan, "itl_p95_ms": math.nan}
    ms = np.asarray(gaps_seconds) * 1000.0
    return {
        "itl_mean_ms": float(ms.mean()),
        "itl_p50_ms": float(np.percentile(ms, 50)),
        "itl_p95_ms": float(np.percentile(ms, 95)),
    }
