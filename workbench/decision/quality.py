"""What the decision knows of each option's answers, and the rules that rule an option out.

Options that serve different models do not give interchangeable answers, so cost and latency
alone cannot rank them. An option's quality is a score from 0 to 1 on the scenario's evaluation,
found in this order:

1. ``quality`` given in the option, with its ``quality_source`` (a published score, a vendor's
   model card, a score measured elsewhere), as the scenario file states it;
2. the newest complete ``eval`` run in the runs folder whose summary names the option's model
   and gives a ``score`` (``workbench eval`` records those);
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


def eval_scores(runs_dir: str | os.PathLike[str] | None = None) -> dict[str, tuple[float, str]]:
    """The newest complete ``eval`` run's score per model: ``{model: (score, source)}``."""
    found: dict[str, tuple[float, str]] = {}
    try:
        summaries = runs.list_runs(runs_dir)
    except (OSError, ValueError):
        return found
    for summary in summaries:  # oldest first, so the newest wins
        if summary.kind != EVAL_KIND or summary.status != "complete":
            continue
        model, score = summary.summary.get("model"), summary.summary.get("score")
        if not model or not isinstance(score, int | float) or not 0 <= score <= 1:
            continue
        when = (summary.started_at or "")[:10]
        what = summary.summary.get("eval_set") or summary.summary.get("eval") or "an eval set"
        found[str(model)] = (float(score), f"eval run {summary.id} ({what}, {when})")
    return found


def find_qualities(
    scenario: Scenario,
    resolved: Sequence[ResolvedOption],
    runs_dir: str | os.PathLike[str] | None = None,
) -> dict[str, dict[str, Any]]:
    """Each option's ``model``, ``quality`` (NaN when unknown) and ``quality_source``."""
    scores = eval_scores(runs_dir)
    out: dict[str, dict[str, Any]] = {}
    for item in resolved:
        option = item.spec
        model = option.model if option.kind == "api" else ""
        if not model and item.throughput is not None:
            model = item.throughput.model
        if option.quality is not None:
            quality, source = float(option.quality), option.quality_source
        elif model in scores:
            quality, source = scores[model]
        else:
            quality, source = math.nan, ""
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
