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
