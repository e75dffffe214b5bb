"""Where the workbench finds its data and keeps its caches."""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def data_dir() -> Path:
    """The folder of catalogs and samples: ``$WORKBENCH_DATA_DIR`` or the project's ``data/``."""
    return Path(os.environ.get("WORKBENCH_DATA_DIR") or REPO_ROOT / "data")


def cache_dir() -> Path:
    """The workbench's own cache: ``$WORKBENCH_CACHE_DIR``, else ``$XDG_CACHE_HOME/workbench``.

    It holds converted GGUF models and the checksums of weight files; deleting it is always safe.
    """
    explicit = os.environ.get("WORKBENCH_CACHE_DIR")
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(xdg) / "workbench"
