"""One module per benchmark task: what is task-specific in a sweep (inputs, the timed call,
quality drift). The sweep loop in :mod:`workbench.bench.runner` is the same for every task."""

from __future__ import annotations

from workbench.bench.config import BenchConfig
from workbench.bench.tasks.base import PreparedPoint, Task
from workbench.bench.tasks.embedding import EmbeddingTask
from workbench.bench.tasks.generation import GenerationTask
from workbench.models.runners import EmbeddingRunner, ModelRunner


def for_runner(reference: ModelRunner, config: BenchConfig) -> Task:
    """The task of ``reference``'s model, its lengths checked and its quality inputs ready.

    Raises
    ------
    InvalidInputError
        When ``config``'s lengths do not fit the model (nothing has been measured yet).
    """
    if isinstance(reference, EmbeddingRunner):
        return EmbeddingTask.for_runner(reference, config)
    return GenerationTask.for_runner(reference, config)


__all__ = ["EmbeddingTask", "GenerationTask", "PreparedPoint", "Task", "for_runner"]
