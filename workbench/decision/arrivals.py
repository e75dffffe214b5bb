"""Arrival times of a request stream, drawn from a seeded generator."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from workbench.decision.config import ArrivalConfig
from workbench.decision.errors import SimulationTooLargeError

# Draws the next chunk of sorted arrival times after a given time, in n draws; returns them and
# the time the chunk reached.
_Chunk = Callable[[float, int], tuple[np.ndarray, float]]


def generate_arrivals(config: ArrivalConfig, rng: np.random.Generator) -> np.ndarray:
    """Arrival times in seconds after the start, in increasing order.

    Parameters
    ----------
    config
        The pattern, rate and length of the stream (see :class:`ArrivalConfig`).
    rng
        The generator every random draw comes from; the same seed gives the same times.

    Returns
    -------
    numpy.ndarray
        ``num_requests`` times, or every time below ``duration_s`` (possibly none).

    Raises
    ------
    SimulationTooLargeError
        If a stream bounded by duration draws more than ``max_requests`` times.
    """
    rate = float(config.rate_per_s)
    if config.pattern == "constant":
        return _constant(config, rate)
    chunk = _chunk_drawer(config, rng, rate)
    if config.num_requests is not None:
        return _first(config.num_requests, chunk, _chunk_size(config.num_requests))
    duration = float(config.duration_s)
    return _below(duration, config.max_requests, chunk, _chunk_size(rate * duration))


def diurnal_rate_per_s(config: ArrivalConfig, times_s: np.ndarray) -> np.ndarray:
    """The instantaneous arrival rate of a diurnal stream at the given times."""
    phase = 2.0 * math.pi * np.asarray(times_s, dtype=np.float64) / float(config.period_s)
    return float(config.rate_per_s) * (1.0 - float(config.amplitude) * np.cos(phase))


def _constant(config: ArrivalConfig, rate: float) -> np.ndarray:
    # k / rate rather than a running sum, so hand-computed cases stay exact.
    if config.num_requests is not None:
        return np.arange(1, config.num_requests + 1, dtype=np.float64) / rate
    duration = float(config.duration_s)
    count = math.ceil(rate * duration) + 1
    if count > config.max_requests + 1:
        _too_many(config.max_requests, duration)
    times = np.arange(1, count + 1, dtype=np.float64) / rate
    return times[times < duration]


def _chunk_drawer(config: ArrivalConfig, rng: np.random.Generator, rate: float) -> _Chunk:
    if config.pattern == "poisson":
        return _renewal(lambda n: rng.exponential(1.0 / rate, size=n))
    if config.pattern == "bursty":
        shape = 1.0 / float(config.burstiness_cv) ** 2
        scale = 1.0 / (rate * shape)
        return _renewal(lambda n: rng.gamma(shape, scale, size=n))
    peak = rate * (1.0 + float(config.amplitude))

    def thinned(start: float, n: int) -> tuple[np.ndarray, float]:
        # Lewis-Shedler thinning: candidates of a Poisson process at the peak rate, each kept
        # with probability rate(t) / peak.
        candidates = start + np.cumsum(rng.exponential(1.0 / peak, size=n))
        keep = rng.random(n) * peak < diurnal_rate_per_s(config, candidates)
        return candidates[keep], float(candidates[-1])

    return thinned


def _renewal(gaps: Callable[[int], np.ndarray]) -> _Chunk:
    def chunk(start: float, n: int) -> tuple[np.ndarray, float]:
        times = start + np.cumsum(gaps(n))
        return times, float(times[-1])

    return chunk


def _chunk_size(expected: float) -> int:
    return int(min(expected * 1.1 + 64, 2**20))


def _first(n: int, chunk: _Chunk, size: int) -> np.ndarray:
    parts, got, reached = [], 0, 0.0
    while got < n:
        times, reached = chunk(reached, size)
        parts.append(times)
        got += times.size
    return np.concatenate(parts)[:n]


def _below(duration: float, cap: int, chunk: _Chunk, size: int) -> np.ndarray:
    parts, got, reached = [], 0, 0.0
    while reached < duration:
        times, reached = chunk(reached, size)
        times = times[times < duration]
        parts.append(times)
        got += times.size
        if got > cap:
            _too_many(cap, duration)
    return np.concatenate(parts)


def _too_many(cap: int, duration: float) -> None:
    raise SimulationTooLargeError(
        f"The stream drew more than {cap:,} requests in {duration:,g} s (`max_requests`): "
        "shorten `duration_s`, lower `rate_per_s`, or give `num_requests` instead."
    )
