"""The measurement loop: warm-up, then time calls until the policy says stop."""

from __future__ import annotations

import contextlib
import resource
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from workbench.bench.config import MeasurePolicy


@dataclass
class Timings:
    """Timed calls of one point: the first (cold) call, then the measured warm calls."""

    cold_seconds: float
    samples: list[float] = field(default_factory=list)
    results: list[Any] = field(default_factory=list)
    stopped_by: str = ""


def measure(
    call: Callable[[], Any],
    policy: MeasurePolicy,
    *,
    clock: Callable[[], float] = time.perf_counter,
    on_iteration: Callable[[int, float], None] | None = None,
) -> Timings:
    """Time ``call`` under ``policy``.

    The first call is timed on its own as the cold call and also counts as warm-up. After
    ``policy.warmup`` more untimed calls, calls are timed one by one until at least
    ``min_iters`` calls *and* ``min_seconds`` have passed, or ``max_seconds`` has (at least one
    call is always measured). ``call``'s return values are kept in ``results``.
    """
    start = clock()
    call()
    timings = Timings(cold_seconds=clock() - start)
    for _ in range(policy.warmup):
        call()
    began = clock()
    while True:
        before = clock()
        timings.results.append(call())
        after = clock()
        timings.samples.append(after - before)
        elapsed = after - began
        if on_iteration:
            on_iteration(len(timings.samples), elapsed)
        if len(timings.samples) >= policy.min_iters and elapsed >= policy.min_seconds:
            timings.stopped_by = "minimums reached"
            return timings
        if elapsed >= policy.max_seconds:
            timings.stopped_by = "max_seconds"
            return timings


def peak_rss_mb() -> float:
    """The process's peak resident memory so far, in MB (Linux reports kB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


@contextlib.contextmanager
def torch_threads(count: int) -> Iterator[None]:
    """Run the block with ``count`` torch CPU threads, then restore the previous setting."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(previous)
