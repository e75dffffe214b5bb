"""Benchmarking a generation model: fixed prompts, timed ``generate`` calls with a token clock,
and drift as agreement with fp32's greedy continuations."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

import torch
from transformers.generation.streamers import BaseStreamer

from workbench.bench import quality
from workbench.bench.config import BenchConfig
from workbench.bench.measure import Timings, peak_rss_mb
from workbench.bench.stats import LatencyStats, summarise_gaps
from workbench.bench.tasks.base import PreparedPoint, Row, cycle, long_text
from workbench.bench.variants import Variant
from workbench.kit.errors import InvalidInputError
from workbench.models.inputs import sample_prompts
from workbench.models.runners import GenerationRunner


@dataclass
class GenerationTask:
    """The fp32 reference, the quality prompts and fp32's continuations of them."""

    reference: GenerationRunner
    config: BenchConfig
    prompts: list[Any]
    continuations: list[Any]

    @classmethod
    def for_runner(cls, reference: GenerationRunner, config: BenchConfig) -> GenerationTask:
        """Check the lengths against the context, then generate fp32's reference continuations.

        Raises
        ------
        InvalidInputError
            When the longest prompt plus ``max_new_tokens`` exceeds the model's context.
        """
        check_lengths(reference, config)
        prompts = [
            reference.chat_or_prompt(p) for p in cycle(sample_prompts(), config.quality_items)
        ]
        continuations = quality.reference_continuations(reference, prompts, config.max_new_tokens)
        return cls(reference, config, prompts, continuations)

    def drift(self, runner: GenerationRunner) -> dict[str, float]:
        """Teacher-forced agreement with fp32 and where greedy decoding first diverges.

        The reference itself (fp32) agrees fully by definition; it is not generated again.
        """
        if runner is self.reference:
            new = self.config.max_new_tokens
            return {
                "agreement": 1.0,
                "first_divergence_mean": float(new),
                "first_divergence_min": new,
                "exact_match": 1.0,
                "drift_method": quality.REFERENCE_METHOD,
            }
        return quality.generation_drift(
            runner, self.continuations, self.prompts, self.config.max_new_tokens
        )

    def prepare(
        self, runner: GenerationRunner, variant: Variant, point: dict[str, Any]
    ) -> PreparedPoint:
        """``batch`` copies of one prompt (``seq_len`` tokens, or a sample prompt as written)
        and a call that generates exactly ``max_new_tokens`` for each, timing every token."""
        batch, new = point["batch"], self.config.max_new_tokens
        # Every engine gets the same prompt tokens: the reference's tokenizer makes them.
        ids = _prompt_ids(self.reference, point["seq_len"])
        if runner.engine != "transformers":
            return self._prepare_engine(runner, point, ids)
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
            ttft = clock.times[0] - began if clock.times else math.nan
            gaps = [b - a for a, b in zip(clock.times, clock.times[1:], strict=False)]
            tokens = int(out.shape[1] - ids.shape[1])
            return {"e2e": ended - began, "ttft": ttft, "tokens": tokens, "gaps": gaps}

        def summarise(timings: Timings) -> tuple[Row, list[Row]]:
            return self._row(point, int(ids.shape[1]), timings)

        return PreparedPoint(call=call, summarise=summarise)

    def _prepare_engine(
        self, runner: Any, point: dict[str, Any], ids: torch.Tensor
    ) -> PreparedPoint:
        """The timed call of an engine that times its own tokens (llama.cpp), batch 1."""
        if point["batch"] != 1:
            raise InvalidInputError(
                f"The {runner.engine} engine is measured at batch 1 only, got batch "
                f"{point['batch']}; use --batch 1."
            )
        prompt = ids[0].tolist()
        new = runner.check_max_new_tokens(self.config.max_new_tokens, len(prompt))

        def summarise(timings: Timings) -> tuple[Row, list[Row]]:
            return self._row(point, len(prompt), timings)

        return PreparedPoint(call=lambda: runner.timed_generation(prompt, new), summarise=summarise)

    def _row(
        self, point: dict[str, Any], prompt_tokens: int, timings: Timings
    ) -> tuple[Row, list[Row]]:
        batch, results = point["batch"], timings.results
        stats = LatencyStats.from_samples(timings.samples)
        tokens = sum(r["tokens"] for r in results) / len(results)
        ttft = sum(r["ttft"] for r in results) / len(results)
        tpot = sum((r["e2e"] - r["ttft"]) / max(r["tokens"] - 1, 1) for r in results) / len(results)
        row = {
            **point,
            "max_new_tokens": self.config.max_new_tokens,
            "prompt_tokens": prompt_tokens,
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
        samples = [
            {"iteration": i, "latency_ms": r["e2e"] * 1000, "ttft_ms": r["ttft"] * 1000}
            for i, r in enumerate(results)
        ]
        return row, samples


def check_lengths(runner: GenerationRunner, config: BenchConfig) -> None:
    """Refuse a prompt length that, with ``max_new_tokens``, overruns the model's context."""
    context = runner.info.context_length
    worst = max(config.seq_lens) + config.max_new_tokens
    if context and worst > context:
        raise InvalidInputError(
            f"A prompt of {max(config.seq_lens)} tokens plus `max_new_tokens`="
            f"{config.max_new_tokens} exceeds {runner.info.name}'s context of {context} tokens."
        )


def _prompt_ids(runner: GenerationRunner, seq_len: int) -> torch.Tensor:
    """A prompt of exactly ``seq_len`` tokens, or (0) the first sample prompt as written."""
    if seq_len:
        ids = runner.tokenizer(long_text(seq_len // 4 + 8), return_tensors="pt")["input_ids"]
        return ids[:, :seq_len]
    return runner.encode_prompt(runner.chat_or_prompt(sample_prompts()[0]))["input_ids"]


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


__all__ = ["GenerationTask", "check_lengths"]
