"""Harness overhead: what ``workbench.bench.measure.measure`` adds to a call of known duration.

The timed function busy-waits until ``time.perf_counter()`` passes its start plus D. Two
contenders time it in alternating rounds: the harness (``measure`` under a ``MeasurePolicy``)
and a bare loop (``perf_counter`` before and after each call, nothing else). Per round and D,
each contender's overhead is its mean sample minus D; the script prints the medians over rounds.
"Loop cost" is the wall time per iteration of the measured phase minus D (it adds the harness's
bookkeeping between calls, which never enters a sample). It also times
``LatencyStats.from_samples`` on 1,000 samples against plain ``numpy.percentile``.

Run with ``python bench/bench_harness.py`` (``--help`` for the options).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from _report import print_machine

from workbench.bench.config import MeasurePolicy
from workbench.bench.measure import measure
from workbench.bench.stats import LatencyStats


def busy_wait(seconds: float) -> Callable[[], None]:
    """A call that spins until ``perf_counter`` passes its start plus ``seconds``."""

    def call() -> None:
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            pass

    return call


def harness_round(call: Callable[[], None], iterations: int) -> tuple[float, float]:
    """(mean sample, wall seconds per iteration) of ``iterations`` calls through ``measure``."""
    policy = MeasurePolicy(warmup=2, min_iters=iterations, min_seconds=0.0, max_seconds=600.0)
    finished: list[float] = []
    timings = measure(call, policy, on_iteration=lambda count, elapsed: finished.append(elapsed))
    return statistics.fmean(timings.samples), finished[-1] / len(timings.samples)


def bare_round(call: Callable[[], None], iterations: int) -> tuple[float, float]:
    """The same as :func:`harness_round` with a plain loop: the cost of timing itself."""
    clock = time.perf_counter
    for _ in range(3):  # the harness's cold call and warm-up
        call()
    samples = []
    began = clock()
    for _ in range(iterations):
        before = clock()
        call()
        samples.append(clock() - before)
    return statistics.fmean(samples), (clock() - began) / iterations


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=9, help="alternating rounds (default 9)")
    parser.add_argument(
        "--durations-ms",
        default="0.1,1,10",
        help="busy-wait durations D in milliseconds (default 0.1,1,10)",
    )
    parser.add_argument(
        "--seconds-per-round",
        type=float,
        default=0.2,
        help="time each contender spends per D and round; sets the iteration count (default 0.2)",
    )
    parser.add_argument(
        "--stats-samples", type=int, default=1000, help="samples for from_samples (default 1000)"
    )
    args = parser.parse_args()
    if args.rounds < 1:
        parser.error(f"--rounds must be >= 1, got {args.rounds}")
    durations = [float(part) / 1000 for part in args.durations_ms.split(",") if part.strip()]

    print_machine()
    print(
        f"settings: rounds={args.rounds}, D={args.durations_ms} ms, "
        f"~{args.seconds_per_round} s per contender, D and round; MeasurePolicy(warmup=2, "
        "min_iters=N, min_seconds=0); contenders alternate, the first one rotating each round"
    )
    resolution = time.get_clock_info("perf_counter").resolution
    print(f"perf_counter resolution: {resolution * 1e9:.0f} ns")
    print()

    contenders = {"harness": harness_round, "bare loop": bare_round}
    header = (
        f"{'D':>8}  {'N':>5}  {'contender':<9}  {'mean sample - D':>16}  {'% of D':>8}  "
        f"{'loop cost - D':>14}  {'% of D':>8}"
    )
    print(header)
    print("-" * len(header))
    for duration in durations:
        iterations = max(10, round(args.seconds_per_round / duration))
        call = busy_wait(duration)
        added: dict[str, list[float]] = {name: [] for name in contenders}
        loop: dict[str, list[float]] = {name: [] for name in contenders}
        difference: list[float] = []
        names = list(contenders)
        for index in range(args.rounds):
            order = names[index % len(names) :] + names[: index % len(names)]
            means = {}
            for name in order:
                mean_s, per_iteration_s = contenders[name](call, iterations)
                means[name] = mean_s
                added[name].append(mean_s - duration)
                loop[name].append(per_iteration_s - duration)
            difference.append(means["harness"] - means["bare loop"])
        for name in names:
            over = statistics.median(added[name])
            cost = statistics.median(loop[name])
            print(
                f"{duration * 1000:>6.1f}ms  {iterations:>5}  {name:<9}  {over * 1e6:>13.2f} us"
                f"  {over / duration:>8.3%}  {cost * 1e6:>11.2f} us  {cost / duration:>8.3%}"
            )
        extra = statistics.median(difference)
        print(
            f"{'':>8}  {'':>5}  harness - bare loop (median of per-round differences): "
            f"{extra * 1e6:+.2f} us per sample ({extra / duration:+.3%} of D)"
        )
    print()
    stats_overhead(args.stats_samples, args.rounds)


def stats_overhead(count: int, rounds: int) -> None:
    """Time LatencyStats.from_samples on ``count`` samples next to bare numpy percentiles."""
    rng = np.random.default_rng(0)
    samples = list(rng.gamma(4.0, 0.25e-3, size=count))  # about 1 ms each, right-skewed
    full: list[float] = []
    bare: list[float] = []
    for _ in range(rounds):
        start = time.perf_counter()
        LatencyStats.from_samples(samples)
        full.append(time.perf_counter() - start)
        start = time.perf_counter()
        np.percentile(np.asarray(samples) * 1000.0, [50, 90, 95, 99])
        bare.append(time.perf_counter() - start)
    stats_s, bare_s = statistics.median(full), statistics.median(bare)
    collected_s = sum(samples)
    print(
        f"LatencyStats.from_samples, {count:,} samples (order-statistic intervals), "
        f"median of {rounds}: {stats_s * 1000:.2f} ms per call"
    )
    print(
        f"  numpy.percentile alone on the same samples: {bare_s * 1000:.3f} ms "
        f"(from_samples / percentile = {stats_s / bare_s:,.0f}x; the intervals are the cost)"
    )
    print(
        f"  as a share of the {collected_s:.2f} s it takes to collect those samples: "
        f"{stats_s / collected_s:.2%}"
    )


if __name__ == "__main__":
    main()
