"""SHA-256 of weight files, remembered by (path, size, mtime) so a reload does not re-read them."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from workbench.kit.files import atomic_write_text
from workbench.kit.paths import cache_dir

_CHUNK = 1 << 22


def sha256_file(path: Path, *, remember: bool = True) -> str:
    """The hex SHA-256 of a file, from the cache when the file has not changed since."""
    path = Path(path).resolve()
    stat = path.stat()
    key = f"{path}|{stat.st_size}|{stat.st_mtime_ns}"
    store = cache_dir() / "sha256.json"
    known = _read(store) if remember else {}
    if key in known:
        return known[key]
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    value = digest.hexdigest()
    if remember:
        known = _read(store)
        known[key] = value
        atomic_write_text(store, json.dumps(known, indent=0, sort_keys=True))
    return value


def _read(store: Path) -> dict[str, str]:
    try:
        value = json.loads(store.read_text(encoding="utf-8"))
        return value if isinstance(value, dict) else {}
    except (OSError, ValueError):
        return {}


def folder_bytes(paths: list[Path]) -> int:
    """Total size on disk of some files."""
    return sum(os.path.getsize(p) for p in paths)
