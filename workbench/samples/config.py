"""What the sample runs of a first start measure, and about how long they take."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from workbench.bench.config import BenchConfig, MeasurePolicy
from workbench.federated.config import FedConfig
from workbench.kit import checks
from workbench.kit.fields import check_fields, spec

SAMPLE_KINDS = ("bench", "federated")
LOCK_FILE = ".sample-runs.lock"  # a dot file: the run store skips it
#: What the sample benchmark measures, by the model's task: fp32 (the quality reference) and the
#: variant the decision may pick instead when it keeps quality. A model of unknown task: fp32.
SAMPLE_VARIANTS: dict[str, tuple[str, ...]] = {
    "embeddings": ("fp32", "int8"),
    "text-generation": ("fp32", "int8-weight-only"),
}


def _sample_bench() -> BenchConfig:
    # fp32 and the variant the decision can pick instead: its agreement with fp32 over the 8
    # sample prompts x 8 tokens (64 tokens, steps of 1.6%) says whether it keeps quality. Six
    # calls per variant are the fewest with a p50 interval; a p95 interval would need 72.
    return BenchConfig(
        model="smollm2-135m",
        variants=SAMPLE_VARIANTS["text-generation"],
        seq_lens=(32,),
        max_new_tokens=8,
        quality_items=8,
        policy=MeasurePolicy(warmup=1, min_iters=6, min_seconds=0.0, max_seconds=20.0),
    )


def _sample_federated() -> FedConfig:
    # Uneven labels and a deadline that the slowest phones miss: the dashboard then has
    # stragglers and dropouts to show, and a reason to rerun with other settings.
    return FedConfig(
        num_clients=30,
        rounds=10,
        fraction=0.3,
        partition="dirichlet",
        alpha=0.5,
        local_epochs=2,
        deadline_s=15.0,
    )


@dataclass(frozen=True)
class SampleSettings:
    """What the sample runs measure; the defaults are the ones a first start uses."""

    bench: BenchConfig = spec(
        default_factory=_sample_bench,
        help="the sample benchmark: fp32 and int8 weight-only of the model the decision "
        "scenario serves, one point each, with their quality drift",
    )
    federated: FedConfig = spec(
        default_factory=_sample_federated, help="the sample federated simulation"
    )
    bench_seconds: float = spec(
        40.0, help="about how long the sample benchmark takes on 2 cores", unit="s", low=0
    )
    first_load_seconds: float = spec(
        45.0,
        help="about how long the model's first load takes (unpacking it once)",
        unit="s",
        low=0,
    )
    federated_seconds: float = spec(
        1.0, help="about how long the sample federated run takes", unit="s", low=0
    )

    def __post_init__(self) -> None:
        owner = "SampleSettings"
        if not isinstance(self.bench, BenchConfig):
            raise checks.invalid("bench", self.bench, "a BenchConfig", owner=owner)
        if not isinstance(self.federated, FedConfig):
            raise checks.invalid("federated", self.federated, "a FedConfig", owner=owner)
        check_fields(self, owner=owner)

    @classmethod
    def for_model(cls, model: str, **changes: Any) -> SampleSettings:
        """The default settings with the sample benchmark measuring ``model`` instead, with the
        variants of its task (:data:`SAMPLE_VARIANTS`; fp32 alone for a model not in the
        catalog)."""
        from workbench.models.catalog import load_catalog  # imports torch: only when asked

        entry = load_catalog().get(model)
        variants = SAMPLE_VARIANTS.get(entry.task if entry else "", ("fp32",))
        bench = dataclasses.replace(cls().bench, model=model, variants=variants)
        return cls(bench=bench, **changes)

    def expected_seconds(self, kinds: Sequence[str] = SAMPLE_KINDS) -> tuple[float, float]:
        """About how long making runs of ``kinds`` takes: ``(usual, on a first start)``."""
        usual = (self.bench_seconds if "bench" in kinds else 0.0) + (
            self.federated_seconds if "federated" in kinds else 0.0
        )
        first = usual + (self.first_load_seconds if "bench" in kinds else 0.0)
        return usual, first

    def describe(self, kinds: Sequence[str] = SAMPLE_KINDS) -> str:
        """One sentence saying what will be made and about how long it takes."""
        parts = []
        if "bench" in kinds:
            parts.append(f"a short benchmark of {self.bench.model}")
        if "federated" in kinds:
            config = self.federated
            parts.append(
                f"a federated simulation of {config.num_clients} clients over {config.rounds} rounds"
            )
        usual, first = self.expected_seconds(kinds)
        when = f"about {usual:.0f} s" if usual >= 2 else "about a second"
        if first > usual:
            when += f" (about {first:.0f} s the first time, while the model is unpacked)"
        return f"{' and '.join(parts)}, {when}"


__all__ = ["LOCK_FILE", "SAMPLE_KINDS", "SAMPLE_VARIANTS", "SampleSettings"]
