"""What the decision knows of each option's answers, and the rules that rule an option out.

Options that serve different models do not give interchangeable answers, so cost and latency
alone cannot rank them. An option's quality is a score from 0 to 1 on the scenario's evaluation,
found in this order:

1. ``quality`` given in the option, with its ``quality_source`` (a published score, a vendor's
   model card, a score measured elsewhere), as the scenario file states it;
2. the newest complete ``eval`` run, on the scenario's ``eval_set`` (whole set, not a
   ``--limit`` sample), of the option's model and variant (fp32's for a variant within the
   drift tolerance); ``workbench eval`` records those;
3. otherwise the quality is unknown, and the decision says so: it does not recommend an option
   of unknown quality over one of known quality without saying why.

A variant (int8, bf16…) is only used when its drift against fp32 is within the scenario's
tolerance (:mod:`workbench.decision.resolve`), so the model's score stands for the variant.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from typing import Any

from workbench import runs
from workbench.decision.resolve import ResolvedOption
from workbench.decision.scenario_config import Scenario
from workbench.kit import formats

#: The run kind whose summary gives a model's score.
EVAL_KIND = "eval"


def eval_scores(
    runs_dir: str | os.PathLike[str] | None = None, eval_set: str = ""
) -> dict[tuple[str, str], tuple[float, str]]:
    """The newest complete ``eval`` run's score on ``eval_set`` per model and variant:
    ``{(model, variant): (score, source)}`` (variant ``""`` for an endpoint). Without an
    ``eval_set`` nothing is used: scores on different sets do not compare."""
    found: dict[tuple[str, str], tuple[float, str]] = {}
    if not eval_set:
        return found
    try:
        summaries = runs.list_runs(runs_dir)
    except (OSError, ValueError):
        return found
    for summary in summaries:  # oldest first, so the newest wins
        if summary.kind != EVAL_KIND or summary.status != "complete":
            continue
        values = summary.summary
        model, score = values.get("model"), values.get("score")
        if values.get("eval_set") != eval_set or values.get("limit"):
            continue  # another set, or a sample of it
        if not model or not isinstance(score, int | float) or not 0 <= score <= 1:
            continue
        variant = str(values.get("variant") or "")
        when = (summary.started_at or "")[:10]
        low, high = values.get("score_low"), values.get("score_high")
        interval = (
            f", 95% interval {low:.0%}–{high:.0%}"
            if isinstance(low, int | float) and isinstance(high, int | float)
            else ""
        )
        source = (
            f"measured: eval run {summary.id} ({eval_set}, {values.get('items', '?')} items"
            f"{interval}, {when})"
        )
        found[(str(model), variant)] = (float(score), source)
    return found


def find_qualities(
    scenario: Scenario,
    resolved: Sequence[ResolvedOption],
    runs_dir: str | os.PathLike[str] | None = None,
) -> dict[str, dict[str, Any]]:
    """Each option's ``model``, ``quality`` (NaN when unknown) and ``quality_source``.

    An option's measured variant is looked up first; a local model's fp32 score stands for a
    variant whose drift is within the scenario's tolerance, and says so.
    """
    scores = eval_scores(runs_dir, scenario.workload.eval_set)
    out: dict[str, dict[str, Any]] = {}
    for item in resolved:
        option = item.spec
        model = option.model if option.kind == "api" else ""
        variant = ""
        if not model and item.throughput is not None:
            model, variant = item.throughput.model, item.throughput.variant
        quality, source = math.nan, ""
        if option.quality is not None:
            quality, source = float(option.quality), f"given: {option.quality_source}"
        elif (model, variant) in scores:
            quality, source = scores[(model, variant)]
        elif variant and (model, "fp32") in scores:
            quality, source = scores[(model, "fp32")]
            source += f"; fp32's score, the {variant} variant being within the drift tolerance"
        out[option.name] = {"model": model, "quality": quality, "quality_source": source}
    return out


def ruled_out(row: dict[str, Any], scenario: Scenario) -> str:
    """Why the decision may not recommend the option of ``row``, or ``""``.

    In order: it cannot be priced or cannot serve the peak; it keeps data where the workload
    forbids; it misses the latency objective at p50; its known quality is below the floor.
    """
    workload = scenario.workload
    if not row.get("feasible") or _missing(row.get("monthly_usd")):
        return str(row.get("reason") or "cannot be priced or cannot serve the peak")
    rule = workload.data_rule
    if not row.get("on_premises_ok", True):
        return f"keeps data at {row.get('data_location')}; data must stay on the {rule}"
    objective = workload.latency_objective_ms
    p50 = row.get("p50_ms")
    if objective is not None and not _missing(p50) and float(p50) > objective:
        return (
            f"p50 latency {formats.duration_ms(p50)} misses the "
            f"{formats.duration_ms(objective)} objective"
        )
    floor = workload.quality_floor
    quality = row.get("quality")
    if floor is not None and not _missing(quality) and float(quality) < floor:
        return f"quality {float(quality):.0%} is below the floor {floor:.0%}"
    return ""


def _missing(value: Any) -> bool:
    return formats.is_missing(value)


__all__ = ["EVAL_KIND", "eval_scores", "find_qualities", "ruled_out"]
