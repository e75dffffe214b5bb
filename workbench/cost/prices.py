"""The price catalog: per-token API prices and hourly instance prices, each row sourced and dated.

Three CSV files in ``data/prices/``:

``api_tokens.csv``
    provider, model, input_usd_per_mtok, output_usd_per_mtok, currency, source, as_of, notes
``instances.csv``
    provider, name, accelerator, accelerator_count, vcpus, memory_gb, usd_per_hour, region,
    device, currency, source, as_of, notes
``currencies.csv``
    currency, usd_per_unit, source, as_of, notes

Prices are written in the row's ``currency`` (the columns say ``usd`` because that is what
the workbench computes in and what every shipped row uses); a row in another listed currency
is converted at load with the fixed rate of ``currencies.csv``, and keeps
``listed_currency`` and ``usd_per_listed_unit`` to show it. ``notes`` may be left out.

Users override or add rows with a TOML file of ``[[api]]``, ``[[instances]]`` and
``[[currencies]]`` tables holding the same fields; each entry must give its own ``source`` and
``as_of``. An entry with the key of a catalog row (provider and model; provider and name;
currency) replaces it, any other entry is added.

A row older than a chosen age is *stale*: :func:`stale_rows` lists them and
:func:`stale_prices` (used whenever a row feeds a cost) warns with
:class:`StalePriceWarning` naming each row, its date and its source.
"""

from __future__ import annotations

import csv
import datetime
import difflib
import math
import re
import tomllib
import warnings
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import pandas as pd

from workbench.kit.errors import InvalidInputError, WorkbenchError
from workbench.kit.paths import data_dir

#: Rows older than this many days are stale unless told otherwise.
DEFAULT_MAX_AGE_DAYS = 180

CURRENCY_COLUMNS = ("currency", "usd_per_unit", "source", "as_of", "notes")
API_COLUMNS = (
    "provider",
    "model",
    "input_usd_per_mtok",
    "output_usd_per_mtok",
    "currency",
    "source",
    "as_of",
    "notes",
)
INSTANCE_COLUMNS = (
    "provider",
    "name",
    "accelerator",
    "accelerator_count",
    "vcpus",
    "memory_gb",
    "usd_per_hour",
    "region",
    "device",
    "currency",
    "source",
    "as_of",
    "notes",
)
#: Columns a file may leave out.
OPTIONAL_COLUMNS = ("notes",)

STALE_COLUMNS = ("table", "key", "as_of", "age_days", "source", "origin")

_CURRENCY_CODE = re.compile(r"^[A-Z]{3}$")


class PriceCatalogError(InvalidInputError):
    """A price file that cannot be used as it is: the message names file, row, column and fix."""


class PriceNotFoundError(WorkbenchError, LookupError):
    """An API model or instance that is not in the price catalog."""


class StalePriceWarning(UserWarning):
    """A price row used in a cost is older than the chosen maximum age."""


# ---------------------------------------------------------------------------------------------
# Rows


def _text(owner: str, name: str, value: Any, *, required: bool) -> str:
    if not isinstance(value, str):
        raise InvalidInputError(f"`{name}` of {owner} must be text, got {value!r}.")
    if required and not value.strip():
        what = {
            "source": "the URL or document the price was read from",
            "as_of": "the date the price was checked, YYYY-MM-DD",
        }.get(name, "a value")
        raise InvalidInputError(f"`{name}` of {owner} is empty; give {what}.")
    return value.strip()


def _price(owner: str, name: str, value: Any, *, positive: bool = False) -> float:
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    if not ok:
        raise InvalidInputError(f"`{name}` of {owner} must be a finite number, got {value!r}.")
    if value < 0 or (positive and value == 0):
        bound = "> 0" if positive else ">= 0"
        raise InvalidInputError(f"`{name}` of {owner} must be {bound}, got {value!r}.")
    return float(value)


def _date(owner: str, value: Any) -> str:
    text = str(value).strip()
    try:
        valid = len(text) == 10 and datetime.date.fromisoformat(text)
    except ValueError:
        valid = False
    if not valid:
        raise InvalidInputError(
            f"`as_of` of {owner} must be the date the price was checked, as YYYY-MM-DD, "
            f"got {value!r}."
        )
    return text


def _currency_code(owner: str, value: Any) -> str:
    if not isinstance(value, str) or not _CURRENCY_CODE.match(value.strip()):
        raise InvalidInputError(
            f"`currency` of {owner} must be a three-letter ISO 4217 code such as USD or EUR, "
            f"got {value!r}."
        )
    return value.strip()


@dataclass(frozen=True)
class Currency:
    """A currency the catalog accepts, with the fixed rate used to convert it to USD."""

    currency: str
    usd_per_unit: float
    source: str
    as_of: str
    notes: str = ""
    origin: str = ""

    def __post_init__(self) -> None:
        owner = f"currency {self.currency!r}"
        _currency_code(owner, self.currency)
        _price(owner, "usd_per_unit", self.usd_per_unit, positive=True)
        _text(owner, "source", self.source, required=True)
        _date(owner, self.as_of)

    @property
    def key(self) -> str:
        """The currency code."""
        return self.currency

    @property
    def label(self) -> str:
        """``currencies:EUR``: how tables and warnings name the row."""
        return f"currencies:{self.currency}"

    def to_dict(self) -> dict[str, Any]:
        """Plain values."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Currency:
        """The inverse of :meth:`to_dict`; unknown keys are ignored."""
        return cls(**{f.name: data[f.name] for f in fields(cls) if f.name in data})


@dataclass(frozen=True)
class ApiPrice:
    """One per-token API price, in USD per million tokens (converted from its listed currency)."""

    provider: str
    model: str
    input_usd_per_mtok: float
    output_usd_per_mtok: float
    source: str
    as_of: str
    notes: str = ""
    listed_currency: str = "USD"
    usd_per_listed_unit: float = 1.0
    origin: str = field(default="", metadata={"help": "the file the row came from"})

    def __post_init__(self) -> None:
        owner = f"API price {self.provider!r}/{self.model!r}"
        _text(owner, "provider", self.provider, required=True)
        _text(owner, "model", self.model, required=True)
        _price(owner, "input_usd_per_mtok", self.input_usd_per_mtok)
        _price(owner, "output_usd_per_mtok", self.output_usd_per_mtok)
        _text(owner, "source", self.source, required=True)
        _date(owner, self.as_of)
        _currency_code(owner, self.listed_currency)
        _price(owner, "usd_per_listed_unit", self.usd_per_listed_unit, positive=True)

    @property
    def key(self) -> tuple[str, str]:
        """``(provider, model)``."""
        return (self.provider, self.model)

    @property
    def label(self) -> str:
        """``api:openai/gpt-4o-mini``: how tables and warnings name the row."""
        return f"api:{self.provider}/{self.model}"

    def to_dict(self) -> dict[str, Any]:
        """Plain values."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ApiPrice:
        """The inverse of :meth:`to_dict`; unknown keys are ignored."""
        return cls(**{f.name: data[f.name] for f in fields(cls) if f.name in data})


@dataclass(frozen=True)
class InstancePrice:
    """One hourly instance price in USD; ``device`` names its accelerator in the device catalog.

    ``vcpus`` and ``memory_gb`` (host memory) are ``None`` where the price list does not say;
    ``device`` is empty when no catalog device matches (CPU slices, unlisted GPUs).
    """

    provider: str
    name: str
    usd_per_hour: float
    source: str
    as_of: str
    accelerator: str = ""
    accelerator_count: int = 0
    vcpus: float | None = None
    memory_gb: float | None = None
    region: str = ""
    device: str = ""
    notes: str = ""
    listed_currency: str = "USD"
    usd_per_listed_unit: float = 1.0
    origin: str = ""

    def __post_init__(self) -> None:
        owner = f"instance price {self.provider!r}/{self.name!r}"
        _text(owner, "provider", self.provider, required=True)
        _text(owner, "name", self.name, required=True)
        _price(owner, "usd_per_hour", self.usd_per_hour, positive=True)
        _text(owner, "source", self.source, required=True)
        _date(owner, self.as_of)
        count = self.accelerator_count
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise InvalidInputError(
                f"`accelerator_count` of {owner} must be a whole number >= 0, got {count!r}."
            )
        if bool(self.accelerator) != (count > 0):
            raise InvalidInputError(
                f"{owner}: `accelerator` ({self.accelerator!r}) and `accelerator_count` "
                f"({count}) disagree; name the accelerator with a count >= 1, or leave it empty "
                "with a count of 0 for a CPU instance."
            )
        for name in ("vcpus", "memory_gb"):
            value = getattr(self, name)
            if value is not None:
                _price(owner, name, value, positive=True)
        _currency_code(owner, self.listed_currency)
        _price(owner, "usd_per_listed_unit", self.usd_per_listed_unit, positive=True)

    @property
    def key(self) -> tuple[str, str]:
        """``(provider, name)``."""
        return (self.provider, self.name)

    @property
    def label(self) -> str:
        """``instances:aws/g5.xlarge``: how tables and warnings name the row."""
        return f"instances:{self.provider}/{self.name}"

    def to_dict(self) -> dict[str, Any]:
        """Plain values."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> InstancePrice:
        """The inverse of :meth:`to_dict`; unknown keys are ignored."""
        return cls(**{f.name: data[f.name] for f in fields(cls) if f.name in data})


PriceRow = ApiPrice | InstancePrice | Currency


# ---------------------------------------------------------------------------------------------
# Reading records (a CSV row or a TOML table) into rows


class _Where:
    """How an error names the place of a value: file, row (and line), column."""

    def __init__(self, path: Path | str, row: str, key: str) -> None:
        self.path, self.row, self.key = path, row, key

    def __call__(self, column: str) -> str:
        return f"{self.path} {self.row} ({self.key}), column `{column}`"

    @property
    def entry(self) -> str:
        return f"{self.path} {self.row} ({self.key})"


def _field_text(record: Mapping[str, Any], column: str, where: _Where) -> str:
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
    where: _Where,
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
    record: Mapping[str, Any], where: _Where, currencies: Mapping[str, Currency], source: str
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


def _build(where: _Where, factory: Callable[..., Any], **values: Any) -> Any:
    try:
        return factory(**values)
    except InvalidInputError as exc:
        raise PriceCatalogError(f"{where.entry}: {exc} Fix it in the file.") from exc


def _api_from_record(
    record: Mapping[str, Any],
    where: _Where,
    currencies: Mapping[str, Currency],
    currencies_source: str,
    origin: str,
) -> ApiPrice:
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


def _instance_from_record(
    record: Mapping[str, Any],
    where: _Where,
    currencies: Mapping[str, Currency],
    currencies_source: str,
    origin: str,
) -> InstancePrice:
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


def _currency_from_record(record: Mapping[str, Any], where: _Where, origin: str) -> Currency:
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


# ---------------------------------------------------------------------------------------------
# CSV files


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


def _csv_where(path: Path, number: int, key: str) -> _Where:
    return _Where(path, f"row {number}", f"line {number + 1}, {key}")


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
        _currency_from_record(
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
        _api_from_record(
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
        _instance_from_record(
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


# ---------------------------------------------------------------------------------------------
# The catalog


@dataclass(frozen=True)
class PriceCatalog:
    """The API prices, instance prices and currencies in use, overrides applied."""

    api: dict[tuple[str, str], ApiPrice]
    instances: dict[tuple[str, str], InstancePrice]
    currencies: dict[str, Currency]

    def api_price(self, provider: str, model: str) -> ApiPrice:
        """The price row of ``model`` served by ``provider``.

        Raises
        ------
        PriceNotFoundError
            When there is none; the message suggests close names.
        """
        key = (provider, model)
        if key in self.api:
            return self.api[key]
        providers = sorted({p for p, _ in self.api})
        if provider not in providers:
            hint = _suggest(provider, providers)
            raise PriceNotFoundError(
                f"Unknown API provider {provider!r}: the price catalog has no rows for it.{hint} "
                f"Known providers: {', '.join(providers)}. `workbench prices list` shows every "
                "row; add one in an overrides file ([[api]] with source and as_of)."
            )
        models = sorted(m for p, m in self.api if p == provider)
        hint = _suggest(model, models)
        raise PriceNotFoundError(
            f"Unknown model {model!r} for provider {provider!r} in the price catalog.{hint} "
            f"{provider} has: {', '.join(models)}. Add a row in an overrides file ([[api]] with "
            "source and as_of) to price another model."
        )

    def instance_price(self, name: str, provider: str | None = None) -> InstancePrice:
        """The instance row called ``name`` (of ``provider``, when several share the name).

        Raises
        ------
        PriceNotFoundError
            When there is none, or the name is ambiguous without a provider.
        """
        matches = [
            row
            for (p, n), row in self.instances.items()
            if n == name and (provider is None or p == provider)
        ]
        if len(matches) == 1:
            return matches[0]
        if matches:
            owners = ", ".join(sorted(m.provider for m in matches))
            raise PriceNotFoundError(
                f"Several providers list an instance called {name!r} ({owners}); say which "
                "with `provider`."
            )
        names = sorted({n for p, n in self.instances if provider is None or p == provider})
        hint = _suggest(name, names)
        scope = f" of provider {provider!r}" if provider else ""
        raise PriceNotFoundError(
            f"Unknown instance {name!r}{scope} in the price catalog.{hint} Known instances: "
            f"{', '.join(names)}. `workbench prices list` shows them with prices; add one in an "
            "overrides file ([[instances]] with source and as_of)."
        )

    def rows(self) -> list[PriceRow]:
        """Every row: API prices, then instance prices, then currencies."""
        return [*self.api.values(), *self.instances.values(), *self.currencies.values()]

    def api_table(self) -> pd.DataFrame:
        """API prices as a DataFrame, one row each."""
        names = [f.name for f in fields(ApiPrice)]
        return pd.DataFrame([r.to_dict() for r in self.api.values()], columns=names)

    def instances_table(self) -> pd.DataFrame:
        """Instance prices as a DataFrame, one row each."""
        names = [f.name for f in fields(InstancePrice)]
        frame = pd.DataFrame([r.to_dict() for r in self.instances.values()], columns=names)
        for column in ("vcpus", "memory_gb"):
            frame[column] = frame[column].astype("Float64")
        return frame

    def stale_rows(
        self, max_age_days: int = DEFAULT_MAX_AGE_DAYS, today: datetime.date | None = None
    ) -> pd.DataFrame:
        """Rows whose ``as_of`` is more than ``max_age_days`` before ``today``; see :func:`stale_rows`."""
        return _stale_frame(self.rows(), max_age_days, today)

    def with_overrides(self, path: Path | str) -> PriceCatalog:
        """This catalog with the rows of an overrides TOML file; see :func:`apply_overrides`."""
        return apply_overrides(self, path)

    def to_dict(self) -> dict[str, Any]:
        """Plain values: lists of rows."""
        return {
            "api": [r.to_dict() for r in self.api.values()],
            "instances": [r.to_dict() for r in self.instances.values()],
            "currencies": [r.to_dict() for r in self.currencies.values()],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PriceCatalog:
        """The inverse of :meth:`to_dict`."""
        api = [ApiPrice.from_dict(r) for r in data.get("api", [])]
        instances = [InstancePrice.from_dict(r) for r in data.get("instances", [])]
        currencies = [Currency.from_dict(r) for r in data.get("currencies", [])]
        return cls(
            api={r.key: r for r in api},
            instances={r.key: r for r in instances},
            currencies={r.key: r for r in currencies},
        )


def _suggest(name: str, known: list[str]) -> str:
    close = difflib.get_close_matches(str(name), known, n=3, cutoff=0.5)
    if not close:
        lowered = {k.lower(): k for k in known}
        close = [lowered[k] for k in lowered if str(name).lower() in k][:3]
    return f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""


def load_prices(
    folder: Path | str | None = None, overrides: Path | str | None = None
) -> PriceCatalog:
    """Read the whole price catalog, then apply an overrides file when given.

    Parameters
    ----------
    folder
        A folder with ``api_tokens.csv``, ``instances.csv`` and ``currencies.csv``; default
        ``data/prices``.
    overrides
        A TOML file of ``[[api]]``, ``[[instances]]`` and ``[[currencies]]`` entries.

    Raises
    ------
    PriceCatalogError
        For any invalid file, row or entry (the message names file, row and column).
    """
    folder = Path(folder) if folder is not None else prices_dir()
    currencies = load_currencies(folder / "currencies.csv")
    catalog = PriceCatalog(
        api=load_api_prices(folder / "api_tokens.csv", currencies),
        instances=load_instance_prices(folder / "instances.csv", currencies),
        currencies=dict(currencies),
    )
    if overrides is not None:
        catalog = apply_overrides(catalog, overrides)
    return catalog


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
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PriceCatalogError(f"The price overrides file {path} does not exist.") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise PriceCatalogError(f"Cannot read the price overrides file {path}: {exc}.") from exc
    except tomllib.TOMLDecodeError as exc:
        raise PriceCatalogError(f"{path} is not valid TOML: {exc}.") from exc
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
            extra = [k for k in item if k not in columns]
            if extra:
                hint = _suggest(extra[0], list(columns))
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
        entries[table] = items

    origin = str(path)
    currencies = dict(catalog.currencies)
    for number, item in enumerate(entries["currencies"], start=1):
        where = _Where(path, f"[[currencies]] entry {number}", f"currency {item.get('currency')!r}")
        row = _currency_from_record(item, where, origin)
        currencies[row.key] = row
    currencies_source = f"{path} or the catalog's currencies.csv"
    api = dict(catalog.api)
    for number, item in enumerate(entries["api"], start=1):
        where = _Where(
            path, f"[[api]] entry {number}", f"{item.get('provider')}/{item.get('model')}"
        )
        row = _api_from_record(item, where, currencies, currencies_source, origin)
        api[row.key] = row
    instances = dict(catalog.instances)
    for number, item in enumerate(entries["instances"], start=1):
        where = _Where(
            path, f"[[instances]] entry {number}", f"{item.get('provider')}/{item.get('name')}"
        )
        row = _instance_from_record(item, where, currencies, currencies_source, origin)
        instances[row.key] = row
    return replace(catalog, api=api, instances=instances, currencies=currencies)


# ---------------------------------------------------------------------------------------------
# Staleness


def _today(today: datetime.date | None) -> datetime.date:
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
    raise InvalidInputError(f"`today` must be a date or YYYY-MM-DD text, got {today!r}.")


def _check_age(max_age_days: Any) -> int:
    if isinstance(max_age_days, bool) or not isinstance(max_age_days, int) or max_age_days < 0:
        raise InvalidInputError(
            f"`max_age_days` must be a whole number of days >= 0, e.g. 180, got {max_age_days!r}."
        )
    return max_age_days


def age_days(row: PriceRow, today: datetime.date | None = None) -> int:
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
    limit = _check_age(max_age_days)
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


def _stale_frame(rows: Iterable[PriceRow], max_age_days: int, today: Any) -> pd.DataFrame:
    limit = _check_age(max_age_days)
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


def stale_rows(
    max_age_days: int = DEFAULT_MAX_AGE_DAYS,
    today: datetime.date | None = None,
    *,
    catalog: PriceCatalog | None = None,
) -> pd.DataFrame:
    """Catalog rows whose ``as_of`` is more than ``max_age_days`` days before ``today``.

    Parameters
    ----------
    max_age_days
        The allowed age in days (default 180).
    today
        The date to measure from; default today (UTC). Pass a fixed date for reproducible
        reports and tests.
    catalog
        The catalog to check; default :func:`load_prices`.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`STALE_COLUMNS`: ``table`` (api, instances, currencies), ``key``
        (``provider/model``, ``provider/name`` or the currency code), ``as_of``, ``age_days``,
        ``source`` and ``origin`` (the file it came from).
    """
    catalog = catalog if catalog is not None else load_prices()
    return _stale_frame(catalog.rows(), max_age_days, today)


def prices_table(catalog: PriceCatalog | None = None) -> pd.DataFrame:
    """Every price row in one table for listing: ``table``, ``key``, the price, source, as_of.

    ``price`` is the USD figure and ``unit`` says what it is per (``USD/Mtok in | out`` for
    APIs is split into ``price`` and ``price_out``).
    """
    catalog = catalog if catalog is not None else load_prices()
    records = []
    for row in catalog.api.values():
        records.append(
            {
                "table": "api",
                "key": f"{row.provider}/{row.model}",
                "price": row.input_usd_per_mtok,
                "price_out": row.output_usd_per_mtok,
                "unit": "USD/Mtok (in, out)",
                "device": "",
                "as_of": row.as_of,
                "source": row.source,
                "notes": row.notes,
            }
        )
    for row in catalog.instances.values():
        records.append(
            {
                "table": "instances",
                "key": f"{row.provider}/{row.name}",
                "price": row.usd_per_hour,
                "price_out": math.nan,
                "unit": "USD/hour",
                "device": row.device,
                "as_of": row.as_of,
                "source": row.source,
                "notes": row.notes,
            }
        )
    for row in catalog.currencies.values():
        records.append(
            {
                "table": "currencies",
                "key": row.currency,
                "price": row.usd_per_unit,
                "price_out": math.nan,
                "unit": "USD per unit",
                "device": "",
                "as_of": row.as_of,
                "source": row.source,
                "notes": row.notes,
            }
        )
    columns = ["table", "key", "price", "price_out", "unit", "device", "as_of", "source", "notes"]
    return pd.DataFrame(records, columns=columns)


__all__ = [
    "API_COLUMNS",
    "CURRENCY_COLUMNS",
    "DEFAULT_MAX_AGE_DAYS",
    "INSTANCE_COLUMNS",
    "STALE_COLUMNS",
    "ApiPrice",
    "Currency",
    "InstancePrice",
    "PriceCatalog",
    "PriceCatalogError",
    "PriceNotFoundError",
    "PriceRow",
    "StalePrice",
    "StalePriceWarning",
    "age_days",
    "apply_overrides",
    "load_api_prices",
    "load_currencies",
    "load_instance_prices",
    "load_prices",
    "prices_dir",
    "prices_table",
    "stale_prices",
    "stale_rows",
]
