"""A watchdog that takes a local Ray head down with the process that started it.

``ray start --head --block`` dies with its parent (a parent-death signal), and so do the GCS and
the raylet it starts; the processes *they* start (dashboard and runtime-env agents, workers) do
not, and a killed workbench used to leave them running under PID 1 with their ``wb-ray-*``
folder. This script is started beside the head with a pipe on its stdin that only the workbench
holds: when the workbench ends, however it ends (``kill -9`` included), the pipe closes, and the
script kills the head's process group and every process whose command line names the head's temp
folder, then removes that folder.

It imports the standard library only and runs by path (``python ray_reaper.py``), so it starts in
a moment and does not import the workbench. :func:`reap` is also what cleans stale folders at
the next start (see :mod:`.ray_cluster`).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import sys
import time
from pathlib import Path

OWNER_FILE = "wb-owner"  # in a wb-ray-* folder: "<pid> <process start ticks>" of the workbench
GRACE_S = 2.0


def processes_naming(folder: str) -> list[int]:
    """The pids (other than this one) whose command line mentions ``folder``."""
    needle = os.fsencode(folder)
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        with contextlib.suppress(OSError):
            if needle in (entry / "cmdline").read_bytes():
                found.append(int(entry.name))
    return found


def reap(folder: str, group: int | None = None) -> None:
    """Stop every process of the Ray head in ``folder`` (and its process ``group``), then remove
    the folder. SIGTERM first, SIGKILL to what is left after :data:`GRACE_S`."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        if group is not None and group > 1:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(group, sig)
        for pid in processes_naming(folder):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, sig)
        if sig == signal.SIGTERM:
            deadline = time.monotonic() + GRACE_S
            while time.monotonic() < deadline and processes_naming(folder):
                time.sleep(0.1)
    shutil.rmtree(folder, ignore_errors=True)


def process_ticks(pid: int) -> int | None:
    """When ``pid`` started, in clock ticks since boot (``None``: no such process)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return int(stat.rpartition(")")[2].split()[19])
    except (OSError, ValueError, IndexError):
        return None


def write_owner(folder: str, pid: int) -> None:
    """Mark ``folder`` as belonging to process ``pid``, so a later start can tell it is stale."""
    Path(folder, OWNER_FILE).write_text(f"{pid} {process_ticks(pid)}\n", encoding="ascii")


def owner_is_gone(folder: str) -> bool:
    """Whether the process that made ``folder`` has ended (a folder without an owner file, from
    an older version or being made right now, is never called stale)."""
    try:
        pid_text, ticks_text = Path(folder, OWNER_FILE).read_text(encoding="ascii").split()
        pid = int(pid_text)
    except (OSError, ValueError):
        return False
    now = process_ticks(pid)
    return now is None or (ticks_text != "None" and str(now) != ticks_text)


def main(argv: list[str]) -> int:
    """``ray_reaper.py FOLDER GROUP``: wait for stdin to close, then :func:`reap`."""
    folder, group = argv[0], int(argv[1])
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C in a terminal is for the workbench
    with contextlib.suppress(OSError):
        while sys.stdin.buffer.read(4096):
            pass
    reap(folder, group)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
