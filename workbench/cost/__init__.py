"""Costs of serving a model: a dated price catalog, pure cost formulas, break-even, sensitivity.

* :mod:`workbench.cost.config`: the typed inputs: the workload and the three kinds of option
  (API, rented instance, owned hardware).
* :mod:`workbench.cost.load_profile`: how a day's requests spread over its hours (presets in
  ``data/load_profiles.csv``, or a user's CSV).
* :mod:`workbench.cost.autoscaling`: rented replicas sized hour by hour (scale to zero
  included), billed per second, minute or hour, and which requests wait for a cold start.
* :mod:`workbench.cost.monthly`: an option's monthly cost at a workload, with its working.
* :mod:`workbench.cost.curves`: break-even volumes between two options, and cost curves.
* :mod:`workbench.cost.sensitivity`: one-at-a-time sensitivity, the data of a tornado chart.
* :mod:`workbench.cost.prices`: ``data/prices/`` (API per-token prices, hourly instances,
  currencies), user overrides in TOML, and the staleness check.
* :mod:`workbench.cost.plots`: the charts (matplotlib; import it where charts are drawn).
* :mod:`workbench.cost.cli`: ``workbench prices list``.

Scenarios that tie a workload to priced options and measured runs live in
:mod:`workbench.decision`.
"""

from __future__ import annotations

from workbench.cost.autoscaling import (
    HOURLY_COLUMNS,
    HourlyPlan,
    HourRow,
    billed_seconds,
    cold_start_delays_s,
    hourly_plan,
    replica_sessions_usd,
)
from workbench.cost.config import (
    BILLING_GRANULARITIES,
    HOURS_PER_MONTH,
    ApiOption,
    CostOption,
    InstanceOption,
    OwnedOption,
    Workload,
    option_from_dict,
)
from workbench.cost.curves import BREAK_EVEN_RANGE, CURVE_COLUMNS, BreakEven, break_even, cost_curve
from workbench.cost.load_profile import (
    LoadProfile,
    list_load_profiles,
    load_profile,
    load_profiles_table,
)
from workbench.cost.monthly import (
    OptionCost,
    api_cost_per_request,
    capacity_per_unit,
    instance_cost_per_token,
    option_cost,
    raw_requests_per_s,
    units_needed,
)
from workbench.cost.prices import (
    DEFAULT_MAX_AGE_DAYS,
    PriceCatalog,
    PriceCatalogError,
    PriceNotFoundError,
    StalePriceWarning,
    apply_overrides,
    check_age,
    load_prices,
    prices_table,
    stale_prices,
    stale_rows,
)
from workbench.cost.sensitivity import SENSITIVITY_COLUMNS, sensitivity

__all__ = [
    "BILLING_GRANULARITIES",
    "BREAK_EVEN_RANGE",
    "CURVE_COLUMNS",
    "DEFAULT_MAX_AGE_DAYS",
    "HOURLY_COLUMNS",
    "HOURS_PER_MONTH",
    "SENSITIVITY_COLUMNS",
    "ApiOption",
    "BreakEven",
    "CostOption",
    "HourRow",
    "HourlyPlan",
    "InstanceOption",
    "LoadProfile",
    "OptionCost",
    "OwnedOption",
    "PriceCatalog",
    "PriceCatalogError",
    "PriceNotFoundError",
    "StalePriceWarning",
    "Workload",
    "api_cost_per_request",
    "apply_overrides",
    "billed_seconds",
    "break_even",
    "capacity_per_unit",
    "check_age",
    "cold_start_delays_s",
    "cost_curve",
    "hourly_plan",
    "instance_cost_per_token",
    "list_load_profiles",
    "load_prices",
    "load_profile",
    "load_profiles_table",
    "option_cost",
    "option_from_dict",
    "prices_table",
    "raw_requests_per_s",
    "replica_sessions_usd",
    "sensitivity",
    "stale_prices",
    "stale_rows",
    "units_needed",
]
