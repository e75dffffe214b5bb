"""Local, edge or cloud: a scenario's options priced side by side, and hybrid routing simulated.

* :mod:`workbench.decision.config`: the routing simulation's configs (``ArrivalConfig``,
  ``LocalServiceConfig``, ``NetworkModel``, ``CloudConfig``, ``HybridConfig``) and the settings
  of ``hybrid simulate`` and ``cost compare``; :mod:`workbench.decision.scenario_config`: the
  tables of a scenario file (``ScenarioWorkload``, ``OptionSpec``, ``Scenario``).
* :mod:`workbench.decision.scenarios`: finding and loading scenario files, and the runs they
  name (``load_scenario``, ``resolve_run``).
* :mod:`workbench.decision.resolve`: each option's prices and throughput (``resolve_options``);
  :mod:`workbench.decision.options`: every option priced with its break-even
  (``compare_options``).
* :mod:`workbench.decision.arrivals`, :mod:`~workbench.decision.policies`,
  :mod:`~workbench.decision.simulate`: a discrete-event simulation of local workers with
  overflow to the cloud, per routing policy (``compare_policies``, ``pareto_front``);
  :mod:`workbench.decision.hybrid_setup` builds one from a scenario and its runs.
* :mod:`workbench.decision.compare`: the whole decision for one workload, headless (``decide``,
  ``with_routing``; ``charts``), which the decision panel, the decision dashboard, the static
  export and the report render; :mod:`workbench.decision.result`: the decision as a value
  (``Decision`` with its ``Recommendation``, saved as a run by ``record_decision``);
  :mod:`workbench.decision.recommend`: the rules that pick the recommendation (``recommend``);
  :mod:`workbench.decision.quality`: what is known of each option's answers, and the rules that
  rule an option out; :mod:`workbench.decision.report`: a decision as one offline HTML or
  Markdown page (``write_report``), and as the section the static export opens with
  (``decision_section``);
  :mod:`workbench.decision.sources`: which saved runs feed a scenario and the runs and prices
  behind the figures (``RunChoice``), which the decision dashboard lists.
* :mod:`workbench.decision.cli`: ``workbench decide``, ``workbench cost compare`` and
  ``workbench hybrid simulate``.

Example
-------
>>> from workbench.decision import (
...     ArrivalConfig, CloudConfig, HybridConfig, LocalServiceConfig, NetworkModel,
...     compare_policies, pareto_front)
>>> config = HybridConfig(
...     local=LocalServiceConfig(workers=2, service_samples_s=(0.08, 0.1, 0.15)),
...     cloud=CloudConfig(sampler=NetworkModel(floor_s=0.2), cost_per_request=0.002),
...     arrivals=ArrivalConfig(rate_per_s=18.0, num_requests=5_000),
...     latency_objective_s=0.5)
>>> table = pareto_front(compare_policies(config, seed=1))
"""

from __future__ import annotations

from workbench.decision.arrivals import diurnal_rate_per_s, generate_arrivals
from workbench.decision.compare import (
    chart_inputs,
    charts,
    decide,
    latency_samples_ms,
    next_step,
    with_routing,
    with_workload,
)
from workbench.decision.config import (
    MAX_REQUESTS,
    PATTERNS,
    ArrivalConfig,
    CloudConfig,
    CompareSettings,
    HybridConfig,
    LocalServiceConfig,
    NetworkModel,
    ScenarioSimulation,
)
from workbench.decision.errors import (
    ScenarioError,
    ScenarioRunError,
    SimulationTooLargeError,
    UnknownPatternError,
    UnknownPolicyError,
)
from workbench.decision.hybrid_setup import HybridSetup, setup_from_scenario, simulate_scenario
from workbench.decision.options import COMPARE_COLUMNS, compare_options
from workbench.decision.policies import (
    POLICIES,
    CloudOnly,
    Deadline,
    LocalOnly,
    Overflow,
    Request,
    RoutingPolicy,
    SystemState,
    first_free_estimator,
    make_policy,
    parse_policy,
    percentile_estimator,
    predicted_local_latency_s,
    residual_estimator,
)
from workbench.decision.recommend import cheapest_option, recommend
from workbench.decision.report import decision_section, write_report
from workbench.decision.resolve import ResolvedOption, SourceRef, Throughput, resolve_options
from workbench.decision.result import Decision, Recommendation
from workbench.decision.scenario_config import (
    ARRIVAL_PATTERNS,
    OPTION_KINDS,
    OptionSpec,
    Scenario,
    ScenarioWorkload,
)
from workbench.decision.scenarios import (
    LATEST_PREFIX,
    list_scenarios,
    load_scenario,
    parse_run_ref,
    resolve_run,
    scenarios_dir,
)
from workbench.decision.simulate import (
    PolicyResult,
    SimulationTrace,
    compare_policies,
    default_policies,
    pareto_front,
    simulate,
    simulate_trace,
)
from workbench.decision.sources import RunChoice, missing_runs_message, price_rows, run_rows

__all__ = [
    "ARRIVAL_PATTERNS",
    "COMPARE_COLUMNS",
    "LATEST_PREFIX",
    "MAX_REQUESTS",
    "OPTION_KINDS",
    "PATTERNS",
    "POLICIES",
    "ArrivalConfig",
    "CloudConfig",
    "CloudOnly",
    "CompareSettings",
    "Deadline",
    "Decision",
    "HybridConfig",
    "HybridSetup",
    "LocalOnly",
    "LocalServiceConfig",
    "NetworkModel",
    "OptionSpec",
    "Overflow",
    "PolicyResult",
    "Recommendation",
    "Request",
    "ResolvedOption",
    "RoutingPolicy",
    "RunChoice",
    "Scenario",
    "ScenarioError",
    "ScenarioRunError",
    "ScenarioSimulation",
    "ScenarioWorkload",
    "SimulationTooLargeError",
    "SimulationTrace",
    "SourceRef",
    "SystemState",
    "Throughput",
    "UnknownPatternError",
    "UnknownPolicyError",
    "chart_inputs",
    "charts",
    "cheapest_option",
    "compare_options",
    "compare_policies",
    "decide",
    "decision_section",
    "default_policies",
    "diurnal_rate_per_s",
    "first_free_estimator",
    "generate_arrivals",
    "latency_samples_ms",
    "list_scenarios",
    "load_scenario",
    "make_policy",
    "missing_runs_message",
    "next_step",
    "pareto_front",
    "parse_policy",
    "parse_run_ref",
    "percentile_estimator",
    "predicted_local_latency_s",
    "price_rows",
    "recommend",
    "residual_estimator",
    "resolve_options",
    "resolve_run",
    "run_rows",
    "scenarios_dir",
    "setup_from_scenario",
    "simulate",
    "simulate_scenario",
    "simulate_trace",
    "with_routing",
    "with_workload",
    "write_report",
]
