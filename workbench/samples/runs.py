"""Sample runs for a first start: a short benchmark and a small federated simulation, made offline.

The decision dashboard needs a benchmark of the model its scenario serves, and the federated
dashboard a federated run. On a fresh machine there are none, so :func:`ensure_sample_runs`
makes them here, with the bundled model and no network: a short ``bench`` of ``smollm2-135m``
(one point, a few calls of 8 new tokens; about 30 s on 2 cores, plus about 45 s the first time the
model is unpacked) and a small ``federated`` simulation (30 clients, 10 rounds; about a second).
They are ordinary runs, saved in the runs folder and listed by ``workbench runs list``.

No loopback-cloud run is made: the loopback cloud would serve the same model on the same CPU, so
its latency would describe this machine plus a simulated network, not a hosted API. The decision
dashboard models the cloud from the network profile instead, and uses a measured ``cloud`` run
when one is published with it.

``workbench samples`` makes them from a terminal; it is safe to call any number of times.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbench.bench.config import BenchConfig, MeasurePolicy
from workbench.federated.config import FedConfig
from workbench.kit.errors import InvalidInputError

SAMPLE_KINDS = ("bench", "federated")
SAMPLE_LABEL = "sample"
LOCK_FILE = ".sample-runs.lock"  # a dot file: the run store skips it


def _help(text: str) -> dict[str, str]:
    return {"help": text}


def _sample_bench() -> BenchConfig:
    return BenchConfig(
        model="smollm2-135m",
        seq_lens=(32,),
        max_new_tokens=8,
        quality_items=1,
        policy=MeasurePolicy(warmup=1, min_iters=5, min_seconds=0.0, max_seconds=20.0),
    )


def _sample_federated() -> FedConfig:
    # Uneven labels and a deadline that the slowest phones miss: the dashboard then has
    # stragglers and dropouts to show, and a reason to rerun with other settings.
    return FedConfig(
        clients=30,
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

    bench: BenchConfig = field(
        default_factory=_sample_bench,
        metadata=_help("the sample benchmark: one point of the model the decision scenario serves"),
    )
    federated: FedConfig = field(
        default_factory=_sample_federated,
        metadata=_help("the sample federated simulation"),
    )
    bench_seconds: float = field(
        default=30.0, metadata=_help("about how long the sample benchmark takes on 2 cores")
    )
    first_load_seconds: float = field(
        default=45.0,
        metadata=_help("about how long the model's first load takes (unpacking it once)"),
    )
    federated_seconds: float = field(
        default=1.0, metadata=_help("about how long the sample federated run takes")
    )

    def __post_init__(self) -> None:
        if not isinstance(self.bench, BenchConfig):
            raise InvalidInputError(f"`bench` must be a BenchConfig, got {self.bench!r}.")
        if not isinstance(self.federated, FedConfig):
            raise InvalidInputError(f"`federated` must be a FedConfig, got {self.federated!r}.")

    @classmethod
    def for_model(cls, model: str, **changes: Any) -> SampleSettings:
        """The default settings with the sample benchmark measuring ``model`` instead."""
        default = cls()
        return cls(bench=dataclasses.replace(default.bench, model=model), **changes)

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
                f"a federated simulation of {config.clients} clients over {config.rounds} rounds"
            )
        usual, first = self.expected_seconds(kinds)
        when = f"about {usual:.0f} s" if usual >= 2 else "about a second"
        if first > usual:
            when += f" (about {first:.0f} s the first time, while the model is unpacked)"
        return f"{' and '.join(parts)}, {when}"


# ---------------------------------------------------------------------------------------------
# Finding and making


def usable_runs(
    runs_dir: str | os.PathLike[str] | None = None, settings: SampleSettings | None = None
) -> dict[str, str | None]:
    """The newest complete run that can stand for each sample kind, or ``None`` when there is none.

    A ``bench`` run counts when it measured the sample benchmark's model (any settings); any
    complete ``federated`` run counts.

    Returns
    -------
    dict
        ``{"bench": run id or None, "federated": run id or None}``.
    """
    from workbench import runs

    settings = settings if settings is not None else SampleSettings()
    found: dict[str, str | None] = dict.fromkeys(SAMPLE_KINDS)
    for summary in reversed(runs.list_runs(runs_dir)):  # newest first
        if summary.status != "complete" or summary.kind not in found or found[summary.kind]:
            continue
        if summary.kind == "bench" and summary.summary.get("model") != settings.bench.model:
            continue
        found[summary.kind] = summary.id
    return found


def ensure_sample_runs(
    runs_dir: str | os.PathLike[str] | None = None,
    *,
    progress: bool = False,
    kinds: Sequence[str] = SAMPLE_KINDS,
    settings: SampleSettings | None = None,
    on_step: Callable[[str], None] | None = None,
) -> list[str]:
    """Make the sample runs of ``kinds`` that the runs folder lacks; return the new run ids.

    Idempotent: a kind that already has a usable run (:func:`usable_runs`) is skipped, so a second
    call makes nothing and returns ``[]``. Two processes calling it at once (two browser tabs on a
    first start) take turns on a lock file in the runs folder, so the samples are made once.

    Parameters
    ----------
    runs_dir
        The runs folder; ``None`` means ``$WORKBENCH_RUNS_DIR`` or ``./runs``.
    progress
        Show progress bars (for a terminal).
    kinds
        Which samples: ``"bench"`` (for the decision dashboard), ``"federated"``, or both.
    settings
        What the samples measure (smaller settings make tests fast).
    on_step
        Called with one sentence as each sample starts (for a dashboard's loading line).

    Returns
    -------
    list of str
        The ids of the runs made, in the order of ``kinds``.

    Raises
    ------
    InvalidInputError
        For an unknown kind.
    RunsDirError
        When the runs folder cannot be written.
    """
    from workbench import runs

    unknown = [k for k in kinds if k not in SAMPLE_KINDS]
    if unknown:
        raise InvalidInputError(
            f"`kinds` must name sample kinds among {', '.join(SAMPLE_KINDS)}, got "
            f"{', '.join(map(repr, unknown))}."
        )
    settings = settings if settings is not None else SampleSettings()
    root = runs.check_runs_dir(runs_dir)
    made: list[str] = []
    with _locked(root / LOCK_FILE):
        found = usable_runs(root, settings)
        wanted = [k for k in SAMPLE_KINDS if k in kinds and found[k] is None]
        for number, kind in enumerate(wanted, start=1):
            step = f"({number} of {len(wanted)})" if len(wanted) > 1 else ""
            if on_step is not None:
                on_step(f"{settings.describe([kind])} {step}".strip())
            made.append(_MAKERS[kind](root, settings, progress))
    return made


def _make_bench(root: Path, settings: SampleSettings, progress: bool) -> str:
    from workbench.bench.runner import run_benchmark

    return str(run_benchmark(settings.bench, runs_dir=root, progress=progress).run_id)


def _make_federated(root: Path, settings: SampleSettings, progress: bool) -> str:
    from workbench.federated.runner import run_federated

    return str(run_federated(settings.federated, runs_dir=root, progress=progress).run_id)


_MAKERS: dict[str, Callable[[Path, SampleSettings, bool], str]] = {
    "bench": _make_bench,
    "federated": _make_federated,
}


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


__all__ = ["SAMPLE_KINDS", "SampleSettings", "ensure_sample_runs", "usable_runs"]
