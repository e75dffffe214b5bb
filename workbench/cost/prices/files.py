"""The catalog's CSV files in ``data/prices/``: one reader per file, each row checked.

``api_tokens.csv``
    provider, model, input_usd_per_mtok, output_usd_per_mtok, currency, source, as_of, notes
``instances.csv``
    provider, name, accelerator, accelerator_count, vcpus, memory_gb, usd_per_hour, region,
    device, currency, source, as_of, notes
``currencies.csv``
    currency, usd_per_unit, source, as_of, notes
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from workbench.cost.prices.records import (
    Where,
    api_from_record,
    currency_from_record,
    instance_from_record,
)
from workbench.cost.prices.rows import (
    API_COLUMNS,
    CURRENCY_COLUMNS,
    INSTANCE_COLUMNS,
    OPTIONAL_COLUMNS,
    ApiPrice,
    Currency,
    InstancePrice,
    PriceCatalogError,
)
from workbench.kit.paths import data_dir


def _read_csv(path: Path, columns: tuple[str, ...], what: str) -> list[dict[str, str]]:
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            header = [h.strip() for h in reader.fieldnames or []]
            reader.fieldnames = header
            rows = list(reader)
    except FileNotFoundError:
        raise PriceCatalogError(
            f"The {what} {path} does not exist. Restore it from the repository, or point "
            "WORKBENCH_DATA_DIR at a data folder that has prices/."
        ) from None
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise PriceCatalogError(f"Cannot read the {what} {path}: {exc}.") from exc
    missing = [c for c in columns if c not in header and c not in OPTIONAL_COLUMNS]
    if missing:
        raise PriceCatalogError(
            f"{path}: the header lacks the column(s) {', '.join(missing)}; the {what} needs "
            f"{', '.join(columns)} ({', '.join(OPTIONAL_COLUMNS)} optional). Add the missing "
            "column(s) to the first line."
        )
    for number, row in enumerate(rows, start=1):
        if None in row:
            raise PriceCatalogError(
                f"{path} row {number} (line {number + 1}): more fields than the header has "
                "columns; quote values that contain commas."
            )
    return rows


def _csv_where(path: Path, number: int, key: str) -> Where:
    return Where(path, f"row {number}", f"line {number + 1}, {key}")


def _keyed(rows: Iterable[Any], path: Path | str, what: str) -> dict[Any, Any]:
    keyed: dict[Any, Any] = {}
    for number, row in enumerate(rows, start=1):
        if row.key in keyed:
            raise PriceCatalogError(
                f"{path} row {number}: {what} {row.key!r} appears twice; keep one row per "
                "key (a different price belongs in an overrides file)."
            )
        keyed[row.key] = row
    return keyed


def prices_dir() -> Path:
    """The folder of the price catalog: ``<data dir>/prices``."""
    return data_dir() / "prices"


def load_currencies(path: Path | str | None = None) -> dict[str, Currency]:
    """Read ``currencies.csv``: the currencies prices may be listed in, keyed by code.

    Raises
    ------
    PriceCatalogError
        If the file is missing or unreadable, lacks a column, or a row is invalid; the message
        names the file, the row and the column.
    """
    path = Path(path) if path is not None else prices_dir() / "currencies.csv"
    rows = _read_csv(path, CURRENCY_COLUMNS, "currency table")
    result = [
        currency_from_record(
            row, _csv_where(path, n, f"currency {row.get('currency') or '?'!r}"), str(path)
        )
        for n, row in enumerate(rows, start=1)
    ]
    return _keyed(result, path, "currency")


def load_api_prices(
    path: Path | str | None = None, currencies: Mapping[str, Currency] | None = None
) -> dict[tuple[str, str], ApiPrice]:
    """Read ``api_tokens.csv``, keyed by ``(provider, model)``, prices converted to USD.

    Parameters
    ----------
    path
        The CSV file; default ``data/prices/api_tokens.csv``.
    currencies
        Accepted currencies; default :func:`load_currencies`.

    Raises
    ------
    PriceCatalogError
        For a missing column, an empty, non-numeric or negative price, an unknown currency, an
        empty ``source``, a bad ``as_of`` or a repeated key; the message names file, row and
        column and says how to fix it.
    """
    path = Path(path) if path is not None else prices_dir() / "api_tokens.csv"
    currencies, currencies_source = _currencies_or_default(currencies)
    rows = _read_csv(path, API_COLUMNS, "API price table")
    result = [
        api_from_record(
            row,
            _csv_where(path, n, f"{row.get('provider') or '?'}/{row.get('model') or '?'}"),
            currencies,
            currencies_source,
            str(path),
        )
        for n, row in enumerate(rows, start=1)
    ]
    return _keyed(result, path, "provider/model")


def load_instance_prices(
    path: Path | str | None = None, currencies: Mapping[str, Currency] | None = None
) -> dict[tuple[str, str], InstancePrice]:
    """Read ``instances.csv``, keyed by ``(provider, name)``, prices converted to USD.

    Raises
    ------
    PriceCatalogError
        As for :func:`load_api_prices`.
    """
    path = Path(path) if path is not None else prices_dir() / "instances.csv"
    currencies, currencies_source = _currencies_or_default(currencies)
    rows = _read_csv(path, INSTANCE_COLUMNS, "instance price table")
    result = [
        instance_from_record(
            row,
            _csv_where(path, n, f"{row.get('provider') or '?'}/{row.get('name') or '?'}"),
            currencies,
            currencies_source,
            str(path),
        )
        for n, row in enumerate(rows, start=1)
    ]
    return _keyed(result, path, "provider/name")


def _currencies_or_default(
    currencies: Mapping[str, Currency] | None,
) -> tuple[Mapping[str, Currency], str]:
    if currencies is None:
        currencies = load_currencies()
    sources = sorted({c.origin for c in currencies.values() if c.origin})
    return currencies, " or ".join(sources) or str(prices_dir() / "currencies.csv")
