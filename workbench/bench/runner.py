"""Run a benchmark sweep: load once, prepare each variant, measure every point, record a run.

What differs between embeddings and generation lives in :mod:`workbench.bench.tasks`; this loop
is the same for both.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbench.bench import memory, tasks
from workbench.bench.config import BenchConfig
from workbench.bench.measure import measure, torch_threads
from workbench.bench.result import BenchResult
from workbench.bench.variants import Variant, get_variant
from workbench.models import load_model
from workbench.models.engines import require_engine
from workbench.models.runners import ModelRunner

ProgressHook = Callable[[dict[str, Any]], None]


def run_benchmark(
    config: BenchConfig,
    *,
    runs_dir: Path | str | None = None,
    save: bool = True,
    progress: bool = True,
    on_point: ProgressHook | None = None,
) -> BenchResult:
    """Measure every point of ``config`` into a :class:`BenchResult`; with ``save``, record it.

    Everything that can be checked is checked before measuring starts: the runs folder, the
    variants, and the lengths against the model's context. Points are written to the run as
    they finish, so an interrupted sweep keeps what it measured.

    Parameters
    ----------
    config
        The sweep.
    runs_dir
        Where runs go (default ``./runs`` or ``$WORKBENCH_RUNS_DIR``).
    save
        Record the sweep in the run store.
    progress
        Show progress bars.
    on_point
        Called with each finished point's row (for live displays).
    """
    from tqdm.auto import tqdm

    from workbench import runs

    for engine in config.engines:  # a missing extra fails before anything loads
        require_engine(engine, flag="--engines")
    runs.check_can_record(save, runs_dir)
    known = memory.model_shape(config.model)
    if known and known[1]:  # what fits is checked before loading, where the files tell
        memory.check_sweep_memory(config, known[0], known[1], params=0)
    sweep = _Sweep.prepare(config, progress)
    bar = tqdm(
        total=len(config.points()), desc=f"Benchmarking {config.model}", disable=not progress
    )
    with runs.record(
        BenchResult, config, save=save, seed=config.seed, label=config.model,
        runs_dir=runs_dir, environment_extra=sweep.environment,
    ) as recording:  # fmt: skip
        for variant in sweep.variants:
            runner, columns = sweep.apply(variant)
            for point in (p for p in config.points() if p["variant"] == variant.name):
                bar.set_postfix_str(
                    f"{variant.engine} {variant.name}, {point['threads']} threads, "
                    f"batch {point['batch']}"
                )
                row, point_samples = _measure_point(sweep.task, runner, variant, point, config)
                result = sweep.add({**row, **columns}, point_samples)
                recording.save_tables(result.tables())  # a killed sweep keeps these points
                bar.update(1)
                if on_point:
                    on_point(sweep.rows[-1])
            del runner  # a variant's copy of the weights goes before the next is made
        recording.save(result)
    bar.close()
    return result


@dataclass
class _Sweep:
    """What a sweep measures with: the fp32 reference, the variants, the task and the host."""

    config: BenchConfig
    reference: ModelRunner
    load_seconds: float
    variants: list[Variant]
    task: tasks.Task
    environment: dict[str, Any]
    rows: list[dict[str, Any]] = field(default_factory=list)
    samples: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def prepare(cls, config: BenchConfig, progress: bool) -> _Sweep:
        """Load the model and check every variant and length before anything is measured."""
        from workbench.devices import measure_host_peak

        reference, load_seconds = _timed(lambda: load_model(config.model, progress=progress))
        variants = [get_variant(name) for name in config.variants]
        for variant in variants:
            variant.check(reference)
        shape = memory.ModelShape.from_config(reference.model.config.to_dict())
        if shape:
            memory.check_sweep_memory(config, shape, reference.task, reference.info.params)
        task = tasks.for_runner(reference, config)
        environment = {"host_peak": measure_host_peak().to_dict()}
        return cls(config, reference, load_seconds, variants, task, environment)

    def apply(self, variant: Variant) -> tuple[ModelRunner, dict[str, Any]]:
        """``variant``'s runner, and the columns every point of it shares (sizes, drift)."""
        runner, prepare_seconds = _timed(lambda: variant.apply(self.reference))
        if hasattr(runner, "set_threads"):  # its drift is measured on the sweep's first count
            runner.set_threads(self.config.threads[0])
        columns = {
            "model": self.config.model,
            "task": self.reference.task,
            "engine": variant.engine,
            "load_s": self.load_seconds,
            "prepare_s": prepare_seconds,
            "params": self.reference.info.params,
            "weight_bytes": runner.info.weight_bytes,
            "dtype": runner.info.dtype,
            **self.task.drift(runner),
        }
        return runner, columns

    def add(self, row: dict[str, Any], samples: list[dict[str, Any]]) -> BenchResult:
        """Add one measured point; the result so far."""
        self.rows.append(row)
        self.samples += [{"point": len(self.rows) - 1, **sample} for sample in samples]
        return BenchResult.from_rows(self.config, self.rows, self.samples, self.environment)


def _timed(make: Callable[[], Any]) -> tuple[Any, float]:
    """What ``make()`` returns and the seconds it took."""
    started = time.perf_counter()
    made = make()
    return made, time.perf_counter() - started


def _measure_point(
    task: tasks.Task,
    runner: ModelRunner,
    variant: Variant,
    point: dict[str, Any],
    config: BenchConfig,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """One point's row and samples, measured with the point's thread count."""
    if hasattr(runner, "set_threads"):  # an engine with its own thread pool (llama.cpp)
        runner.set_threads(point["threads"])
    with torch_threads(point["threads"]):
        prepared = task.prepare(runner, variant, point)
        timings = measure(prepared.call, config.policy)
        return prepared.summarise(timings)


__all__ = ["BenchResult", "ProgressHook", "run_benchmark"]
