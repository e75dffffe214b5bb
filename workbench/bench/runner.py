"""Run a benchmark sweep: load once, prepare each variant, measure every point, save a run."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from transformers.generation.streamers import BaseStreamer

from workbench.bench import quality
from workbench.bench.config import BenchConfig
from workbench.bench.measure import measure, peak_rss_mb, torch_threads
from workbench.bench.stats import LatencyStats, summarise_gaps
from workbench.bench.variants import Variant, get_variant
from workbench.kit.errors import InvalidInputError
from workbench.models import load_model
from workbench.models.runners import EmbeddingRunner, GenerationRunner, ModelRunner
from workbench.samples.text import sample_prompts, sample_sentences


@dataclass
class BenchResult:
    """A finished sweep: one row per point, the raw samples, and where it was saved."""

    config: BenchConfig
    points: pd.DataFrame
    samples: pd.DataFrame
    run_id: str | None = None
    environment: dict[str, Any] = field(default_factory=dict)

    def to_frame(self) -> pd.DataFrame:
        """The tidy table: one row per point, units in the column names."""
        return self.points

    def to_dict(self) -> dict[str, Any]:
        """Plain values, JSON-ready."""
        return {
            "config": self.config.to_dict(),
            "points": self.points.to_dict(orient="records"),
            "samples": self.samples.to_dict(orient="records"),
            "run_id": self.run_id,
            "environment": self.environment,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BenchResult:
        """The inverse of :meth:`to_dict`."""
        return cls(
            config=BenchConfig.from_dict(data["config"]),
            points=pd.DataFrame.from_records(data["points"]),
            samples=pd.DataFrame.from_records(data["samples"]),
            run_id=data.get("run_id"),
            environment=data.get("environment", {}),
        )


ProgressHook = Callable[[dict[str, Any]], None]


def run_benchmark(
    config: BenchConfig,
    *,
    runs_dir: Path | str | None = None,
    save: bool = True,
    progress: bool = True,
    on_point: ProgressHook | None = None,
) -> BenchResult:
    """Measure every point of ``config`` and, with ``save``, record it as a run.

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

    Returns
    -------
    BenchResult
    """
    from tqdm.auto import tqdm

    from workbench import runs
    from workbench.devices import measure_host_peak

    if save:
        runs.check_runs_dir(runs_dir)
    start = time.perf_counter()
    reference = load_model(config.model, progress=progress)
    load_seconds = time.perf_counter() - start
    variants = [get_variant(name) for name in config.variants]
    for variant in variants:
        variant.check(reference)
    _check_lengths(reference, config)
    host = measure_host_peak()
    probe = _Probe.for_runner(reference, config)

    rows: list[dict[str, Any]] = []
    samples: list[dict[str, Any]] = []
    label = f"{config.model}"
    recorder_cm = (
        runs.start_run(
            "bench",
            config.to_dict(),
            seed=config.seed,
            label=label,
            runs_dir=runs_dir,
            environment_extra={"host_peak": host.to_dict()},
        )
        if save
        else _NoRun()
    )
    bar = tqdm(
        total=len(config.points()), desc=f"Benchmarking {config.model}", disable=not progress
    )
    with recorder_cm as recorder:
        for variant in variants:
            prepared_at = time.perf_counter()
            runner = variant.apply(reference)
            prepare_seconds = time.perf_counter() - prepared_at
            drift = probe.drift(runner)
            for point in config.points():
                if point["variant"] != variant.name:
                    continue
                bar.set_postfix_str(
                    f"{variant.name}, {point['threads']} threads, batch {point['batch']}"
                )
                row, point_samples = _measure_point(runner, variant, point, config, probe)
                row.update(
                    model=config.model,
                    task=reference.task,
                    load_s=load_seconds,
                    prepare_s=prepare_seconds,
                    params=reference.info.params,
                    weight_bytes=runner.info.weight_bytes,
                    dtype=runner.info.dtype,
                    **drift,
                )
                rows.append(row)
                samples += [{"point": len(rows) - 1, **s} for s in point_samples]
                recorder.add_table("points", _ordered(pd.DataFrame(rows)))
                recorder.add_table("samples", pd.DataFrame(samples))
                bar.update(1)
                if on_point:
                    on_point(row)
            if runner is not reference:
                del runner
        points = _ordered(pd.DataFrame(rows))
        recorder.set_summary(**_summary(points))
    bar.close()
    return BenchResult(
        config=config,
        points=points,
        samples=pd.DataFrame(samples),
        run_id=getattr(recorder, "id", None),
        environment={"host_peak": host.to_dict()},
    )


class _NoRun:
    """Stands in for a run recorder when nothing is saved."""

    def __enter__(self) -> _NoRun:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def add_table(self, name: str, table: pd.DataFrame) -> None:
        pass

    def set_summary(self, **values: Any) -> None:
        pass


def _check_lengths(runner: ModelRunner, config: BenchConfig) -> None:
    context = runner.info.context_length
    if isinstance(runner, EmbeddingRunner):
        limit = runner.pooling.max_seq_length
        too_long = [n for n in config.seq_lens if n > limit]
        if 0 in config.seq_lens:
            raise InvalidInputError(
                "`seq_lens` of 0 means 'prompts as written' and applies to generation models; "
                f"{runner.info.name} embeds texts: give token counts like 16,128."
            )
        if too_long:
            raise InvalidInputError(
                f"`seq_lens` {too_long} exceed {runner.info.name}'s limit of {limit} tokens per "
                f"text; use at most {limit}."
            )
        return
    if context:
        worst = max(config.seq_lens) + config.max_new_tokens
        if worst > context:
            raise InvalidInputError(
                f"A prompt of {max(config.seq_lens)} tokens plus `max_new_tokens`="
                f"{config.max_new_tokens} exceeds {runner.info.name}'s context of {context} tokens."
            )


@dataclass
class _Probe:
    """The fixed inputs a sweep measures and the fp32 reference outputs for quality drift."""

    reference: ModelRunner
    config: BenchConfig
    quality_inputs: list[Any]
    references: list[Any]

    @classmethod
    def for_runner(cls, runner: ModelRunner, config: BenchConfig) -> _Probe:
        count = config.quality_items
        if isinstance(runner, EmbeddingRunner):
            texts = _cycle(sample_sentences(), count)
            return cls(runner, config, texts, [])
        prompts = [runner.chat_or_prompt(p) for p in _cycle(sample_prompts(), count)]
        references = quality.reference_continuations(runner, prompts, config.max_new_tokens)
        return cls(runner, config, prompts, references)

    def drift(self, runner: ModelRunner) -> dict[str, float]:
        if isinstance(runner, EmbeddingRunner):
            return quality.embedding_drift(self.reference, runner, self.quality_inputs)
        return quality.generation_drift(
            runner, self.references, self.quality_inputs, self.config.max_new_tokens
        )


def _cycle(items: list[str], count: int) -> list[str]:
    return [items[i % len(items)] for i in range(count)]


def _measure_point(
    runner: ModelRunner,
    variant: Variant,
    point: dict[str, Any],
    config: BenchConfig,
    probe: _Probe,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    with torch_threads(point["threads"]):
        if isinstance(runner, EmbeddingRunner):
            return _measure_embeddings(runner, point, config)
        return _measure_generation(runner, variant, point, config)


def _long_text(count: int) -> str:
    return " ".join(_cycle(sample_sentences(), count))


def _measure_embeddings(
    runner: EmbeddingRunner, point: dict[str, Any], config: BenchConfig
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    batch, seq_len = point["batch"], point["seq_len"]
    texts = [_long_text(seq_len // 4 + 8 + i) for i in range(batch)]
    encoded = runner.tokenizer(
        texts, truncation=True, max_length=seq_len, padding=True, return_tensors="pt"
    )
    timings = measure(lambda: runner.embed_tokens(encoded), config.policy)
    stats = LatencyStats.from_samples(timings.samples, seed=config.seed)
    row = {
        **point,
        "cold_ms": timings.cold_seconds * 1000,
        "stopped_by": timings.stopped_by,
        **stats.to_dict(),
        "throughput_items_per_s": batch / (stats.mean_ms / 1000),
        "tokens_per_s": batch * int(encoded["input_ids"].shape[1]) / (stats.mean_ms / 1000),
        "peak_rss_mb": peak_rss_mb(),
    }
    return row, [{"iteration": i, "latency_ms": s * 1000} for i, s in enumerate(timings.samples)]


class _TokenClock(BaseStreamer):
    """Records when each generation step's tokens arrive (the first put is the prompt)."""

    def __init__(self) -> None:
        self.times: list[float] = []
        self._seen_prompt = False

    def put(self, value: torch.Tensor) -> None:
        if self._seen_prompt:
            self.times.append(time.perf_counter())
        self._seen_prompt = True

    def end(self) -> None:
        pass


def _measure_generation(
    runner: GenerationRunner, variant: Variant, point: dict[str, Any], config: BenchConfig
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    batch, seq_len, new = point["batch"], point["seq_len"], config.max_new_tokens
    if seq_len:
        ids = runner.tokenizer(_long_text(seq_len // 4 + 8), return_tensors="pt")["input_ids"]
        ids = ids[:, :seq_len]
    else:
        ids = runner.encode_prompt(runner.chat_or_prompt(sample_prompts()[0]))["input_ids"]
    inputs = {
        "input_ids": ids.repeat(batch, 1),
        "attention_mask": torch.ones_like(ids).repeat(batch, 1),
    }
    generation = runner.generation_config(new)
    generation.min_new_tokens = new  # every call produces the same number of tokens
    generation.update(**variant.generate_kwargs())

    def call() -> dict[str, Any]:
        clock = _TokenClock()
        began = time.perf_counter()
        with torch.inference_mode():
            out = runner.model.generate(**inputs, generation_config=generation, streamer=clock)
        ended = time.perf_counter()
        tokens = int(out.shape[1] - ids.shape[1])
        ttft = clock.times[0] - began if clock.times else math.nan
        gaps = [b - a for a, b in zip(clock.times, clock.times[1:], strict=False)]
        return {"e2e": ended - began, "ttft": ttft, "tokens": tokens, "gaps": gaps}

    timings = measure(call, config.policy)
    stats = LatencyStats.from_samples(timings.samples, seed=config.seed)
    results = timings.results
    tokens = sum(r["tokens"] for r in results) / len(results)
    ttft = sum(r["ttft"] for r in results) / len(results)
    tpot = sum((r["e2e"] - r["ttft"]) / max(r["tokens"] - 1, 1) for r in results) / len(results)
    row = {
        **point,
        "max_new_tokens": new,
        "prompt_tokens": int(ids.shape[1]),
        "output_tokens": tokens,
        "cold_ms": timings.cold_seconds * 1000,
        "stopped_by": timings.stopped_by,
        **stats.to_dict(),
        "throughput_items_per_s": batch / (stats.mean_ms / 1000),
        "ttft_ms": ttft * 1000,
        "tpot_ms": tpot * 1000,
        **summarise_gaps([g for r in results for g in r["gaps"]]),
        "tokens_per_s": batch * tokens / (stats.mean_ms / 1000),
        "peak_rss_mb": peak_rss_mb(),
    }
    point_samples = [
        {"iteration": i, "latency_ms": r["e2e"] * 1000, "ttft_ms": r["ttft"] * 1000}
        for i, r in enumerate(results)
    ]
    return row, point_samples


_LEADING = ["model", "task", "variant", "dtype", "threads", "batch", "seq_len"]


def _ordered(points: pd.DataFrame) -> pd.DataFrame:
    lead = [c for c in _LEADING if c in points.columns]
    return points[lead + [c for c in points.columns if c not in lead]]


def _summary(points: pd.DataFrame) -> dict[str, Any]:
    if points.empty:
        return {}
    best = points.loc[points["throughput_items_per_s"].idxmax()]
    return {
        "model": str(best["model"]),
        "points": len(points),
        "fastest_variant": str(best["variant"]),
        "best_throughput_items_per_s": float(best["throughput_items_per_s"]),
        "best_p50_ms": float(points["p50_ms"].min()),
    }
