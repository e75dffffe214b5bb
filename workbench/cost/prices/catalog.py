"""The price catalog in use: the shipped CSV files, overrides applied, with lookups and tables.

Prices are written in the row's ``currency`` (the columns say ``usd`` because that is what the
workbench computes in and what every shipped row uses); a row in another listed currency is
converted at load with the fixed rate of ``currencies.csv``, and keeps ``listed_currency`` and
``usd_per_listed_unit`` to show it.
"""

from __future__ import annotations

import datetime
import math
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import pandas as pd

from workbench.cost.prices.files import (
    load_api_prices,
    load_currencies,
    load_instance_prices,
    prices_dir,
)
from workbench.cost.prices.overrides import apply_overrides
from workbench.cost.prices.records import suggest
from workbench.cost.prices.rows import (
    ApiPrice,
    Currency,
    InstancePrice,
    PriceNotFoundError,
    PriceRow,
)
from workbench.cost.prices.staleness import DEFAULT_MAX_AGE_DAYS, stale_frame


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
            hint = suggest(provider, providers)
            raise PriceNotFoundError(
                f"Unknown API provider {provider!r}: the price catalog has no rows for it.{hint} "
                f"Known providers: {', '.join(providers)}. `workbench prices list` shows every "
                "row; add one in an overrides file ([[api]] with source and as_of)."
            )
        models = sorted(m for p, m in self.api if p == provider)
        hint = suggest(model, models)
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
        hint = suggest(name, names)
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
        return stale_frame(self.rows(), max_age_days, today)

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
    return stale_frame(catalog.rows(), max_age_days, today)


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


__all__ = ["PriceCatalog", "load_prices", "prices_table", "stale_rows"]
