"""The decision for one scenario at one workload, headless: its options priced, the break-evens
against the recommended one, the inputs its cost is most sensitive to, and hybrid routing
simulated.

:func:`decide` makes the :class:`~workbench.decision.result.Decision` (its tables) and
:func:`charts` its PNG charts, which the decision panel (``widgets.decision_panel``) shows; a
script or notebook gets the same with no widget. :func:`with_routing` adds the routing
simulation to a decision made without it; :func:`latency_samples_ms` and :func:`chart_inputs`
are what the charts are drawn from. The decision as a value lives in
:mod:`workbench.decision.result`, the rules that pick its answer in
:mod:`workbench.decision.recommend`.

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
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from workbench.cost import break_even, cost_curve, sensitivity
from workbench.decision.errors import ScenarioRunError, did_you_mean
from workbench.decision.hybrid_setup import HybridSetup, setup_from_scenario, simulate_scenario
from workbench.decision.options import compare_options
from workbench.decision.quality import ruled_out
from workbench.decision.recommend import cheapest_option, recommend
from workbench.decision.resolve import resolve_options
from workbench.decision.result import Decision
from workbench.decision.scenario_config import Scenario, ScenarioWorkload
from workbench.decision.scenarios import LATEST_PREFIX, load_scenario, parse_run_ref
from workbench.decision.sources import RunChoice, missing_runs_message, price_rows, run_rows
from workbench.kit.errors import InvalidInputError, RunNotFoundError

#: Latencies drawn per side for the latency chart.
LATENCY_DRAWS = 2000

RunRefs = Mapping[str, str] | Callable[[Scenario], Mapping[str, str]] | None


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
    scenario: Scenario | str | os.PathLike[str],
    runs_dir: str | os.PathLike[str] | None = None,
    *,
    runs: Sequence[str] | None = None,
    overrides: Mapping[str, Any] | None = None,
    requests: int = 5_000,
    today: datetime.date | None = None,
    on_step: Callable[[str], None] | None = None,
    routing: bool = True,
) -> Decision:
    """Decide where the scenario's model should run: price its options, apply the rules,
    recommend one, find the break-evens and simulate hybrid routing.

    The options are looked up once and priced once; the routing simulation reuses that table.
    Stale-price warnings are not raised: they are in :attr:`Decision.warnings`. The rules are
    in :func:`workbench.decision.recommend.recommend`.

    Parameters
    ----------
    scenario
        A :class:`Scenario`, or a scenario file or the name of a shipped one.
    runs_dir
        Where its runs are; default ``$WORKBENCH_RUNS_DIR`` or ``./runs``.
    runs
        Run ids to decide from instead of the scenario's ``[runs]`` (the newest given benchmark
        of the scenario's model feeds the local side; a ``cloud`` run the cloud latency).
    overrides
        Workload fields to replace, e.g. ``{"requests_per_month": 2e6}``.
    requests
        Requests per simulated routing stream.
    today
        The day price ages are counted to (default the real today).
    on_step
        Called with a sentence when pricing is done and the simulation starts.
    routing
        ``False`` leaves the routing simulation out (``policies`` is empty): a panel shows
        the priced answer at once and adds the routing with :func:`with_routing`.

    Raises
    ------
    WorkbenchError
        For a run that does not exist, a scenario that cannot be priced, an unknown override,
        or a workload no option can serve (the message gives each option's reason).
    """
    if not isinstance(scenario, Scenario):
        scenario = load_scenario(scenario)
    written = dict(scenario.runs)
    refs: dict[str, str] = {}
    if runs is not None:
        choice = RunChoice(runs_dir, list(runs))
        missing = choice.load_given()
        if missing:
            raise RunNotFoundError(missing_runs_message(missing))
        refs = choice.refs_for(scenario)
    scenario = with_workload(scenario, run_refs=refs, **_workload_overrides(overrides))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # stale prices are in the table's warnings instead
        looked_up = resolve_options(scenario, runs_dir)
        frame = compare_options(scenario, runs_dir, today=today, resolved=looked_up)
    if on_step is not None:
        on_step(f"Priced {len(frame)} options; simulating routing …")
    setup = setup_from_scenario(
        scenario, runs_dir, requests=requests, costs=frame, resolved=looked_up
    )
    samples = latency_samples_ms(setup)
    _fill_api_latency(frame, samples, scenario)
    recommendation = recommend(frame, scenario)
    if (
        "cloud (modelled)" in samples
        and frame.set_index("option").loc[recommendation.option, "kind"] == "api"
    ):
        note = (
            f"{recommendation.option}'s latency is modelled (the network round trip plus an "
            "assumed time per output token), not measured: load-test the endpoint with "
            "`workbench cloud bench` and decide with that run (`--run ID`)."
        )
        recommendation = dataclasses.replace(
            recommendation, caveats=(*recommendation.caveats, note)
        )
    frame["verdict"] = [
        "recommended" if name == recommendation.option else recommendation.reasons.get(name, "")
        for name in frame["option"]
    ]
    workload = scenario.workload.cost_workload()
    by_name = {r.spec.name: r.cost_option for r in looked_up}
    priced = [o for o in by_name.values() if o is not None]
    best = by_name[recommendation.option]
    return Decision(
        scenario=scenario,
        options=frame,
        recommendation=recommendation,
        cheapest=cheapest_option(frame),
        curve=cost_curve(priced, workload),
        break_evens=[break_even(o, best, workload) for o in priced if o.name != best.name],
        sensitivity=sensitivity(best, workload),
        setup=setup,
        policies=simulate_scenario(setup) if routing else pd.DataFrame(),
        latency_samples_ms=samples,
        sources={
            "runs": run_rows(scenario, written, runs_dir, frame),
            "prices": price_rows(frame),
        },
        decided_on=(today or datetime.date.today()).isoformat(),
    )


def with_routing(decision: Decision) -> Decision:
    """``decision`` with its hybrid routing simulated (for one decided with ``routing=False``)."""
    if not decision.policies.empty:
        return decision
    return dataclasses.replace(decision, policies=simulate_scenario(decision.setup))


def _workload_overrides(overrides: Mapping[str, Any] | None) -> dict[str, Any]:
    """``overrides`` checked against the workload's fields (the message lists them)."""
    names = [f.name for f in dataclasses.fields(ScenarioWorkload)]
    values = dict(overrides or {})
    for key in values:
        if key not in names:
            raise InvalidInputError(
                f"`--set {key}=…` names no workload field.{did_you_mean(key, names)} The "
                f"fields: {', '.join(names)}."
            )
    return values


def _fill_api_latency(
    frame: pd.DataFrame, samples: Mapping[str, np.ndarray], scenario: Scenario
) -> None:
    """API options' p50 and p95 from the cloud side's latency (measured when a cloud run is
    given, else modelled), then their objective check and rules again."""
    cloud = next((v for k, v in samples.items() if k.startswith("cloud")), None)
    if cloud is None or not len(cloud):
        return
    api = frame["kind"] == "api"
    frame.loc[api & frame["p95_ms"].isna(), "p95_ms"] = float(np.percentile(cloud, 95))
    frame.loc[api & frame["p50_ms"].isna(), "p50_ms"] = float(np.percentile(cloud, 50))
    objective = scenario.workload.latency_objective_ms
    if objective is not None:
        frame.loc[api, "meets_latency_objective"] = frame.loc[api, "p50_ms"] <= objective
    frame["ruled_out"] = [ruled_out(row, scenario) for row in frame.to_dict(orient="records")]


def latency_samples_ms(setup: HybridSetup, draws: int = LATENCY_DRAWS) -> dict[str, np.ndarray]:
    """Per-request latency without queueing: measured local service times, the cloud sampler."""
    rng = np.random.default_rng(0)
    config = setup.config
    cloud = "cloud (measured)" if config.cloud.latency_samples_s else "cloud (modelled)"
    return {
        "local (measured)": config.local.draw(rng, draws) * 1000.0,
        cloud: config.cloud.draw(rng, draws) * 1000.0,
    }


def chart_inputs(decision: Decision) -> dict[str, tuple[Callable[..., Any], tuple[Any, ...]]]:
    """Each chart of a decision as the :mod:`workbench.cost.plots` function that draws it and
    its inputs, in the order surfaces show them (the cost side first, then routing)."""
    from workbench.cost import plots  # matplotlib: only when charts are drawn

    objective_ms = decision.scenario.workload.latency_objective_ms
    return {
        "cost": (plots.cost_vs_volume, (decision.curve, decision.break_evens)),
        "quality": (plots.cost_latency_quality, (decision.options,)),
        "tornado": (plots.tornado, (decision.sensitivity,)),
        "pareto": (plots.pareto, (decision.policies,)),
        "latency": (plots.latency_distributions, (decision.latency_samples_ms, objective_ms)),
    }


def charts(decision: Decision, fmt: str = "png") -> dict[str, bytes]:
    """The decision's five charts as PNG (or SVG): ``cost`` (against volume, with the
    break-evens), ``quality`` (cost per 1k requests against p95, coloured by quality),
    ``tornado`` (sensitivity), ``pareto`` (routing policies) and ``latency``
    (distributions). Charts whose inputs did not change are not drawn again."""
    from workbench.cost import plots

    return {
        name: plots.image(chart, *args, fmt=fmt)
        for name, (chart, args) in chart_inputs(decision).items()
    }


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
    "chart_inputs",
    "charts",
    "decide",
    "latency_samples_ms",
    "next_step",
    "with_routing",
    "with_workload",
]
