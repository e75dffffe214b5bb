"""Costs of serving a model: a dated price catalog, pure cost formulas, break-even, sensitivity.

* :mod:`workbench.cost.prices`: ``data/prices/`` (API per-token prices, hourly instances,
  currencies), user overrides in TOML, and the staleness check.
* :mod:`workbench.cost.model`: the workload, the three kinds of option (API, rented instance,
  owned hardware), their monthly cost with its working, break-even volumes and cost curves.
* :mod:`workbench.cost.sensitivity`: one-at-a-time sensitivity, the data of a tornado chart.

Scenarios that tie a workload to priced options and measured runs live in
:mod:`workbench.decision.scenarios`.
"""

from __future__ import annotations

from workbench.cost.model import (
    ApiOption,
    BreakEven,
    InstanceOption,
    OptionCost,
    OwnedOption,
    Workload,
    break_even,
    cost_curve,
    option_cost,
)
from workbench.cost.prices import (
    PriceCatalog,
    StalePriceWarning,
    load_prices,
    stale_rows,
)
from workbench.cost.sensitivity import sensitivity

__all__ = [
    "ApiOption",
    "BreakEven",
    "InstanceOption",
    "OptionCost",
    "OwnedOption",
    "PriceCatalog",
    "StalePriceWarning",
    "Workload",
    "break_even",
    "cost_curve",
    "load_prices",
    "option_cost",
    "sensitivity",
    "stale_rows",
]
