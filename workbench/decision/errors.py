"""Errors of the decision room; each is a :class:`InvalidInputError` or a :class:`WorkbenchError`,
plus the one "did you mean" hint the room's messages share."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

from workbench.kit.errors import InvalidInputError, WorkbenchError


class UnknownPolicyError(InvalidInputError):
    """A routing policy name that is not registered; the message lists close and known names."""


class UnknownPatternError(InvalidInputError):
    """An arrival pattern name that is not known; the message lists close and known names."""


class SimulationTooLargeError(InvalidInputError):
    """A simulation that would produce more requests than the cap; the message says how to cut it."""


class ScenarioError(InvalidInputError):
    """A scenario file or field that cannot be used; the message names the file and the field."""


class ScenarioRunError(WorkbenchError, LookupError):
    """A run a scenario names that does not exist or cannot feed a cost."""


def did_you_mean(name: str, known: Iterable[str], n: int = 3) -> str:
    """``" Did you mean 'a' or 'b'?"`` for the names of ``known`` close to ``name``, else ``""``."""
    close = difflib.get_close_matches(str(name), list(known), n=n, cutoff=0.5)
    return f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
