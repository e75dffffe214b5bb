"""The decision for one scenario at one workload, headless: its options priced, the break-evens
against the cheapest, the inputs its cost is most sensitive to, and hybrid routing simulated.

:func:`decide` gives the tables and :func:`charts` the PNG charts that the decision panel
(``widgets.decision_panel``) shows; a script or notebook gets the same with no widget.

>>> from workbench.decision import decide, load_scenario, with_workload
>>> scenario = with_workload(
...     load_scenario("support_chatbot"), requests_per_month=120_000, peak_requests_per_s=0.2)
>>> decision = decide(scenario, requests=2000)  # doctest: +SKIP
>>> decision.cheapest  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import datetime
import os
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from workbench.cost import break_even, cost_curve, sensitivity
from workbench.decision.errors import ScenarioRunError
from workbench.decision.hybrid_setup import HybridSetup, setup_from_scenario, simulate_scenario
from workbench.decision.options import compare_options
from workbench.decision.resolve import resolve_options
from workbench.decision.scenario_config import Scenario
from workbench.decision.scenarios import LATEST_PREFIX, parse_run_ref
from workbench.kit.errors import InvalidInputError, RunNotFoundError

#: Latencies drawn per side for the latency chart.
LATENCY_DRAWS = 2000

RunRefs = Mapping[str, str] | Callable[[Scenario], Mapping[str, str]] | None


@dataclass(frozen=True, eq=False)
class Decision:
    """Everything the decision shows for one scenario at one workload.

    Attributes
    ----------
    scenario
        The scenario as decided (its workload and runs as given to :func:`decide`).
    options
        :func:`workbench.decision.options.compare_options`'s table; its ``attrs["warnings"]``
        lists stale prices and on-premises flags.
    cheapest
        The name of the cheapest feasible option.
    curve, break_evens
        Monthly cost against volume for every priced option, and where each crosses the
        cheapest one.
    sensitivity
        The cheapest option's one-at-a-time sensitivity (a tornado chart's data).
    setup, policies
        The hybrid simulation built from the scenario, and one row per routing policy with the
        Pareto front marked.
    latency_samples_ms
        Per-request latency without queueing, per side (local measured, cloud measured or
        modelled).
    """

    scenario: Scenario
    options: pd.DataFrame
    cheapest: str
    curve: pd.DataFrame
    break_evens: list[Any]
    sensitivity: pd.DataFrame
    setup: HybridSetup
    policies: pd.DataFrame
    latency_samples_ms: dict[str, np.ndarray]

    @property
    def warnings(self) -> list[str]:
        """Stale price rows and options the on-premises rule forbids, one sentence each."""
        return list(self.options.attrs.get("warnings", []))

    def summary(self) -> str:
        """One paragraph: the cheapest option and where the simulation's inputs came from."""
        monthly = self.options.set_index("option").loc[self.cheapest, "monthly_usd"]
        volume = self.scenario.workload.requests_per_month
        return (
            f"Cheapest feasible option: {self.cheapest} at ${monthly:,.2f} per month for "
            f"{volume:,.0f} requests. Simulation inputs: " + "; ".join(self.setup.notes)
        )


def with_workload(scenario: Scenario, *, run_refs: RunRefs = None, **workload: Any) -> Scenario:
    """``scenario`` with some workload fields replaced and some runs named otherwise.

    Parameters
    ----------
    run_refs
        Run references that replace the scenario's ``[runs]`` entries (``{"local": RUN_ID}``),
        or a function of the scenario that returns them.
    workload
        Fields of :class:`workbench.decision.ScenarioWorkload`, e.g. ``requests_per_month``.

    Raises
    ------
    InvalidInputError
        For a workload value out of range, naming the field.
    """
    refs = run_refs(scenario) if callable(run_refs) else run_refs
    return dataclasses.replace(
        scenario,
        workload=dataclasses.replace(scenario.workload, **workload),
        runs={**scenario.runs, **(refs or {})},
    )


def decide(
    scenario: Scenario,
    runs_dir: str | os.PathLike[str] | None = None,
    *,
    requests: int = 5_000,
    today: datetime.date | None = None,
    on_step: Callable[[str], None] | None = None,
) -> Decision:
    """Price the scenario's options, find the break-evens and simulate hybrid routing.

    The options are looked up once and priced once; the routing simulation reuses that table.
    Stale-price warnings are not raised: they are in :attr:`Decision.warnings`.

    Parameters
    ----------
    scenario
        The scenario with the workload to decide for (see :func:`with_workload`).
    runs_dir
        Where its runs are; default ``$WORKBENCH_RUNS_DIR`` or ``./runs``.
    requests
        Requests per simulated stream.
    today
        The day price ages are counted to (default the real today).
    on_step
        Called with a sentence when pricing is done and the simulation starts.

    Raises
    ------
    WorkbenchError
        For a run that does not exist, a scenario that cannot be priced, or a workload no
        option can serve.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # stale prices are in the table's warnings instead
        looked_up = resolve_options(scenario, runs_dir)
        frame = compare_options(scenario, runs_dir, today=today, resolved=looked_up)
        workload = scenario.workload.cost_workload()
        by_name = {r.spec.name: r.cost_option for r in looked_up}
        priced = [o for o in by_name.values() if o is not None]
        cheapest = cheapest_option(frame)
        best = by_name[cheapest]
        crossings = [break_even(o, best, workload) for o in priced if o.name != best.name]
        if on_step is not None:
            on_step(f"Priced {len(frame)} options; simulating routing …")
        setup = setup_from_scenario(scenario, runs_dir, requests=requests, costs=frame)
        return Decision(
            scenario=scenario,
            options=frame,
            cheapest=cheapest,
            curve=cost_curve(priced, workload),
            break_evens=crossings,
            sensitivity=sensitivity(best, workload),
            setup=setup,
            policies=simulate_scenario(setup),
            latency_samples_ms=latency_samples_ms(setup),
        )


def cheapest_option(frame: pd.DataFrame) -> str:
    """The name of the cheapest feasible option of a :func:`compare_options` table.

    Raises
    ------
    InvalidInputError
        When no option can serve the workload.
    """
    feasible = frame[frame["feasible"] & frame["monthly_usd"].notna()]
    if feasible.empty:
        raise InvalidInputError("No option can serve this workload; lower the volume or the peak.")
    return str(feasible.loc[feasible["monthly_usd"].idxmin(), "option"])


def latency_samples_ms(setup: HybridSetup, draws: int = LATENCY_DRAWS) -> dict[str, np.ndarray]:
    """Per-request latency without queueing: measured local service times, the cloud sampler."""
    rng = np.random.default_rng(0)
    config = setup.config
    cloud = "cloud (measured)" if config.cloud.latency_samples_s else "cloud (modelled)"
    return {
        "local (measured)": config.local.draw(rng, draws) * 1000.0,
        cloud: config.cloud.draw(rng, draws) * 1000.0,
    }


def charts(decision: Decision) -> dict[str, bytes]:
    """The decision's four charts as PNG: ``cost`` (against volume, with the break-evens),
    ``tornado`` (sensitivity), ``pareto`` (routing policies) and ``latency`` (distributions)."""
    from workbench.cost import plots  # matplotlib: only when charts are drawn

    objective_ms = decision.scenario.workload.latency_objective_ms
    figures = {
        "cost": plots.cost_vs_volume(decision.curve, decision.break_evens),
        "tornado": plots.tornado(decision.sensitivity),
        "pareto": plots.pareto(decision.policies),
        "latency": plots.latency_distributions(decision.latency_samples_ms, objective_ms),
    }
    return {name: plots.to_png(figure) for name, figure in figures.items()}


def next_step(exc: BaseException, scenario: Scenario | None) -> str:
    """The next thing to do after ``exc`` stopped a decision: record the run it needs, or fix
    the value the message names."""
    if not isinstance(exc, ScenarioRunError | RunNotFoundError):
        return "Fix the value named above and press Compare again."
    model = "MODEL"
    ref = scenario.runs.get("local", "") if scenario is not None else ""
    parsed = parse_run_ref(ref) if ref.startswith(LATEST_PREFIX) else None
    if parsed:
        model = parsed[1]
    return f"This scenario needs a measured run: run `workbench bench {model}` first, then Compare."


__all__ = [
    "LATENCY_DRAWS",
    "Decision",
    "charts",
    "cheapest_option",
    "decide",
    "latency_samples_ms",
    "next_step",
    "with_workload",
]
