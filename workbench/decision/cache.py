"""Decisions and their charts kept on disk, so that pages on the same inputs share the work.

A workshop opens one published decision dashboard thirty times: thirty kernels price the same
options on the same runs at the same workload, simulate the same routing and draw the same five
charts, each taking seconds of a shared 2-core machine. The first one to finish keeps its result
here and the others read it (a few milliseconds); a slider move that another page has already
made is read too. Pages that ask for the same decision at the same moment take turns
(:func:`computing`): one computes, the others wait and read it.

The key is a digest of everything a decision is computed from: the scenario with its workload
and run references, the simulation's request count, the day price ages are counted to, whether
routing was simulated, the workbench version, and the name, size and modification time of every
file in the runs folder and in the data catalogs (prices, devices, evaluations). A new run, an
edited price row or a new day is a new key, so a kept decision is never shown for inputs it was
not computed from. Entries are written atomically and the oldest are pruned past
:data:`MAX_ENTRIES`; the folder (``decisions/`` in :func:`workbench.kit.paths.cache_dir`) is
safe to delete. Where it cannot be written, decisions are computed as if nothing were kept.
"""

from __future__ import annotations

import contextlib
import datetime
import fcntl
import hashlib
import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from workbench import __version__
from workbench.decision.result import Decision
from workbench.decision.scenario_config import Scenario
from workbench.kit.files import atomic_write_bytes, atomic_write_text
from workbench.kit.jsonvalues import json_ready
from workbench.kit.paths import cache_dir, data_dir
from workbench.runs import resolve_runs_dir

#: Bump when what a cached decision holds changes shape (old entries are then never read).
CACHE_FORMAT = 1
#: Entries (decisions and charts) kept; the least recently written beyond this are removed.
MAX_ENTRIES = 400
#: Files listed per folder when fingerprinting it (a runs folder bigger than this still works:
#: its listing is then fingerprinted by the folder's own modification times beyond the limit).
_MAX_FILES = 20_000


def decisions_dir() -> Path:
    """Where decisions are kept: ``decisions/`` in the workbench's cache folder."""
    return cache_dir() / "decisions"


def decision_key(
    scenario: Scenario,
    runs_dir: str | os.PathLike[str] | None,
    *,
    requests: int,
    today: datetime.date | None,
    routing: bool,
) -> str:
    """The digest of every input of :func:`workbench.decision.decide` for this scenario."""
    day = today or datetime.date.today()
    inputs = {
        "format": CACHE_FORMAT,
        "workbench": __version__,
        "scenario": json_ready(scenario.to_dict()),
        "requests": int(requests),
        "today": day.isoformat(),
        "routing": bool(routing),
        "runs": _fingerprint(resolve_runs_dir(runs_dir)),
        "data": _fingerprint(data_dir()),
    }
    text = json.dumps(inputs, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:40]


def _fingerprint(folder: Path) -> list[Any]:
    """Name, size and modification time of every file below ``folder`` (sorted)."""
    rows: list[Any] = [str(folder.absolute())]
    for count, (root, dirs, files) in enumerate(os.walk(folder)):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            try:
                stat = os.stat(os.path.join(root, name))
            except OSError:
                continue  # gone while listing: the next key sees the folder as it is then
            rows.append(
                (os.path.relpath(os.path.join(root, name), folder), stat.st_size, stat.st_mtime_ns)
            )
        if count > _MAX_FILES:
            rows.append(("…", os.stat(root).st_mtime_ns))
            break
    return rows


def load_decision(key: str) -> Decision | None:
    """The decision kept under ``key``, or ``None`` (none kept, or unreadable)."""
    path = decisions_dir() / f"{key}.json"
    try:
        return Decision.from_dict(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def keep_decision(key: str, decision: Decision) -> None:
    """Keep ``decision`` under ``key`` (atomically; nothing happens where it cannot be written)."""
    text = json.dumps(json_ready(decision.to_dict()))
    _write(decisions_dir() / f"{key}.json", lambda path: atomic_write_text(path, text))


def kept_chart(key: str, name: str, fmt: str) -> bytes | None:
    """Chart ``name`` of the decision kept under ``key``, or ``None`` when none is kept."""
    try:
        return (decisions_dir() / f"{key}.{name}.{fmt}").read_bytes()
    except OSError:
        return None


def chart_bytes(key: str, name: str, fmt: str, draw: Callable[[], bytes]) -> bytes:
    """Chart ``name`` of the decision kept under ``key``: read, or drawn and kept."""
    data = kept_chart(key, name, fmt)
    if data is None:
        data = draw()
        path = decisions_dir() / f"{key}.{name}.{fmt}"
        _write(path, lambda target: atomic_write_bytes(target, data))
    return data


@contextlib.contextmanager
def computing(key: str) -> Iterator[None]:
    """Hold the right to compute the decision ``key`` (other pages on the same inputs wait, then
    read what it kept, instead of computing it beside it). Released when the block ends, or when
    the process dies; where the cache cannot be written, nothing is held."""
    try:
        folder = decisions_dir()
        folder.mkdir(parents=True, exist_ok=True)
        handle = (folder / f"{key}.lock").open("a")
    except OSError:
        yield
        return
    with handle:
        fcntl.flock(handle, fcntl.LOCK_EX)  # released by closing (or by the process ending)
        yield


def _write(path: Path, write: Callable[[Path], None]) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write(path)
    except OSError:
        return  # a read-only cache: computed each time, as without one
    _prune(path.parent)


def _prune(folder: Path) -> None:
    """Remove the oldest entries beyond :data:`MAX_ENTRIES`."""
    try:
        entries = sorted(folder.iterdir(), key=lambda p: p.stat().st_mtime_ns)
    except OSError:
        return
    for old in entries[: max(len(entries) - MAX_ENTRIES, 0)]:
        with contextlib.suppress(OSError):  # another page pruned it first
            old.unlink()


__all__ = [
    "CACHE_FORMAT",
    "MAX_ENTRIES",
    "chart_bytes",
    "computing",
    "decision_key",
    "decisions_dir",
    "keep_decision",
    "kept_chart",
    "load_decision",
]
