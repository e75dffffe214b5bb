"""Where the workbench finds its data and keeps its caches."""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

PACKAGE_DIR = Path(str(resources.files("workbench")))
# The checkout the package runs from, when it does: its git revision is recorded with each run.
REPO_ROOT = PACKAGE_DIR.parent


def data_dir() -> Path:
    """The folder of catalogs and samples: ``$WORKBENCH_DATA_DIR``, else the catalogs that ship
    inside the package (``workbench/data/``; a checkout's top-level ``data/`` links to them)."""
    return Path(os.environ.get("WORKBENCH_DATA_DIR") or PACKAGE_DIR / "data")


def cache_dir() -> Path:
    """The workbench's own cache: ``$WORKBENCH_CACHE_DIR``, else ``$XDG_CACHE_HOME/workbench``.

    It holds converted GGUF models and the checksums of weight files; deleting it is always safe.
    """
    explicit = os.environ.get("WORKBENCH_CACHE_DIR")
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(xdg) / "workbench"
