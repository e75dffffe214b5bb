"""Files in and out: atomic writes (a reader sees the old file or the new one, never half of one)
and reads of text and TOML that turn every way a file can be wrong into one paragraph naming it."""

from __future__ import annotations

import errno
import os
import tempfile
from pathlib import Path
from typing import Any

from workbench.kit.errors import InvalidInputError


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


def read_text(path: str | os.PathLike[str], what: str, *, fix: str = "") -> str:
    """The UTF-8 text of the file ``path``, or one paragraph naming ``what`` it is and the fix.

    Parameters
    ----------
    path
        The file to read.
    what
        What the file is, for the message: ``"the config file (--config)"``.
    fix
        A sentence to add to the message of a file that is missing.

    Raises
    ------
    InvalidInputError
        For a missing file, a folder, a symlink loop, a file that cannot be read, or text that is
        not UTF-8 (naming the byte's position).
    """
    return _read(Path(path), what, fix).decode("utf-8", errors="strict")


def read_toml(path: str | os.PathLike[str], what: str, *, fix: str = "") -> dict[str, Any]:
    """The TOML table of the file ``path``, with the errors of :func:`read_text` and one for
    text that is not TOML (naming the line)."""
    import tomllib

    text = read_text(path, what, fix=fix)
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InvalidInputError(
            f"{_capital(what)} {path} is not valid TOML ({exc}); fix the line it names."
        ) from None


def _read(path: Path, what: str, fix: str) -> bytes:
    where = f"{_capital(what)} {path}"
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise InvalidInputError(f"{where} does not exist. {fix}".strip()) from None
    except IsADirectoryError:
        raise InvalidInputError(f"{where} is a folder; give the path of a file.") from None
    except PermissionError:
        raise InvalidInputError(
            f"{where} cannot be read (permission denied); check its permissions."
        ) from None
    except OSError as exc:
        raise InvalidInputError(f"{where} cannot be read: {os_reason(exc)}.") from None
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidInputError(
            f"{where} is not UTF-8 text (byte {data[exc.start]:#04x} at position {exc.start} "
            "cannot be read); save it as UTF-8 and try again."
        ) from None
    return data


def os_reason(exc: OSError) -> str:
    """What went wrong with a file, in words: a symlink loop is named as one."""
    if exc.errno == errno.ELOOP:
        return "it is a symbolic link that points back to itself (a symlink loop); fix the link"
    return exc.strerror or str(exc)


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]
