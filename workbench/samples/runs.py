"""Sample runs for a first start: a short benchmark and a small federated simulation, made offline.

The decision dashboard needs a benchmark of the model its scenario serves, and the federated
dashboard a federated run. On a fresh machine there are none, so :func:`ensure_sample_runs`
makes them here, with the bundled model and no network: a short ``bench`` of ``smollm2-135m``
(transformers fp32 and int8 weight-only, and llama.cpp q4_1 on the model's GGUF file when
llama-cpp-python is installed, one point each: six timed calls of 8 new tokens, and the
agreement with fp32 over 8 prompts; about 40 s on 2 otherwise idle cores, twice that or more
when other work shares them, plus about 45 s the first time the model is unpacked) and a small
``federated`` simulation (30 clients, 10 rounds; about a second). The decision uses the fastest
engine+variant path whose agreement keeps within the scenario's tolerance.
They are ordinary runs, saved in the runs folder and listed by ``workbench runs list``.

No loopback-cloud run is made: the loopback cloud would serve the same model on the same CPU, so
its latency would describe this machine plus a simulated network, not a hosted API. The decision
dashboard models the cloud from the network profile instead, and uses a measured ``cloud`` run
when one is published with it.

``workbench samples`` makes them from a terminal; it is safe to call any number of times.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from workbench.kit.errors import InvalidInputError
from workbench.samples.config import LOCK_FILE, SAMPLE_KINDS, SampleSettings


def usable_runs(
    runs_dir: str | os.PathLike[str] | None = None, settings: SampleSettings | None = None
) -> dict[str, str | None]:
    """The newest complete run that can stand for each sample kind, or ``None`` when there is none.

    A ``bench`` run counts when it measured the sample benchmark's model and each of its
    variants (fp32, the faster ones the decision may pick, llama.cpp q4_1 where that engine is
    installed; any other settings), so a runs folder with a sample from an earlier version that
    lacks one gets the new one. Any complete
    ``federated`` run counts.

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
        if summary.kind == "bench" and not _measured(summary.summary, settings):
            continue
        found[summary.kind] = summary.id
    return found


def _measured(summary: dict, settings: SampleSettings) -> bool:
    """Whether a bench run's summary covers the sample benchmark's model and variants (runs
    saved before summaries listed their variants name only the fastest)."""
    variants = summary.get("variants") or [summary.get("fastest_variant")]
    return summary.get("model") == settings.bench.model and set(settings.bench.variants) <= set(
        variants
    )


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
