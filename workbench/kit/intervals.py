"""Distribution-free confidence intervals for percentiles, from order statistics.

A percentile's interval is the pair of order statistics ``x(r) <= x(s)`` that holds the true
percentile with at least the stated confidence whatever the distribution (the binomial
argument of :func:`scipy.stats.quantile_test`). Unlike the percentile bootstrap, whose coverage
at p95 and n = 30 is near 80% for a 95% label, its coverage is what it says. With too few
samples no pair of order statistics reaches the confidence: the interval then has no bounds and
says how many samples it needs, instead of printing a number it cannot support.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

#: The confidence every interval in the workbench is given at unless told otherwise.
CONFIDENCE = 0.95


def samples_needed(percentile: float, confidence: float = CONFIDENCE) -> int:
    """The fewest samples for which a two-sided interval of ``percentile`` exists.

    Each tail may miss with probability ``(1 - confidence) / 2``; the extreme order statistics
    miss with ``p ** n`` (above) and ``(1 - p) ** n`` (below), so ``n`` must make both small
    enough: 6 samples for a 95% interval of the median, 72 for the 95th percentile.
    """
    p = percentile / 100.0
    tail = (1.0 - confidence) / 2.0
    worst = max(p, 1.0 - p)
    return math.ceil(math.log(tail) / math.log(worst) - 1e-12)


@dataclass(frozen=True)
class PercentileInterval:
    """A percentile's confidence interval, or why there is none.

    ``low`` and ``high`` are ``None`` when ``count`` is below ``needed``.
    """

    percentile: float
    confidence: float
    count: int
    needed: int
    low: float | None
    high: float | None

    @property
    def ok(self) -> bool:
        """Whether there are enough samples for both bounds."""
        return self.low is not None and self.high is not None

    def describe(self, unit: str = "ms", digits: int = 3) -> str:
        """``"95% interval 12.1-15.3 ms"``, or ``"too few samples for a p95 interval (n = 10;
        need >= 72)"``."""
        label = f"p{self.percentile:g}"
        if not self.ok:
            return (
                f"too few samples for a {label} interval (n = {self.count}; need ≥ {self.needed})"
            )
        return f"{self.confidence:.0%} interval {_num(self.low, digits)}–{_num(self.high, digits)} {unit}"

    def to_dict(self) -> dict[str, Any]:
        """Plain values."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PercentileInterval:
        """The inverse of :meth:`to_dict`."""
        return cls(**{k: data[k] for k in cls.__dataclass_fields__})


def _num(value: float, digits: int) -> str:
    """``digits`` significant digits, but never scientific notation: 3,330 not 3.33e+03."""
    if abs(value) >= 10 ** (digits - 1):
        return f"{value:,.0f}"
    return f"{value:.{digits}g}"


def percentile_interval(
    samples: Any, percentile: float, confidence: float = CONFIDENCE
) -> PercentileInterval:
    """The order-statistic confidence interval of ``percentile`` (0 < percentile < 100).

    Parameters
    ----------
    samples
        The observations (any unit; the bounds are in the same unit). NaNs are dropped.
    percentile
        Which percentile, e.g. 50 or 95.
    confidence
        The coverage the interval must have, e.g. 0.95.

    Returns
    -------
    PercentileInterval
        With ``low``/``high`` ``None`` when there are fewer samples than :func:`samples_needed`.

    Raises
    ------
    ValueError
        For a percentile outside (0, 100) or a confidence outside (0, 1).
    """
    if not 0 < percentile < 100:
        raise ValueError(f"`percentile` must be in (0, 100), got {percentile!r}.")
    if not 0 < confidence < 1:
        raise ValueError(f"`confidence` must be in (0, 1), got {confidence!r}.")
    values = np.asarray(samples, dtype=np.float64).ravel()
    values = values[~np.isnan(values)]
    needed = samples_needed(percentile, confidence)
    low = high = None
    if values.size >= needed:
        from scipy import stats  # scipy is heavy: only when an interval is computed

        result = stats.quantile_test(values, p=percentile / 100.0)
        bounds = result.confidence_interval(confidence)
        if not (math.isnan(bounds.low) or math.isnan(bounds.high)):
            low, high = float(bounds.low), float(bounds.high)
    return PercentileInterval(
        float(percentile), float(confidence), int(values.size), needed, low, high
    )


__all__ = ["CONFIDENCE", "PercentileInterval", "percentile_interval", "samples_needed"]
