"""User overrides of the price catalog: a TOML file of rows that replace or add catalog rows.

The file holds ``[[api]]``, ``[[instances]]`` and ``[[currencies]]`` tables with the fields of
the matching CSV file; each entry must give its own ``source`` and ``as_of``. An entry with the
key of a catalog row (provider and model; provider and name; currency) replaces it, any other
entry is added.
"""

from __future__ import annotations

import datetime
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.cost.prices.records import (
    Where,
    api_from_record,
    currency_from_record,
    instance_from_record,
    suggest,
)
from workbench.cost.prices.rows import (
    API_COLUMNS,
    CURRENCY_COLUMNS,
    INSTANCE_COLUMNS,
    PriceCatalogError,
)
from workbench.kit.errors import InvalidInputError
from workbench.kit.files import read_toml

if TYPE_CHECKING:  # the catalog module imports this one; here it is only a type
    from workbench.cost.prices.catalog import PriceCatalog

_OVERRIDE_TABLES = {
    "api": API_COLUMNS,
    "instances": INSTANCE_COLUMNS,
    "currencies": CURRENCY_COLUMNS,
}


def apply_overrides(catalog: PriceCatalog, path: Path | str) -> PriceCatalog:
    """A copy of ``catalog`` with the rows of an overrides TOML file replacing or adding rows.

    The file holds arrays of tables named ``api``, ``instances`` and ``currencies`` with the
    columns of the matching CSV file (``notes`` optional, ``currency`` defaults to USD).
    Each entry must give ``source`` and ``as_of``. An entry whose key matches a catalog row
    replaces it; any other entry is added. Currencies apply first, so an entry may be listed
    in a currency the same file adds.

    Example::

        [[api]]
        provider = "openai"
        model = "gpt-4o-mini"
        input_usd_per_mtok = 0.12
        output_usd_per_mtok = 0.50
        source = "our enterprise agreement, schedule B"
        as_of = "2026-10-01"

    Raises
    ------
    PriceCatalogError
        When the file cannot be read or parsed, has an unknown table or column, or an entry is
        invalid; the message names the file, the entry and the column.
    """
    path = Path(path)
    entries = _entries(path, _read_toml(path))
    origin = str(path)
    currencies = dict(catalog.currencies)
    for number, item in enumerate(entries["currencies"], start=1):
        where = Where(path, f"[[currencies]] entry {number}", f"currency {item.get('currency')!r}")
        row = currency_from_record(item, where, origin)
        currencies[row.key] = row
    currencies_source = f"{path} or the catalog's currencies.csv"
    api = dict(catalog.api)
    for number, item in enumerate(entries["api"], start=1):
        where = Where(
            path, f"[[api]] entry {number}", f"{item.get('provider')}/{item.get('model')}"
        )
        row = api_from_record(item, where, currencies, currencies_source, origin)
        api[row.key] = row
    instances = dict(catalog.instances)
    for number, item in enumerate(entries["instances"], start=1):
        where = Where(
            path, f"[[instances]] entry {number}", f"{item.get('provider')}/{item.get('name')}"
        )
        row = instance_from_record(item, where, currencies, currencies_source, origin)
        instances[row.key] = row
    return replace(catalog, api=api, instances=instances, currencies=currencies)


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        return read_toml(path, "the price overrides file (--overrides)")
    except InvalidInputError as exc:
        raise PriceCatalogError(str(exc)) from None


def _entries(path: Path, data: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """The entries of each table, each checked for unknown fields and its source and date."""
    unknown = [k for k in data if k not in _OVERRIDE_TABLES]
    if unknown:
        raise PriceCatalogError(
            f"{path}: unknown table(s) {', '.join(unknown)}; an overrides file holds "
            "[[api]], [[instances]] and [[currencies]] entries."
        )
    entries: dict[str, list[dict[str, Any]]] = {}
    for table, columns in _OVERRIDE_TABLES.items():
        items = data.get(table, [])
        if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
            raise PriceCatalogError(
                f"{path}: `{table}` must be an array of tables, written [[{table}]] once per entry."
            )
        for number, item in enumerate(items, start=1):
            _check_entry(path, table, columns, number, item)
        entries[table] = items
    return entries


def _check_entry(
    path: Path, table: str, columns: tuple[str, ...], number: int, item: dict[str, Any]
) -> None:
    extra = [k for k in item if k not in columns]
    if extra:
        hint = suggest(extra[0], list(columns))
        raise PriceCatalogError(
            f"{path} [[{table}]] entry {number}: unknown field(s) {', '.join(extra)}.{hint} "
            f"Fields: {', '.join(columns)}."
        )
    for required in ("source", "as_of"):
        if not str(item.get(required, "")).strip():
            raise PriceCatalogError(
                f"{path} [[{table}]] entry {number}, column `{required}`: missing. An "
                "override needs its own source (URL, contract or quote) and as_of "
                "(YYYY-MM-DD), so that every price in a comparison can be traced."
            )
    _check_not_future(path, table, number, item.get("as_of"))


def _check_not_future(path: Path, table: str, number: int, as_of: Any) -> None:
    """Refuse an ``as_of`` after today: a price cannot have been read on a day still to come,
    and a future date would also hide the row's age from the staleness warning."""
    try:
        day = datetime.date.fromisoformat(str(as_of).strip())
    except ValueError:
        return  # not a date at all: the row's own check names the format
    # Tomorrow is still today somewhere on Earth; a later day is a typo.
    latest = datetime.datetime.now(datetime.UTC).date() + datetime.timedelta(days=1)
    if day > latest:
        raise PriceCatalogError(
            f"{path} [[{table}]] entry {number}, column `as_of`: {day.isoformat()} is in the "
            f"future. Give the day the price was read (today at the latest, "
            f"{latest - datetime.timedelta(days=1)}), as YYYY-MM-DD."
        )


__all__ = ["apply_overrides"]
