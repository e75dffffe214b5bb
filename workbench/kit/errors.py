"""Errors that the workbench shows to people.

Every error raised on purpose is a :class:`WorkbenchError` whose message is one paragraph that
names the field or file at fault and says how to fix it. The CLI prints it without a traceback and
the widget panels show it in place of a result.
"""

from __future__ import annotations

import errno

from workbench.kit.urls import redact_urls


class WorkbenchError(Exception):
    """A problem the user can fix; its message says what and how."""


class ModelNotFoundError(WorkbenchError):
    """A model name, path or hub id that does not lead to a model on this machine."""


class InvalidModelError(WorkbenchError):
    """A model that was found but cannot be loaded as it is (corrupt, unsupported, incomplete)."""


class UnsafeModelError(WorkbenchError):
    """A model that would run untrusted code or unpickle data, refused until the user opts in."""


class InvalidInputError(WorkbenchError, ValueError):
    """An argument outside its accepted range."""


#: The command line's exit statuses: success, an unexpected failure (a bug: rerun with
#: ``--debug``), bad input or usage (the user can fix it), and Ctrl-C (128 + SIGINT, as shells do).
EXIT_OK, EXIT_FAILURE, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


def exit_status(exc: BaseException) -> int:
    """The exit status for ``exc``: :data:`EXIT_USAGE` for a problem the user can fix (a
    :class:`WorkbenchError`, or a known problem of the machine or its files that
    :func:`describe` names), :data:`EXIT_INTERRUPTED` for Ctrl-C, else :data:`EXIT_FAILURE`."""
    if isinstance(exc, KeyboardInterrupt):
        return EXIT_INTERRUPTED
    if isinstance(exc, WorkbenchError) or _environment_problem(exc):
        return EXIT_USAGE
    return EXIT_FAILURE


def describe(exc: BaseException) -> str:
    """The one paragraph to show a person for any exception, never a traceback.

    A :class:`WorkbenchError` speaks for itself; anything else is named as unexpected, with the
    way to get the details. A URL's ``user:password@`` never reaches the screen.
    """
    if isinstance(exc, WorkbenchError):
        return redact_urls(str(exc))
    known = _environment_problem(exc)
    if known:
        return known
    return redact_urls(
        f"Unexpected {type(exc).__name__}: {exc}. This is a bug in the workbench or a library it "
        "uses; run the same step with the CLI's --debug flag (or in a notebook cell) for the full "
        "traceback, and report it."
    )


def _environment_problem(exc: BaseException) -> str:
    """The message for a problem of the machine or its files rather than of the workbench:
    a symlink loop, a file that is a folder or cannot be read, text that is not UTF-8, no memory.
    The checks of each command catch these where they can; this names those that slip through."""
    if isinstance(exc, RuntimeError) and str(exc).startswith("Symlink loop from"):
        path = str(exc).removeprefix("Symlink loop from").strip()
        return (
            f"The path {path} is a symbolic link that points back to itself (a symlink loop), "
            "so it leads to no file; fix or remove the link and give the real path."
        )
    if isinstance(exc, OSError) and exc.errno == errno.ELOOP:
        return (
            f"The path {exc.filename} is a symbolic link that points back to itself (a symlink "
            "loop), so it leads to no file; fix or remove the link and give the real path."
        )
    if isinstance(exc, IsADirectoryError | NotADirectoryError | PermissionError):
        what = {
            IsADirectoryError: "is a folder where a file is needed",
            NotADirectoryError: "is under a file, not a folder",
            PermissionError: "cannot be used (permission denied)",
        }[type(exc)]
        return f"The path {exc.filename} {what}; give another path or fix its permissions."
    if isinstance(exc, UnicodeDecodeError):
        return (
            f"A file given to this command is not UTF-8 text ({exc.reason} at byte "
            f"{exc.start}); save it as UTF-8 and try again."
        )
    if isinstance(exc, MemoryError):
        return (
            "This machine ran out of memory; ask for less at once (a smaller --batch, "
            "--seq-len, --requests or --num-clients) and try again."
        )
    return ""


class RunsDirError(WorkbenchError):
    """A runs directory that cannot hold runs: a file, under a file, or not writable."""


class RunNotFoundError(WorkbenchError, LookupError):
    """A run id (or id prefix) that names no run in the runs directory."""


class AmbiguousRunIdError(RunNotFoundError):
    """A run id prefix that matches more than one run."""


class CorruptRunError(WorkbenchError):
    """A run folder whose ``run.json`` or table files cannot be read back as they were written.

    ``reason`` is the short form for lists: the file's name and what is wrong with it.
    """

    def __init__(self, message: str, reason: str = "") -> None:
        super().__init__(message)
        self.reason = reason or message


class TableNotFoundError(WorkbenchError, LookupError):
    """A result table that a run does not have."""


class DeviceNotFoundError(WorkbenchError, LookupError):
    """A device name that is not in the device catalog (``data/devices.csv``)."""
