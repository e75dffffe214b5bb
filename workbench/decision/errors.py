"""Errors of the hybrid routing simulation; each is an :class:`InvalidInputError`."""

from __future__ import annotations

from workbench.kit.errors import InvalidInputError


class UnknownPolicyError(InvalidInputError):
    """A routing policy name that is not registered; the message lists close and known names."""


class UnknownPatternError(InvalidInputError):
    """An arrival pattern name that is not known; the message lists close and known names."""


class SimulationTooLargeError(InvalidInputError):
    """A simulation that would produce more requests than the cap; the message says how to cut it."""
