"""Staleness: a price row older than a chosen age is *stale*.

:func:`stale_prices` (used whenever a row feeds a cost) warns with :class:`StalePriceWarning`
naming each row, its date and its source; :func:`stale_frame` lists such rows as a table.
"""

from __future__ import annotations

import datetime
import warnings
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

import pandas as pd

from workbench.cost.prices.rows import PriceRow
from workbench.kit import checks

#: Rows older than this many days are stale unless told otherwise.
DEFAULT_MAX_AGE_DAYS = 180

STALE_COLUMNS = ("table", "key", "as_of", "age_days", "source", "origin")


class StalePriceWarning(UserWarning):
    """A price row used in a cost is older than the chosen maximum age."""


def check_age(max_age_days: Any, *, flag: str = "") -> int:
    """``max_age_days`` if it is a whole number of days >= 0, else :class:`InvalidInputError`.

    Parameters
    ----------
    max_age_days
        The allowed age of a price row, in days.
    flag
        The CLI flag it came from (``--max-age-days``), for the message.
    """
    return checks.whole(
        "max_age_days", max_age_days, 0, flag=flag, fix="Give a number of days, e.g. 180."
    )


def _today(today: Any) -> datetime.date:
    if today is None:
        return datetime.datetime.now(datetime.UTC).date()
    if isinstance(today, datetime.datetime):
        return today.date()
    if isinstance(today, datetime.date):
        return today
    if isinstance(today, str):
        try:
            return datetime.date.fromisoformat(today)
        except ValueError:
            pass
    raise checks.invalid("today", today, "a date or YYYY-MM-DD text")


def age_days(row: PriceRow, today: datetime.date | str | None = None) -> int:
    """Days between a row's ``as_of`` and ``today`` (default: today, UTC)."""
    return (_today(today) - datetime.date.fromisoformat(row.as_of)).days


@dataclass(frozen=True)
class StalePrice:
    """A price row older than the allowed age, and the sentence that says so."""

    label: str
    as_of: str
    age_days: int
    max_age_days: int
    source: str

    @property
    def message(self) -> str:
        """One sentence naming the row, its date and what to do."""
        return (
            f"price row {self.label} is {self.age_days} days old (as_of {self.as_of}, more than "
            f"{self.max_age_days} days); check it against {self.source} and update the catalog "
            "or give a newer price in an overrides file"
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain values, with the message."""
        return {**asdict(self), "message": self.message}


def stale_prices(
    rows: Iterable[PriceRow],
    max_age_days: int = DEFAULT_MAX_AGE_DAYS,
    today: datetime.date | None = None,
    *,
    warn: bool = True,
) -> list[StalePrice]:
    """The rows among ``rows`` older than ``max_age_days``, warning once for each.

    Call it with the rows a cost used. Each stale row is also issued as a
    :class:`StalePriceWarning` (unless ``warn=False``), which Python shows once per message.

    Returns
    -------
    list[StalePrice]
        In the order given, each row at most once.
    """
    limit = check_age(max_age_days)
    day = _today(today)
    found: list[StalePrice] = []
    seen: set[str] = set()
    for row in rows:
        if row.label in seen:
            continue
        seen.add(row.label)
        age = age_days(row, day)
        if age > limit:
            item = StalePrice(row.label, row.as_of, age, limit, row.source)
            found.append(item)
            if warn:
                warnings.warn(StalePriceWarning(item.message), stacklevel=2)
    return found


def stale_frame(rows: Iterable[PriceRow], max_age_days: int, today: Any) -> pd.DataFrame:
    """The rows among ``rows`` older than ``max_age_days``, one line each: columns
    :data:`STALE_COLUMNS` (``key`` is the row's label without its table)."""
    limit = check_age(max_age_days)
    day = _today(today)
    records = []
    for row in rows:
        age = age_days(row, day)
        if age > limit:
            table, _, key = row.label.partition(":")
            records.append(
                {
                    "table": table,
                    "key": key,
                    "as_of": row.as_of,
                    "age_days": age,
                    "source": row.source,
                    "origin": row.origin,
                }
            )
    return pd.DataFrame(records, columns=list(STALE_COLUMNS))


__all__ = [
    "DEFAULT_MAX_AGE_DAYS",
    "STALE_COLUMNS",
    "StalePrice",
    "StalePriceWarning",
    "age_days",
    "check_age",
    "stale_frame",
    "stale_prices",
]
