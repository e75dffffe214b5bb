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

The package's modules, in the order data flows through them:

* :mod:`~workbench.cost.prices.rows`: the three kinds of row, their columns and errors;
* :mod:`~workbench.cost.prices.records`: one CSV row or TOML table into a row;
* :mod:`~workbench.cost.prices.files`: the CSV files; :mod:`~workbench.cost.prices.overrides`:
  the TOML overrides;
* :mod:`~workbench.cost.prices.catalog`: the catalog in use, its lookups and tables;
* :mod:`~workbench.cost.prices.staleness`: which rows are too old.
"""

from __future__ import annotations

from workbench.cost.prices.catalog import PriceCatalog, load_prices, prices_table, stale_rows
from workbench.cost.prices.files import (
    load_api_prices,
    load_currencies,
    load_instance_prices,
    prices_dir,
)
from workbench.cost.prices.overrides import apply_overrides
from workbench.cost.prices.rows import (
    API_COLUMNS,
    CURRENCY_COLUMNS,
    INSTANCE_COLUMNS,
    ApiPrice,
    Currency,
    InstancePrice,
    PriceCatalogError,
    PriceNotFoundError,
    PriceRow,
)
from workbench.cost.prices.staleness import (
    DEFAULT_MAX_AGE_DAYS,
    STALE_COLUMNS,
    StalePrice,
    StalePriceWarning,
    age_days,
    check_age,
    stale_prices,
)

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
    "check_age",
    "load_api_prices",
    "load_currencies",
    "load_instance_prices",
    "load_prices",
    "prices_dir",
    "prices_table",
    "stale_prices",
    "stale_rows",
]
