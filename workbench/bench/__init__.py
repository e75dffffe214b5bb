"""Local inference benchmarking: configs, statistics, variants, one module per task and the
sweep runner."""

from workbench.bench.config import BenchConfig, MeasurePolicy, defaults_for
from workbench.bench.result import BenchResult
from workbench.bench.stats import LatencyStats

__all__ = [
    "BenchConfig",
    "BenchResult",
    "LatencyStats",
    "MeasurePolicy",
    "defaults_for",
    "run_benchmark",
]


def __getattr__(name: str):
    if name == "run_benchmark":  # imports torch and transformers: only on first use
        from workbench.bench.runner import run_benchmark

        return run_benchmark
    raise AttributeError(name)
