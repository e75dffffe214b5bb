"""Benchmark configuration: typed, self-validating, expandable into a grid of points."""

from __future__ import annotations

import itertools
import os
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from workbench.kit.errors import InvalidInputError


def _help(text: str) -> dict[str, str]:
    return {"help": text}


@dataclass(frozen=True)
class MeasurePolicy:
    """When to stop measuring: after warm-up, once both minimums are met, or at the maximum."""

    warmup: int = field(default=2, metadata=_help("untimed calls before measuring"))
    min_iters: int = field(default=10, metadata=_help("measure at least this many calls"))
    min_seconds: float = field(default=1.0, metadata=_help("and for at least this long"))
    max_seconds: float = field(default=30.0, metadata=_help("but never longer than this"))

    def __post_init__(self) -> None:
        _whole(self, "warmup", 0)
        _whole(self, "min_iters", 1)
        if not self.min_seconds >= 0:
            raise InvalidInputError(f"`min_seconds` must be >= 0, got {self.min_seconds}.")
        if not self.max_seconds > 0:
            raise InvalidInputError(f"`max_seconds` must be > 0, got {self.max_seconds}.")
        if self.min_seconds > self.max_seconds:
            raise InvalidInputError(
                f"`min_seconds` ({self.min_seconds}) is above `max_seconds` ({self.max_seconds}): "
                "raise --max-seconds or lower --min-seconds."
            )


@dataclass(frozen=True)
class BenchConfig:
    """A benchmark sweep: every combination of variant, threads, batch size and length."""

    model: str = field(metadata=_help("catalog alias, folder, .gguf file or cached hub id"))
    variants: tuple[str, ...] = field(
        default=("fp32",), metadata=_help("variants to compare; fp32 is the quality reference")
    )
    batch_sizes: tuple[int, ...] = field(default=(1,), metadata=_help("items per call"))
    seq_lens: tuple[int, ...] = field(
        default=(32,),
        metadata=_help(
            "tokens per text (embeddings) or prompt tokens (generation, 0 = as written)"
        ),
    )
    threads: tuple[int, ...] = field(
        default_factory=lambda: (os.cpu_count() or 1,), metadata=_help("torch CPU threads")
    )
    max_new_tokens: int = field(default=32, metadata=_help("tokens generated per call"))
    policy: MeasurePolicy = field(default_factory=MeasurePolicy)
    quality_items: int = field(
        default=8, metadata=_help("texts or prompts used to measure quality drift against fp32")
    )
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("variants", "batch_sizes", "seq_lens", "threads"):
            value = getattr(self, name)
            if isinstance(value, (str, int)):
                object.__setattr__(self, name, (value,))
            if not getattr(self, name):
                raise InvalidInputError(f"{_named(name)} is empty: give at least one value.")
        for size in self.batch_sizes:
            _positive("batch_sizes", size)
        for length in self.seq_lens:
            if isinstance(length, bool) or not isinstance(length, int) or length < 0:
                raise InvalidInputError(
                    f"{_named('seq_lens')} values must be whole numbers >= 1 (0 = prompts as "
                    f"written), got {length!r}."
                )
        for count in self.threads:
            _positive("threads", count)
        _whole(self, "max_new_tokens", 1)
        _whole(self, "quality_items", 1)
        if len(set(self.variants)) != len(self.variants):
            raise InvalidInputError(
                f"`variants` lists a variant twice: {', '.join(self.variants)}."
            )

    def points(self) -> list[dict[str, Any]]:
        """The grid, one dict per point, variants outermost (each is prepared once)."""
        grid = itertools.product(self.variants, self.threads, self.batch_sizes, self.seq_lens)
        return [{"variant": v, "threads": t, "batch": b, "seq_len": s} for v, t, b, s in grid]

    def to_dict(self) -> dict[str, Any]:
        """Plain values (tuples become lists)."""
        data = asdict(self)
        return {k: list(v) if isinstance(v, tuple) else v for k, v in data.items()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BenchConfig:
        """The inverse of :meth:`to_dict`."""
        values = dict(data)
        values["policy"] = MeasurePolicy(**values.get("policy", {}))
        for name in ("variants", "batch_sizes", "seq_lens", "threads"):
            if name in values:
                values[name] = tuple(values[name])
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in known})


# The CLI flag of each field, so one message serves Python, the CLI and the panel.
FLAGS = {
    "batch_sizes": "--batch",
    "seq_lens": "--seq-len",
    "threads": "--threads",
    "max_new_tokens": "--max-new-tokens",
    "quality_items": "--quality-items",
    "warmup": "--warmup",
    "min_iters": "--min-iters",
}


def _named(name: str) -> str:
    return f"`{name}` ({FLAGS[name]})" if name in FLAGS else f"`{name}`"


def _positive(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidInputError(f"{_named(name)} values must be whole numbers >= 1, got {value!r}.")


def _whole(obj: Any, name: str, minimum: int) -> None:
    value = getattr(obj, name)
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise InvalidInputError(
            f"{_named(name)} must be a whole number >= {minimum}, got {value!r}."
        )


def parse_int_list(text: str, name: str) -> tuple[int, ...]:
    """``"1,8,32"`` as a tuple of ints, with an error naming the flag on bad input."""
    try:
        return tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise InvalidInputError(
            f"`{name}` must be comma-separated whole numbers like 1,8,32, got {text!r}."
        ) from None
