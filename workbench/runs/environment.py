"""Where a run ran: the machine, Python, key library versions and the project's git state.

Read once per run and saved in its ``run.json``, so two runs can be told apart by what they ran
on. Nothing here reads environment variables, so no credential can end up in a saved run.
"""

from __future__ import annotations

import importlib.metadata
import os
import platform
import subprocess
from pathlib import Path
from typing import Any

from workbench.kit.paths import REPO_ROOT

# Versions recorded in every run, when installed; read from package metadata, never imported.
LIBRARIES = (
    "torch",
    "transformers",
    "numpy",
    "pandas",
    "tokenizers",
    "sentence-transformers",
    "flwr",
    "ray",
    "voila",
    "ipywidgets",
)
GIT_TIMEOUT_S = 30


def environment() -> dict[str, Any]:
    """Where a run ran: machine, Python, key library versions and the project's git revision.

    Never reads environment variables, so no credential can end up in a saved run.

    Returns
    -------
    dict
        ``cpu_model``, ``logical_cores``, ``torch_threads`` (``None`` without torch), ``os``,
        ``machine``, ``python``, ``libraries`` (name to version, installed ones only),
        ``git_revision`` and ``git_dirty`` (both ``None`` outside a git checkout).
    """
    revision, dirty = git_state(REPO_ROOT)
    return {
        "cpu_model": _cpu_model(),
        "logical_cores": os.cpu_count(),
        "torch_threads": _torch_threads(),
        "os": platform.platform(),
        "machine": platform.machine(),
        "python": platform.python_version(),
        "libraries": _library_versions(),
        "git_revision": revision,
        "git_dirty": dirty,
    }


def git_state(root: Path) -> tuple[str | None, bool | None]:
    """HEAD's commit and whether the work tree differs from it; ``(None, None)`` if no checkout."""
    try:
        top, head = _git(root, "rev-parse", "--show-toplevel", "HEAD").splitlines()
        # An installed copy inside some other repository must not report that repository.
        if Path(top).resolve() != root.resolve():
            return None, None
        return head, bool(_git(root, "status", "--porcelain").strip())
    except (OSError, ValueError, subprocess.SubprocessError):
        return None, None


def _cpu_model() -> str | None:
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name" and value.strip():
                return value.strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or None


def _torch_threads() -> int | None:
    try:
        import torch
    except Exception:  # not installed, or a broken install: the run is still worth recording
        return None
    return int(torch.get_num_threads())


def _library_versions() -> dict[str, str]:
    versions = {}
    for name in LIBRARIES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return versions


def _git(root: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", *args], cwd=root, capture_output=True, text=True, timeout=GIT_TIMEOUT_S, check=True
    )
    return done.stdout


__all__ = ["LIBRARIES", "environment", "git_state"]
