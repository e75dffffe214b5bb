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
from workbench.models.engines import DEFAULT_ENGINE, ENGINES, LLAMA_CPP, engine_of_variant

SAMPLE_KINDS = ("bench", "federated")
LOCK_FILE = ".sample-runs.lock"  # a dot file: the run store skips it
#: What the sample benchmark measures, by the model's task: fp32 (the quality reference) and the
#: variant the decision may pick instead when it keeps quality. A model of unknown task: fp32.
SAMPLE_VARIANTS: dict[str, tuple[str, ...]] = {
    "embeddings": ("fp32", "int8"),
    "text-generation": ("fp32", "int8-weight-only"),
}


#: The engine the sample benchmark of a chat model that ships a GGUF file adds beside
#: transformers when it is installed (at its default variant, llama.cpp's q4_1): users deploy
#: small models on CPUs with it, and the decision takes the fastest path that keeps quality.
SAMPLE_ENGINE = LLAMA_CPP
#: The sample model, a chat model that ships a GGUF file.
SAMPLE_MODEL = "smollm2-135m"


def sample_engines(task: str, ships_gguf: bool) -> tuple[str, ...]:
    """The engines the sample benchmark of a model measures: transformers, plus llama.cpp for a
    chat model that ships a GGUF file when llama-cpp-python is installed (else transformers
    alone, and :meth:`SampleSettings.describe` says so)."""
    if task == "text-generation" and ships_gguf and ENGINES[SAMPLE_ENGINE].available():
        return (DEFAULT_ENGINE, SAMPLE_ENGINE)
    return (DEFAULT_ENGINE,)


def _sample_variants(task: str, engines: Sequence[str]) -> tuple[str, ...]:
    extra = tuple(ENGINES[e].default_variant for e in engines if e != DEFAULT_ENGINE)
    return SAMPLE_VARIANTS.get(task, ("fp32",)) + extra


def _sample_bench() -> BenchConfig:
    # fp32 and the variant the decision can pick instead (and llama.cpp's default variant when
    # it is installed): each one's agreement with fp32 over the 8 sample prompts x 8 tokens
    # (64 tokens, steps of 1.6%) says whether it keeps quality. Six calls per variant are the
    # fewest with a p50 interval; a p95 interval would need 72.
    engines = sample_engines("text-generation", ships_gguf=True)
    return BenchConfig(
        model=SAMPLE_MODEL,
        engines=engines,
        variants=_sample_variants("text-generation", engines),
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
        help="the sample benchmark: transformers fp32 and int8 weight-only of the model the "
        "decision scenario serves (and llama.cpp q4_1 when llama-cpp-python is installed), one "
        "point each, with their quality drift",
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
        task = entry.task if entry else ""
        ships_gguf = bool(entry and entry.path and entry.path.endswith(".gguf"))
        engines = sample_engines(task, ships_gguf)
        variants = _sample_variants(task, engines)
        bench = dataclasses.replace(cls().bench, model=model, engines=engines, variants=variants)
        return cls(bench=bench, **changes)

    def _paths(self) -> str:
        """The engines and variants the sample benchmark measures, and why llama.cpp is not
        among them when it is not."""
        bench = self.bench
        by_engine = {
            engine: [v for v in bench.variants if engine_of_variant(v) == engine]
            for engine in bench.engines
        }
        text = "; ".join(f"{e} {', '.join(v)}" for e, v in by_engine.items())
        if SAMPLE_ENGINE not in bench.engines and bench.model == SAMPLE_MODEL:
            text += f"; {SAMPLE_ENGINE} is not installed, so it is not measured"
        return text

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
            parts.append(f"a short benchmark of {self.bench.model} ({self._paths()})")
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


__all__ = [
    "LOCK_FILE",
    "SAMPLE_ENGINE",
    "SAMPLE_KINDS",
    "SAMPLE_MODEL",
    "SAMPLE_VARIANTS",
    "SampleSettings",
    "sample_engines",
]
