"""Which process owns an open run, and whether it is still there.

While a run is open, its folder holds ``owner.json`` (host, pid and the process's start time, so
a reused pid is not taken for the owner) and a ``heartbeat`` file touched every few seconds; both
go when the run ends. They stay out of ``run.json``, which is published, so the host name never
leaves the machine. A run left ``incomplete`` whose
owner is gone (same host and no such process) or whose heartbeat has gone stale (another host
cannot see our processes) is listed as ``interrupted``: it will never finish on its own.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HEARTBEAT_FILE = "heartbeat"  # its modification time is the heartbeat
OWNER_FILE = "owner.json"  # the process that holds the run open
HEARTBEAT_S = 10.0  # how often an open run touches it
STALE_HEARTBEATS = 6  # a heartbeat older than this many intervals means the owner is gone


@dataclass(frozen=True)
class ProcessOwner:
    """A process, told apart from a later process that reuses its pid by its start time."""

    host: str
    pid: int
    process_started: float | None  # seconds since the epoch; None where it cannot be read

    def to_dict(self) -> dict[str, Any]:
        """Plain values, as ``owner.json`` holds them."""
        return {"host": self.host, "pid": self.pid, "process_started": self.process_started}

    @classmethod
    def from_dict(cls, data: Any) -> ProcessOwner | None:
        """The owner saved by :meth:`to_dict`; ``None`` for a folder without one."""
        if not isinstance(data, dict):
            return None
        host, pid, started = data.get("host"), data.get("pid"), data.get("process_started")
        if not isinstance(host, str) or not isinstance(pid, int) or isinstance(pid, bool):
            return None
        if not isinstance(started, int | float) or isinstance(started, bool):
            started = None
        return cls(host, pid, None if started is None else float(started))

    def is_gone(self) -> bool:
        """Whether this process has certainly ended: same host and no live process that matches.

        On another host nothing can be told (``False``); the heartbeat decides there.
        """
        if self.host != socket.gethostname():
            return False
        started = process_start_time(self.pid)
        if started is None:
            return not _pid_exists(self.pid)
        # Start times from /proc are exact to the clock tick; allow for rounding.
        return self.process_started is not None and abs(started - self.process_started) > 1.0


def current_owner() -> ProcessOwner:
    """This process."""
    return ProcessOwner(socket.gethostname(), os.getpid(), process_start_time(os.getpid()))


def process_start_time(pid: int) -> float | None:
    """When process ``pid`` started, in seconds since the epoch; ``None`` when there is no such
    process or the system does not say (only Linux's /proc is read)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        # Field 22 counts clock ticks since boot; fields after the parenthesised name start at 3.
        ticks = int(stat.rpartition(")")[2].split()[19])
        boot = _boot_time()
    except (OSError, ValueError, IndexError):
        return None
    if boot is None:
        return None
    return boot + ticks / os.sysconf("SC_CLK_TCK")


def _boot_time() -> float | None:
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/stat").read_text().splitlines():
            if line.startswith("btime "):
                return float(line.split()[1])
    return None


def _pid_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def heartbeat_age_s(folder: Path, now: float | None = None) -> float | None:
    """Seconds since the run in ``folder`` last showed a sign of life; ``None`` without a heartbeat."""
    try:
        touched = (folder / HEARTBEAT_FILE).stat().st_mtime
    except OSError:
        return None
    return (time.time() if now is None else now) - touched


def read_owner(folder: Path) -> ProcessOwner | None:
    """The process holding the run in ``folder`` open; ``None`` when none is recorded."""
    try:
        return ProcessOwner.from_dict(json.loads((folder / OWNER_FILE).read_text("utf-8")))
    except (OSError, ValueError):
        return None


def owner_is_gone(folder: Path) -> bool:
    """Whether the open run in ``folder`` has lost its process (see the module docstring).

    A run saved before owners were recorded has neither owner nor heartbeat: nothing is said.
    """
    owner = read_owner(folder)
    if owner is not None and owner.is_gone():
        return True
    age = heartbeat_age_s(folder)
    return age is not None and age > STALE_HEARTBEATS * HEARTBEAT_S


class Heartbeat:
    """This process's claim on an open run: ``owner.json``, and a daemon thread that touches
    ``heartbeat`` every :data:`HEARTBEAT_S` seconds."""

    def __init__(self, folder: Path, interval_s: float = HEARTBEAT_S) -> None:
        self._owner_file = folder / OWNER_FILE
        self._file = folder / HEARTBEAT_FILE
        self._interval_s = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="run-heartbeat", daemon=True)

    def start(self) -> Heartbeat:
        from workbench.kit.files import atomic_write_text

        atomic_write_text(self._owner_file, json.dumps(current_owner().to_dict()) + "\n")
        self._touch()
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop beating and remove both files: a finished run has no owner process."""
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)
        self._file.unlink(missing_ok=True)
        self._owner_file.unlink(missing_ok=True)

    def _beat(self) -> None:
        while not self._stop.wait(self._interval_s):
            self._touch()

    def _touch(self) -> None:
        # A full disk or a removed folder must not break the run it watches.
        with contextlib.suppress(OSError):
            self._file.touch()


__all__ = [
    "HEARTBEAT_FILE",
    "HEARTBEAT_S",
    "OWNER_FILE",
    "Heartbeat",
    "ProcessOwner",
    "current_owner",
    "heartbeat_age_s",
    "owner_is_gone",
    "process_start_time",
    "read_owner",
]
