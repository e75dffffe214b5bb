"""Errors that the workbench shows to people.

Every error raised on purpose is a :class:`WorkbenchError` whose message is one paragraph that
names the field or file at fault and says how to fix it. The CLI prints it without a traceback and
the widget panels show it in place of a result.
"""

from __future__ import annotations


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


def describe(exc: BaseException) -> str:
    """The one paragraph to show a person for any exception, never a traceback.

    A :class:`WorkbenchError` speaks for itself; anything else is named as unexpected, with the
    way to get the details.
    """
    if isinstance(exc, WorkbenchError):
        return str(exc)
    return (
        f"Unexpected {type(exc).__name__}: {exc}. This is a bug in the workbench or a library it "
        "uses; run the same step with the CLI's --debug flag (or in a notebook cell) for the full "
        "traceback, and report it."
    )


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
