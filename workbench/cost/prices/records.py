"""Reading one record (a CSV row or a TOML table) into a price row.

Every error names the place of the bad value (file, row, line, column) and how to fix it, so a
user editing ``data/prices/`` or an overrides file goes straight to it.
"""

from __future__ import annotations

import datetime
import difflib
import math
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from workbench.cost.prices.rows import ApiPrice, Currency, InstancePrice, PriceCatalogError
from workbench.kit.errors import InvalidInputError


class Where:
    """How an error names the place of a value: file, row (and line), column."""

    def __init__(self, path: Path | str, row: str, key: str) -> None:
        self.path, self.row, self.key = path, row, key

    def __call__(self, column: str) -> str:
        return f"{self.path} {self.row} ({self.key}), column `{column}`"

    @property
    def entry(self) -> str:
        return f"{self.path} {self.row} ({self.key})"


def _field_text(record: Mapping[str, Any], column: str, where: Where) -> str:
    value = record.get(column)
    if value is None:
        return ""
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise PriceCatalogError(
            f"{where(column)}: {value!r} is not a plain value; write text or a number."
        )
    return str(value).strip()


def _field_number(
    record: Mapping[str, Any],
    column: str,
    where: Where,
    *,
    required: bool,
    positive: bool = False,
    whole: bool = False,
    example: str = "0.15",
) -> float | int | None:
    value = record.get(column)
    if isinstance(value, str):
        value = value.strip()
    if value is None or value == "":
        if required:
            raise PriceCatalogError(
                f"{where(column)}: empty, but every row needs it. Fill in the listed figure "
                f"(a plain number such as {example})."
            )
        return None
    if isinstance(value, bool):
        number = math.nan
    elif isinstance(value, int | float):
        number = float(value)
    else:
        try:
            number = float(str(value))
        except ValueError:
            number = math.nan
    if not math.isfinite(number):
        raise PriceCatalogError(
            f"{where(column)}: {value!r} is not a number. Write a plain number such as "
            f"{example}, without currency signs, units or thousands separators."
        )
    if number < 0 or (positive and number == 0):
        raise PriceCatalogError(
            f"{where(column)}: {value!r} is {'negative' if number < 0 else 'zero'}; "
            f"{column} must be {'> 0' if positive else '>= 0'}. Fix the figure (a price is "
            "never negative; write the listed price, not a discount)."
        )
    if whole:
        if number != int(number):
            raise PriceCatalogError(
                f"{where(column)}: {value!r} is not a whole number; write a count such as 1."
            )
        return int(number)
    return number


def _field_currency(
    record: Mapping[str, Any], where: Where, currencies: Mapping[str, Currency], source: str
) -> Currency:
    code = _field_text(record, "currency", where) or "USD"
    if code not in currencies:
        known = ", ".join(sorted(currencies)) or "none"
        raise PriceCatalogError(
            f"{where('currency')}: {code!r} is not a currency the catalog knows (known: "
            f"{known}). Convert the price to one of those, or add a row for {code!r} with its "
            f"usd_per_unit, source and as_of to {source}."
        )
    return currencies[code]


def _build(where: Where, factory: Callable[..., Any], **values: Any) -> Any:
    try:
        return factory(**values)
    except InvalidInputError as exc:
        raise PriceCatalogError(f"{where.entry}: {exc} Fix it in the file.") from exc


def api_from_record(
    record: Mapping[str, Any],
    where: Where,
    currencies: Mapping[str, Currency],
    currencies_source: str,
    origin: str,
) -> ApiPrice:
    """An :class:`ApiPrice` from a record, its prices converted to USD with its currency's rate."""
    money = _field_currency(record, where, currencies, currencies_source)
    rate = money.usd_per_unit
    prices = {
        column: _field_number(record, column, where, required=True) * rate
        for column in ("input_usd_per_mtok", "output_usd_per_mtok")
    }
    return _build(
        where,
        ApiPrice,
        provider=_field_text(record, "provider", where),
        model=_field_text(record, "model", where),
        source=_field_text(record, "source", where),
        as_of=_field_text(record, "as_of", where),
        notes=_field_text(record, "notes", where),
        listed_currency=money.currency,
        usd_per_listed_unit=rate,
        origin=origin,
        **prices,
    )


def instance_from_record(
    record: Mapping[str, Any],
    where: Where,
    currencies: Mapping[str, Currency],
    currencies_source: str,
    origin: str,
) -> InstancePrice:
    """An :class:`InstancePrice` from a record, its price converted to USD."""
    money = _field_currency(record, where, currencies, currencies_source)
    hourly = _field_number(
        record, "usd_per_hour", where, required=True, positive=True, example="1.006"
    )
    count = _field_number(
        record, "accelerator_count", where, required=False, whole=True, example="1"
    )
    return _build(
        where,
        InstancePrice,
        provider=_field_text(record, "provider", where),
        name=_field_text(record, "name", where),
        usd_per_hour=hourly * money.usd_per_unit,
        source=_field_text(record, "source", where),
        as_of=_field_text(record, "as_of", where),
        accelerator=_field_text(record, "accelerator", where),
        accelerator_count=count or 0,
        vcpus=_field_number(record, "vcpus", where, required=False, positive=True, example="4"),
        memory_gb=_field_number(
            record, "memory_gb", where, required=False, positive=True, example="16"
        ),
        region=_field_text(record, "region", where),
        device=_field_text(record, "device", where),
        notes=_field_text(record, "notes", where),
        listed_currency=money.currency,
        usd_per_listed_unit=money.usd_per_unit,
        origin=origin,
    )


def currency_from_record(record: Mapping[str, Any], where: Where, origin: str) -> Currency:
    """A :class:`Currency` from a record."""
    return _build(
        where,
        Currency,
        currency=_field_text(record, "currency", where),
        usd_per_unit=_field_number(
            record, "usd_per_unit", where, required=True, positive=True, example="1.17"
        ),
        source=_field_text(record, "source", where),
        as_of=_field_text(record, "as_of", where),
        notes=_field_text(record, "notes", where),
        origin=origin,
    )


def suggest(name: str, known: list[str]) -> str:
    """`` Did you mean 'x'?`` for names close to ``name`` among ``known`` (empty if none)."""
    close = difflib.get_close_matches(str(name), known, n=3, cutoff=0.5)
    if not close:
        lowered = {k.lower(): k for k in known}
        close = [lowered[k] for k in lowered if str(name).lower() in k][:3]
    return f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
