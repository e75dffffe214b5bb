"""Benchmarking an embedding model: fixed texts, one timed ``embed`` call per point, cosine drift."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from workbench.bench import quality
from workbench.bench.config import BenchConfig
from workbench.bench.measure import Timings, peak_rss_mb
from workbench.bench.stats import LatencyStats
from workbench.bench.tasks.base import PreparedPoint, Row, cycle, long_text
from workbench.bench.variants import Variant
from workbench.kit.errors import InvalidInputError
from workbench.models.inputs import sample_sentences
from workbench.models.runners import EmbeddingRunner


@dataclass
class EmbeddingTask:
    """The fp32 reference and the texts every variant's cosine drift is measured on."""

    reference: EmbeddingRunner
    config: BenchConfig
    texts: list[str]

    @classmethod
    def for_runner(cls, reference: EmbeddingRunner, config: BenchConfig) -> EmbeddingTask:
        """Check the lengths against the model's limit, then pick the quality texts.

        Raises
        ------
        InvalidInputError
            For a length of 0 (generation only) or one above the model's tokens per text.
        """
        check_lengths(reference, config)
        return cls(reference, config, cycle(sample_sentences(), config.quality_items))

    def drift(self, runner: EmbeddingRunner) -> dict[str, float]:
        """Cosine similarity of ``runner``'s embeddings to fp32's: mean and worst text (1 for
        the reference itself)."""
        if runner is self.reference:
            return {"cosine_mean": 1.0, "cosine_min": 1.0}
        return quality.embedding_drift(self.reference, runner, self.texts)

    def prepare(
        self, runner: EmbeddingRunner, variant: Variant, point: dict[str, Any]
    ) -> PreparedPoint:
        """``batch`` distinct texts truncated to ``seq_len`` tokens, tokenized once up front."""
        batch, seq_len = point["batch"], point["seq_len"]
        texts = [long_text(seq_len // 4 + 8 + i) for i in range(batch)]
        encoded = runner.tokenizer(
            texts, truncation=True, max_length=seq_len, padding=True, return_tensors="pt"
        )
        tokens = int(encoded["input_ids"].shape[1])

        def summarise(timings: Timings) -> tuple[Row, list[Row]]:
            stats = LatencyStats.from_samples(timings.samples)
            row = {
                **point,
                "cold_ms": timings.cold_seconds * 1000,
                "stopped_by": timings.stopped_by,
                **stats.to_dict(),
                "throughput_items_per_s": batch / (stats.mean_ms / 1000),
                "tokens_per_s": batch * tokens / (stats.mean_ms / 1000),
                "peak_rss_mb": peak_rss_mb(),
            }
            samples = [
                {"iteration": i, "latency_ms": s * 1000} for i, s in enumerate(timings.samples)
            ]
            return row, samples

        return PreparedPoint(call=lambda: runner.embed_tokens(encoded), summarise=summarise)


def check_lengths(runner: EmbeddingRunner, config: BenchConfig) -> None:
    """Refuse lengths an embedding model cannot take, before anything is measured."""
    limit = runner.pooling.max_seq_length
    if 0 in config.seq_lens:
        raise InvalidInputError(
            "`seq_lens` of 0 means 'prompts as written' and applies to generation models; "
            f"{runner.info.name} embeds texts: give token counts like 16,128."
        )
    too_long = [n for n in config.seq_lens if n > limit]
    if too_long:
        raise InvalidInputError(
            f"`seq_lens` {too_long} exceed {runner.info.name}'s limit of {limit} tokens per "
            f"text; use at most {limit}."
        )


__all__ = ["EmbeddingTask", "check_lengths"]
