"""What every benchmark task offers the sweep loop, and the inputs they share."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from workbench.bench.measure import Timings
from workbench.bench.variants import Variant
from workbench.models.inputs import sample_sentences
from workbench.models.runners import ModelRunner

Row = dict[str, Any]


@dataclass(frozen=True)
class PreparedPoint:
    """One point ready to measure: the call to time, and how its timings become a row.

    ``summarise`` returns the point's row (units in the column names) and one sample per timed
    call.
    """

    call: Callable[[], Any]
    summarise: Callable[[Timings], tuple[Row, list[Row]]]


class Task(Protocol):
    """What is task-specific in a sweep: the inputs, the timed call and the quality drift."""

    def drift(self, runner: ModelRunner) -> dict[str, float]:
        """Quality drift of ``runner`` (a variant) against the fp32 reference, on fixed inputs."""
        ...

    def prepare(
        self, runner: ModelRunner, variant: Variant, point: dict[str, Any]
    ) -> PreparedPoint:
        """The inputs of ``point`` built, and the call that measures them."""
        ...


def cycle(items: list[str], count: int) -> list[str]:
    """``count`` items, repeating ``items`` from the start as often as needed."""
    return [items[i % len(items)] for i in range(count)]


def long_text(sentences: int) -> str:
    """A text of ``sentences`` sample sentences: long enough to truncate to any token count."""
    return " ".join(cycle(sample_sentences(), sentences))


__all__ = ["PreparedPoint", "Row", "Task", "cycle", "long_text"]
