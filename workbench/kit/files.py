"""Atomic file writes: a reader sees the old file or the new one, never half of one."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def atomic_write_text(path: Path, text: str, *, newline: str | None = None) -> None:
    """Write ``text`` to ``path`` through a temporary file in the same folder and a rename.

    Parameters
    ----------
    path
        The file to create or replace; its folder is created when missing.
    text
        The whole new content.
    newline
        As for :func:`open`: ``None`` translates ``"\\n"`` to the platform's line ending, ``""``
        writes the text exactly as given (what CSV text with quoted line breaks needs).
    """
    _atomic_write(Path(path), "w", text, encoding="utf-8", newline=newline)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` the same way as :func:`atomic_write_text`."""
    _atomic_write(Path(path), "wb", data)


def _atomic_write(path: Path, mode: str, content: str | bytes, **open_args: str | None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, mode, **open_args) as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
