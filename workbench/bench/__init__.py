"""Local inference benchmarking: configs, statistics, variants and the sweep runner."""

from workbench.bench.config import BenchConfig, MeasurePolicy
from workbench.bench.stats import LatencyStats

__all__ = ["BenchConfig", "LatencyStats", "MeasurePolicy", "run_benchmark"]


def __getattr__(name: str):
    if name == "run_benchmark":  # imports torch and transformers: only on first use
        from workbench.bench.runner import run_benchmark

        return run_benchmark
    raise AttributeError(name)
