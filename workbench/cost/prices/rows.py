"""The rows of the price catalog: a currency, a per-token API price, an hourly instance price.

Each row checks itself when built (from a CSV file, an overrides file or code): prices are
finite and not negative, ``source`` says where the figure was read and ``as_of`` when.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any, Self

from workbench.kit import checks
from workbench.kit.errors import InvalidInputError, WorkbenchError
from workbench.kit.fields import check_fields, spec

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

_CURRENCY_CODE = re.compile(r"^[A-Z]{3}$")
_SOURCE_FIX = "Give the URL or document the price was read from."


class PriceCatalogError(InvalidInputError):
    """A price file that cannot be used as it is: the message names file, row, column and fix."""


class PriceNotFoundError(WorkbenchError, LookupError):
    """An API model or instance that is not in the price catalog."""


def _check_dated(row: Any, owner: str, *names: str) -> None:
    """The checks every row shares: its text ``names`` and ``source`` given, ``as_of`` a date."""
    for name in names:
        checks.text(name, getattr(row, name), owner=owner)
    checks.text("source", row.source, owner=owner, fix=_SOURCE_FIX)
    _check_date(owner, row.as_of)
    check_fields(row, owner=owner, flags=False)


def _check_date(owner: str, value: Any) -> None:
    text = str(value).strip()
    try:
        valid = len(text) == 10 and datetime.date.fromisoformat(text)
    except ValueError:
        valid = False
    if not valid:
        raise checks.invalid(
            "as_of", value, "the date the price was checked, as YYYY-MM-DD", owner=owner
        )


def _check_currency(owner: str, name: str, value: Any) -> None:
    if not isinstance(value, str) or not _CURRENCY_CODE.match(value.strip()):
        rule = "a three-letter ISO 4217 code such as USD or EUR"
        raise checks.invalid(name, value, rule, owner=owner)


class _Row:  # a base of the row dataclasses, not one itself
    """What every row offers: plain values and back."""

    def to_dict(self) -> dict[str, Any]:
        """Plain values."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        """The inverse of :meth:`to_dict`; unknown keys are ignored."""
        return cls(**{f.name: data[f.name] for f in fields(cls) if f.name in data})


@dataclass(frozen=True)
class Currency(_Row):
    """A currency the catalog accepts, with the fixed rate used to convert it to USD."""

    currency: str = spec(help="ISO 4217 code, e.g. EUR")
    usd_per_unit: float = spec(help="USD for one unit of the currency", low=0, low_open=True)
    source: str = spec(help="where the rate was read")
    as_of: str = spec(help="when the rate was read, YYYY-MM-DD")
    notes: str = spec("", help="anything a reader should know")
    origin: str = spec("", help="the file the row came from")

    def __post_init__(self) -> None:
        owner = f"currency {self.currency!r}"
        _check_currency(owner, "currency", self.currency)
        _check_dated(self, owner)

    @property
    def key(self) -> str:
        """The currency code."""
        return self.currency

    @property
    def label(self) -> str:
        """``currencies:EUR``: how tables and warnings name the row."""
        return f"currencies:{self.currency}"


@dataclass(frozen=True)
class ApiPrice(_Row):
    """One per-token API price, in USD per million tokens (converted from its listed currency)."""

    provider: str = spec(help="who serves the API, e.g. openai")
    model: str = spec(help="the model's name at that provider")
    input_usd_per_mtok: float = spec(help="USD per million input tokens", low=0)
    output_usd_per_mtok: float = spec(help="USD per million output tokens", low=0)
    source: str = spec(help="where the price was read")
    as_of: str = spec(help="when the price was read, YYYY-MM-DD")
    notes: str = spec("", help="anything a reader should know")
    listed_currency: str = spec("USD", help="the currency the price is listed in")
    usd_per_listed_unit: float = spec(
        1.0, help="USD per unit of the listed currency", low=0, low_open=True
    )
    origin: str = spec("", help="the file the row came from")

    def __post_init__(self) -> None:
        owner = f"API price {self.provider!r}/{self.model!r}"
        _check_currency(owner, "listed_currency", self.listed_currency)
        _check_dated(self, owner, "provider", "model")

    @property
    def key(self) -> tuple[str, str]:
        """``(provider, model)``."""
        return (self.provider, self.model)

    @property
    def label(self) -> str:
        """``api:openai/gpt-4o-mini``: how tables and warnings name the row."""
        return f"api:{self.provider}/{self.model}"


@dataclass(frozen=True)
class InstancePrice(_Row):
    """One hourly instance price in USD; ``device`` names its accelerator in the device catalog.

    ``vcpus`` and ``memory_gb`` (host memory) are ``None`` where the price list does not say;
    ``device`` is empty when no catalog device matches (CPU slices, unlisted GPUs).
    """

    provider: str = spec(help="who rents the instance, e.g. aws")
    name: str = spec(help="the instance type, e.g. g5.xlarge")
    usd_per_hour: float = spec(help="USD per hour of one instance", low=0, low_open=True)
    source: str = spec(help="where the price was read")
    as_of: str = spec(help="when the price was read, YYYY-MM-DD")
    accelerator: str = spec("", help="the accelerator, empty for a CPU instance")
    accelerator_count: int = spec(0, help="accelerators per instance", low=0, whole=True)
    vcpus: float | None = spec(None, help="virtual CPUs", low=0, low_open=True, optional=True)
    memory_gb: float | None = spec(
        None, help="host memory, GB", low=0, low_open=True, optional=True
    )
    region: str = spec("", help="where the price applies")
    device: str = spec("", help="the accelerator's name in the device catalog")
    notes: str = spec("", help="anything a reader should know")
    listed_currency: str = spec("USD", help="the currency the price is listed in")
    usd_per_listed_unit: float = spec(
        1.0, help="USD per unit of the listed currency", low=0, low_open=True
    )
    origin: str = spec("", help="the file the row came from")

    def __post_init__(self) -> None:
        owner = f"instance price {self.provider!r}/{self.name!r}"
        _check_currency(owner, "listed_currency", self.listed_currency)
        _check_dated(self, owner, "provider", "name")
        if bool(self.accelerator) != (self.accelerator_count > 0):
            raise InvalidInputError(
                f"{owner}: `accelerator` ({self.accelerator!r}) and `accelerator_count` "
                f"({self.accelerator_count}) disagree; name the accelerator with a count >= 1, "
                "or leave it empty with a count of 0 for a CPU instance."
            )

    @property
    def key(self) -> tuple[str, str]:
        """``(provider, name)``."""
        return (self.provider, self.name)

    @property
    def label(self) -> str:
        """``instances:aws/g5.xlarge``: how tables and warnings name the row."""
        return f"instances:{self.provider}/{self.name}"


PriceRow = ApiPrice | InstancePrice | Currency

__all__ = [
    "API_COLUMNS",
    "CURRENCY_COLUMNS",
    "INSTANCE_COLUMNS",
    "OPTIONAL_COLUMNS",
    "ApiPrice",
    "Currency",
    "InstancePrice",
    "PriceCatalogError",
    "PriceNotFoundError",
    "PriceRow",
]
