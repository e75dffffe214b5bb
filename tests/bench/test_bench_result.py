"""BenchResult records itself through runs.record and loads back equal (no model needed)."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from workbench import runs
from workbench.bench import BenchConfig, BenchResult, MeasurePolicy


def _result() -> BenchResult:
    """A two-point sweep as the runner builds it, with ints, floats, text and a NaN."""
    config = BenchConfig(
        "tiny-llama",
        variants=("fp32", "int8"),
        seq_lens=(0,),
        threads=(1,),
        max_new_tokens=4,
        policy=MeasurePolicy(warmup=0, min_iters=2, min_seconds=0.0, max_seconds=5.0),
        quality_items=2,
        seed=3,
    )
    rows = [
        {"variant": v, "threads": 1, "batch": 1, "seq_len": 0, "p50_ms": p50,
         "throughput_items_per_s": 1000 / p50, "itl_p50_ms": itl, "stopped_by": "max_seconds",
         "model": "tiny-llama", "task": "text-generation", "dtype": dtype, "weight_bytes": size}
        for v, p50, itl, dtype, size in (
            ("fp32", 12.5, 3.25, "float32", 4_000_000),
            ("int8", 9.75, math.nan, "int8", 1_000_000),
        )
    ]  # fmt: skip
    samples = [
        {"point": p, "iteration": i, "latency_ms": 10.0 + p + i / 4, "ttft_ms": 2.5}
        for p in (0, 1)
        for i in range(3)
    ]
    return BenchResult.from_rows(config, rows, samples, {"host_peak": {"fp32_gflops": 12.5}})


def test_a_saved_bench_run_loads_back_equal(tmp_path):
    """Recorded with runs.record and read with from_run, every part of the result is equal."""
    result = _result()

    with runs.record(
        BenchResult, result.config, seed=3, label="tiny", runs_dir=tmp_path,
        environment_extra=result.environment,
    ) as rec:  # fmt: skip
        rec.save(result)
    loaded = BenchResult.from_run(runs.load_run(result.run_id, runs_dir=tmp_path))

    assert result.run_id is not None
    assert loaded.run_id == result.run_id
    assert loaded.config == result.config
    assert loaded.environment == result.environment
    pd.testing.assert_frame_equal(loaded.points, result.points, check_exact=True)
    pd.testing.assert_frame_equal(loaded.samples, result.samples, check_exact=True)
    assert loaded.summary() == result.summary()


def test_the_run_summary_names_the_fastest_variant(tmp_path):
    """The saved one-line summary: model, 2 points, the variants, int8 fastest, its throughput
    and best p50."""
    result = _result()

    with runs.record(BenchResult, result.config, runs_dir=tmp_path) as rec:
        rec.save(result)
    (listed,) = runs.list_runs(tmp_path)

    assert listed.kind == "bench"
    assert listed.summary == {
        "model": "tiny-llama",
        "points": 2,
        "engines": ["transformers"],
        "variants": ["fp32", "int8"],
        "fastest_engine": "transformers",
        "fastest_variant": "int8",
        "best_throughput_items_per_s": pytest.approx(1000 / 9.75),
        "best_p50_ms": 9.75,
    }


def test_points_lead_with_the_columns_that_name_the_point():
    """from_rows puts model, task, engine, variant, dtype, threads, batch and seq_len first."""
    columns = list(_result().points.columns)

    assert columns[:8] == [
        "model", "task", "engine", "variant", "dtype", "threads", "batch", "seq_len"
    ]  # fmt: skip


def test_recording_with_save_false_writes_nothing(tmp_path):
    """save=False leaves run_id None and the runs folder absent."""
    result = _result()

    with runs.record(BenchResult, result.config, save=False, runs_dir=tmp_path / "runs") as rec:
        rec.save(result)

    assert result.run_id is None
    assert not (tmp_path / "runs").exists()
