"""One way to record a result: every result kind offers the same small protocol, and
:func:`record` saves it as a run.

A result kind (a benchmark, a cloud load test, a federated run, and the kinds to come) is a class
with a ``KIND`` name and three methods::

    class BenchResult:
        KIND = "bench"
        def tables(self) -> dict[str, pd.DataFrame]: ...   # what the run saves, by table name
        def summary(self) -> dict[str, Any]: ...           # headline values, one line in `runs list`
        @classmethod
        def from_run(cls, run: Run) -> BenchResult: ...    # rebuilt from a saved run

and is recorded with::

    with record(BenchResult, config, seed=0, label="minilm", save=save) as recording:
        for point in points:
            ...
            recording.save_tables({"points": partial})   # progress: a kill -9 keeps these
        result = BenchResult(...)
        recording.save(result)                            # every table and the summary

``save=False`` gives a recording that writes nothing, so callers need no second code path.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping
from typing import Any, ClassVar, Protocol, Self, runtime_checkable

import pandas as pd

from workbench.kit.errors import InvalidInputError
from workbench.kit.jsonvalues import json_ready
from workbench.runs.model import Run
from workbench.runs.store import RunRecorder, check_runs_dir, reopen_run, start_run


@runtime_checkable
class Recordable(Protocol):
    """A result kind the run store can save and rebuild."""

    KIND: ClassVar[str]

    def tables(self) -> dict[str, pd.DataFrame]:
        """The tables the run saves, by name (``a-z0-9_``)."""
        ...

    def summary(self) -> dict[str, Any]:
        """Headline values (JSON values; NaN becomes null)."""
        ...

    @classmethod
    def from_run(cls, run: Run) -> Self:
        """The result rebuilt from a saved run of this kind."""
        ...


class Recording:
    """An open run (or, with ``save=False``, a stand-in that writes nothing)."""

    def __init__(self, recorder: RunRecorder | None) -> None:
        self._recorder = recorder

    @property
    def id(self) -> str | None:
        """The run id, ``None`` when nothing is saved."""
        return self._recorder.id if self._recorder else None

    def save_tables(self, tables: Mapping[str, pd.DataFrame]) -> None:
        """Write these tables now (progress of a long run), replacing earlier ones of the same name."""
        if self._recorder is None:
            return
        for name, frame in tables.items():
            self._recorder.add_table(name, frame)

    def save_checkpoint(self, data: bytes) -> None:
        """Save what a later process needs to continue the run (one file, replaced at once)."""
        if self._recorder is not None:
            self._recorder.save_checkpoint(data)

    def fail_at_end(self, error: str) -> None:
        """End the run ``failed`` with ``error`` (one line) although the block ends normally:
        a result that was measured but says the measurement did not work."""
        if self._recorder is not None:
            self._recorder.fail_at_end(error)

    def save(self, result: Recordable) -> None:
        """Write every table and the summary of ``result`` and give it this run's id."""
        if self._recorder is None:
            return
        self.save_tables(result.tables())
        self._recorder.set_summary(**json_ready(result.summary()))
        if hasattr(result, "run_id"):
            result.run_id = self._recorder.id


@contextlib.contextmanager
def record(
    kind: type[Recordable],
    config: Any,
    *,
    save: bool = True,
    seed: int | None = None,
    label: str = "",
    runs_dir: str | os.PathLike[str] | None = None,
    environment_extra: Mapping[str, Any] | None = None,
) -> Iterator[Recording]:
    """Record a result of ``kind`` as a run (see the module docstring).

    The run is ``complete`` when the block ends normally and ``failed``, keeping every table saved
    so far, when it raises; an input error raised before anything was saved leaves no run at all
    (see :func:`workbench.runs.start_run`). ``save=False`` records nothing.

    Raises
    ------
    RunsDirError, InvalidInputError
        Before the block runs, as :func:`workbench.runs.start_run` does.
    """
    if not save:
        yield Recording(None)
        return
    with start_run(
        kind.KIND,
        config,
        seed=seed,
        label=label,
        runs_dir=runs_dir,
        environment_extra=environment_extra,
    ) as recorder:
        yield Recording(recorder)


@contextlib.contextmanager
def record_resumed(
    kind: type[Recordable], run_id: str, runs_dir: str | os.PathLike[str] | None = None
) -> Iterator[Recording]:
    """Continue recording the run ``run_id`` of ``kind`` that stopped before it ended.

    Raises
    ------
    RunNotFoundError, InvalidInputError
        For an unknown run, a run of another kind, a complete run or one still running.
    """
    from workbench.runs.store import load_run

    run = load_run(run_id, runs_dir)
    if run.kind != kind.KIND:
        raise InvalidInputError(
            f"Run {run.id} is a {run.kind!r} run; only {kind.KIND!r} runs can be continued here."
        )
    with reopen_run(run.id, runs_dir) as recorder:
        yield Recording(recorder)


def check_can_record(save: bool, runs_dir: str | os.PathLike[str] | None) -> None:
    """Refuse an unwritable runs folder before a long computation starts (nothing when not saving)."""
    if save:
        check_runs_dir(runs_dir)


__all__ = ["Recordable", "Recording", "check_can_record", "record", "record_resumed"]
