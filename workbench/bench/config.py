"""Benchmark configuration: typed, self-validating, expandable into a grid of points.

Every field is declared once with :func:`~workbench.kit.fields.spec`; the ``bench`` command's
flags, the benchmark panel's controls and the error for a bad value all come from it.
"""

from __future__ import annotations

import itertools
import os
from dataclasses import MISSING, asdict, dataclass, field, fields
from typing import Any

from workbench.kit import checks
from workbench.kit.errors import InvalidInputError
from workbench.kit.fields import check_fields, default_of, flag_of, spec, specs
from workbench.models.engines import DEFAULT_ENGINE, ENGINES, engine_of_variant, get_engine

# Upper bounds of the scalar fields: a typo (--warmup 1000000000) must not start a run that never
# ends (warm-up calls are not bounded by max_seconds) or build a billion quality texts.
MAX_WARMUP = 1_000
MAX_ITERS = 100_000
MAX_SECONDS = 86_400.0
MAX_NEW_TOKENS = 100_000
MAX_QUALITY_ITEMS = 1_000
# Checked on their own, not as a spec's ``high``, which would make the panels' text boxes sliders.
_POLICY_MAXIMA = {
    "warmup": MAX_WARMUP,
    "min_iters": MAX_ITERS,
    "min_seconds": MAX_SECONDS,
    "max_seconds": MAX_SECONDS,
}
_SWEEP_MAXIMA = {"max_new_tokens": MAX_NEW_TOKENS, "quality_items": MAX_QUALITY_ITEMS}


def _check_maxima(config: Any, maxima: dict[str, float]) -> None:
    for name, most in maxima.items():
        value = getattr(config, name)
        if value > most:
            field_spec = specs(config)[name]
            raise checks.invalid(
                name, value, f"at most {most:,g}", flag=flag_of(config, name), fix=field_spec.fix
            )


@dataclass(frozen=True)
class MeasurePolicy:
    """When to stop measuring: after warm-up, once both minimums are met, or at the maximum."""

    warmup: int = spec(
        2,
        help="untimed calls before measuring",
        unit="calls",
        low=0,
        whole=True,
        fix="Warm-up calls are not bounded by --max-seconds; 2 to 10 is plenty.",
        label="Warm-up",
    )
    min_iters: int = spec(
        10,
        help="measure at least this many calls",
        unit="calls",
        low=1,
        whole=True,
        label="Min calls",
    )
    min_seconds: float = spec(
        1.0,
        help="and for at least this long",
        unit="s",
        low=0,
        fix="A point is measured for a day at most.",
        label="Min seconds",
    )
    max_seconds: float = spec(
        30.0,
        help="but never longer than this",
        unit="s",
        low=0,
        low_open=True,
        fix="A point is measured for a day at most.",
        label="Max seconds",
    )

    def __post_init__(self) -> None:
        check_fields(self)
        _check_maxima(self, _POLICY_MAXIMA)
        if self.min_seconds > self.max_seconds:
            raise InvalidInputError(
                f"`min_seconds` ({self.min_seconds}) is above `max_seconds` ({self.max_seconds}): "
                "raise --max-seconds or lower --min-seconds."
            )


# The lists of a sweep: the smallest value each item may take (0 for seq_lens: prompts as
# written). The kit checks scalar fields; these are checked item by item in __post_init__.
_LIST_MINIMUM = {"batch_sizes": 1, "seq_lens": 0, "threads": 1}
# ... and the largest: beyond these a point only fills the memory (what fits below them is
# checked against the model in workbench.bench.memory) or crashes torch (threads).
_LIST_MAXIMUM = {"batch_sizes": 1_000_000, "seq_lens": 1_000_000, "threads": 1024}


@dataclass(frozen=True)
class BenchConfig:
    """A benchmark sweep: every combination of engine+variant, threads, batch size and length.

    Each variant belongs to one engine (``q4_1``, ``q8_0``, ``f16``: llama.cpp; ``onnx-fp32``,
    ``onnx-int8``: onnxruntime; the others: transformers); an engine listed in ``engines`` without a variant of its own is measured at its
    default variant.
    """

    model: str = spec(help="catalog alias, folder, .gguf file or cached hub id", label="Model")
    engines: tuple[str, ...] = spec(
        (DEFAULT_ENGINE,),
        help=f"engines to compare, comma-separated ({', '.join(ENGINES)}); quality drift is "
        "always measured against transformers fp32",
        label="Engines",
    )
    variants: tuple[str, ...] = spec(
        ("fp32",),
        help="variants to compare, comma-separated; fp32 is the quality reference; "
        "llama.cpp's are q4_1, q8_0, f16; onnxruntime's onnx-fp32, onnx-int8",
        label="Variants",
    )
    batch_sizes: tuple[int, ...] = spec(
        (1,),
        help="items per call, comma-separated",
        flag="--batch",
        label="Batch sizes",
    )
    seq_lens: tuple[int, ...] = spec(
        (32,),
        help="tokens per text (embeddings) or prompt tokens (generation, 0 = as written), "
        "comma-separated",
        flag="--seq-len",
        label="Lengths",
    )
    threads: tuple[int, ...] = spec(
        default_factory=lambda: (os.cpu_count() or 1,),
        help="torch CPU threads, comma-separated",
        label="Threads",
    )
    max_new_tokens: int = spec(
        32,
        help="tokens generated per call",
        unit="tokens",
        low=1,
        whole=True,
        label="New tokens",
    )
    # A nested config: its own fields carry the specs (and the flags --warmup, --min-iters, ...).
    policy: MeasurePolicy = field(
        default_factory=MeasurePolicy, metadata={"help": "when to stop measuring each point"}
    )
    quality_items: int = spec(
        8,
        help="texts or prompts used to measure quality drift against fp32",
        low=1,
        whole=True,
        label="Quality items",
    )
    seed: int = spec(
        0, help="seed saved with the run (the measurement and its intervals draw no random numbers)"
    )

    def __post_init__(self) -> None:
        for name in ("engines", "variants", *_LIST_MINIMUM):
            value = getattr(self, name)
            if isinstance(value, (str, int)):
                value = (value,)
            if not value:
                raise InvalidInputError(
                    f"`{name}` is empty: give at least one value ({flag_of(self, name)})."
                )
            if name in _LIST_MINIMUM:
                value = tuple(self._item(name, item) for item in value)
            object.__setattr__(self, name, tuple(value))
        check_fields(self)
        _check_maxima(self, _SWEEP_MAXIMA)
        if len(set(self.variants)) != len(self.variants):
            raise InvalidInputError(
                f"`variants` lists a variant twice: {', '.join(self.variants)}."
            )
        self._check_engines()

    def _check_engines(self) -> None:
        """Known engines, each variant's engine listed, and every engine given a variant."""
        for name in self.engines:
            get_engine(name, flag=flag_of(self, "engines"))
        if len(set(self.engines)) != len(self.engines):
            raise InvalidInputError(f"`engines` lists an engine twice: {', '.join(self.engines)}.")
        variants = list(self.variants)
        if variants == ["fp32"] and DEFAULT_ENGINE not in self.engines:
            variants = []  # the default variant, with transformers left out: each engine's own
        for variant in variants:
            engine = engine_of_variant(variant)
            if engine not in self.engines:
                raise InvalidInputError(
                    f"`variants` lists {variant!r}, a variant of the {engine} engine, but "
                    f"`engines` ({flag_of(self, 'engines')}) does not list {engine}: add it "
                    f"(--engines {','.join([*self.engines, engine])}) or drop {variant!r}."
                )
        for engine in self.engines:
            if not any(engine_of_variant(v) == engine for v in variants):
                variants.append(ENGINES[engine].default_variant)
        if "llama.cpp" in self.engines and max(self.batch_sizes) > 1:
            raise InvalidInputError(
                f"`batch_sizes` {list(self.batch_sizes)}: the llama.cpp engine generates one "
                "sequence per call here, so it is measured at batch 1 only. Use --batch 1, or "
                "measure larger batches with --engines transformers in a run of their own."
            )
        object.__setattr__(self, "variants", tuple(variants))

    def _item(self, name: str, value: Any) -> int:
        fix = {
            "seq_lens": "0 means prompts as written (generation).",
            "threads": "More threads than cores only oversubscribe them; torch crashes far beyond.",
        }.get(name, "")
        return checks.whole(
            name, value, _LIST_MINIMUM[name], _LIST_MAXIMUM[name], flag=flag_of(self, name), fix=fix
        )

    def points(self) -> list[dict[str, Any]]:
        """The grid, one dict per point, variants outermost (each is prepared once)."""
        grid = itertools.product(self.variants, self.threads, self.batch_sizes, self.seq_lens)
        return [
            {"engine": engine_of_variant(v), "variant": v, "threads": t, "batch": b, "seq_len": s}
            for v, t, b, s in grid
        ]

    def to_dict(self) -> dict[str, Any]:
        """Plain values (tuples become lists)."""
        data = asdict(self)
        return {k: list(v) if isinstance(v, tuple) else v for k, v in data.items()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BenchConfig:
        """The inverse of :meth:`to_dict`."""
        values = dict(data)
        values["policy"] = MeasurePolicy(**values.get("policy", {}))
        for name in ("engines", "variants", "batch_sizes", "seq_lens", "threads"):
            if name in values:
                values[name] = tuple(values[name])
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in known})


# Defaults that depend on the model's task (every other default is the field's own).
# Embeddings are served in batches, so their default sweep shows what batching buys (1 and 8);
# generation prompts are measured as written (seq_len 0), one at a time.
TASK_DEFAULTS: dict[str, dict[str, Any]] = {
    "embeddings": {"batch_sizes": (1, 8)},
    "text-generation": {"seq_lens": (0,)},
}


def defaults_for(task: str | None) -> dict[str, Any]:
    """The default of every :class:`BenchConfig` field that has one, for a model of ``task``.

    Parameters
    ----------
    task
        ``"embeddings"``, ``"text-generation"`` or ``None`` (unknown: the fields' own defaults).

    Returns
    -------
    dict
        Field name -> default; the CLI and the benchmark panel both start from these.
    """
    own = {name: default_of(BenchConfig, name) for name in specs(BenchConfig)}
    own = {name: value for name, value in own.items() if value is not MISSING}
    return {**own, **TASK_DEFAULTS.get(task or "", {})}


__all__ = ["TASK_DEFAULTS", "BenchConfig", "MeasurePolicy", "defaults_for"]
