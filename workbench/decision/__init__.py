"""Hybrid routing: simulate local workers with overflow to the cloud, per routing policy.

A discrete-event simulation on a virtual clock: a seeded request stream (Poisson, diurnal,
bursty) is served by local workers whose service times come from a measured local run, and a
routing policy sends some requests to a cloud option whose latencies come from a measured
endpoint run or a network model. :func:`compare_policies` gives one row per policy (latency
percentiles, goodput, share offloaded, monthly cost) and :func:`pareto_front` marks the rows
worth charting on latency versus cost.

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
from workbench.decision.config import (
    MAX_REQUESTS,
    PATTERNS,
    ArrivalConfig,
    CloudConfig,
    HybridConfig,
    LocalServiceConfig,
    NetworkModel,
)
from workbench.decision.errors import (
    SimulationTooLargeError,
    UnknownPatternError,
    UnknownPolicyError,
)
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
from workbench.decision.simulate import (
    PolicyResult,
    SimulationTrace,
    compare_policies,
    default_policies,
    pareto_front,
    simulate,
    simulate_trace,
)

__all__ = [
    "MAX_REQUESTS",
    "PATTERNS",
    "POLICIES",
    "ArrivalConfig",
    "CloudConfig",
    "CloudOnly",
    "Deadline",
    "HybridConfig",
    "LocalOnly",
    "LocalServiceConfig",
    "NetworkModel",
    "Overflow",
    "PolicyResult",
    "Request",
    "RoutingPolicy",
    "SimulationTooLargeError",
    "SimulationTrace",
    "SystemState",
    "UnknownPatternError",
    "UnknownPolicyError",
    "compare_policies",
    "default_policies",
    "diurnal_rate_per_s",
    "first_free_estimator",
    "generate_arrivals",
    "make_policy",
    "pareto_front",
    "parse_policy",
    "percentile_estimator",
    "predicted_local_latency_s",
    "residual_estimator",
    "simulate",
    "simulate_trace",
]
