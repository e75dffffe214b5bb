"""Latency statistics from samples: pure values, no clocks."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from workbench.kit.intervals import (
    CONFIDENCE,
    PercentileInterval,
    percentile_interval,
    samples_needed,
)

PERCENTILES = (50, 90, 95, 99)
#: The percentiles whose confidence interval a :class:`LatencyStats` keeps.
INTERVAL_PERCENTILES = (50, 95)


@dataclass(frozen=True)
class LatencyStats:
    """Summary of latency samples, in milliseconds.

    ``p50_ci_*`` and ``p95_ci_*`` bound a distribution-free 95% confidence interval of those
    percentiles, from order statistics (:mod:`workbench.kit.intervals`). They are NaN when there
    are too few samples for one (6 for p50, 72 for p95): :meth:`interval` then says so, with the
    number of samples needed, instead of a number.
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
    def from_samples(cls, seconds: list[float] | np.ndarray) -> LatencyStats:
        """Summarise samples given in seconds.

        Percentiles interpolate linearly between order statistics (numpy's default); their
        intervals are pairs of order statistics, so the same samples always give the same bounds.

        Raises
        ------
        ValueError
            If there are no samples.
        """
        ms = np.asarray(seconds, dtype=np.float64) * 1000.0
        if ms.size == 0:
            raise ValueError("LatencyStats needs at least one sample.")
        p50, p90, p95, p99 = np.percentile(ms, PERCENTILES)
        low50, high50 = _bounds(percentile_interval(ms, 50))
        low95, high95 = _bounds(percentile_interval(ms, 95))
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

    def interval(self, percentile: int = 95) -> PercentileInterval:
        """The 95% interval of the p50 or p95 latency, or why there is none (see
        :func:`interval_of`)."""
        return interval_of(self.to_dict(), percentile)

    def describe_interval(self, percentile: int = 95) -> str:
        """``"95% interval 12.1–15.3 ms"`` or ``"too few samples for a p95 interval (n = 10;
        need ≥ 72)"``."""
        return describe_interval(self.to_dict(), percentile)

    def to_dict(self) -> dict[str, Any]:
        """Plain values."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LatencyStats:
        """The inverse of :meth:`to_dict`."""
        return cls(**{k: data[k] for k in cls.__dataclass_fields__})


def interval_of(row: Mapping[str, Any], percentile: int = 95) -> PercentileInterval:
    """The 95% interval of a latency percentile, read from a points-table row or stats dict.

    Works on any row with ``count`` and the ``p50_ci_*``/``p95_ci_*`` columns (a local bench
    point, a cloud load test's summary). Bounds are given only when the row has both and at
    least :func:`~workbench.kit.intervals.samples_needed` samples; runs saved before the
    intervals came from order statistics (bootstrap bounds) thus show "too few samples" below
    that count too.

    Parameters
    ----------
    row
        A mapping (dict, pandas Series) with ``count`` and the interval columns in ms.
    percentile
        50 or 95.

    Returns
    -------
    PercentileInterval
        Its ``describe()`` is what a table cell shows.

    Raises
    ------
    ValueError
        For a percentile other than 50 or 95.
    """
    if percentile not in INTERVAL_PERCENTILES:
        raise ValueError(
            f"`percentile` must be one of {', '.join(map(str, INTERVAL_PERCENTILES))} "
            f"(the intervals a latency summary keeps), got {percentile!r}."
        )
    count = _whole(row.get("count"))
    needed = samples_needed(percentile, CONFIDENCE)
    low = _number(row.get(f"p{percentile}_ci_low_ms"))
    high = _number(row.get(f"p{percentile}_ci_high_ms"))
    if count < needed or low is None or high is None:
        low = high = None
    return PercentileInterval(float(percentile), CONFIDENCE, count, needed, low, high)


def describe_interval(row: Mapping[str, Any], percentile: int = 95, unit: str = "ms") -> str:
    """What a table cell shows for a row's interval: its bounds, or "too few samples …".

    Bounds keep every digit before the decimal point (``3327–9904 ms``, not ``3.33e+03``) and
    three significant digits below 1,000.
    """
    interval = interval_of(row, percentile)
    digits = 3
    if interval.ok:
        digits = max(3, len(str(int(abs(interval.high)))))  # type: ignore[arg-type]
    return interval.describe(unit, digits=digits)


def _bounds(interval: PercentileInterval) -> tuple[float, float]:
    if not interval.ok:
        return math.nan, math.nan
    return float(interval.low), float(interval.high)  # type: ignore[arg-type]


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) else number


def _whole(value: Any) -> int:
    number = _number(value)
    return int(number) if number is not None else 0


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


__all__ = [
    "INTERVAL_PERCENTILES",
    "PERCENTILES",
    "LatencyStats",
    "describe_interval",
    "interval_of",
    "summarise_gaps",
]
