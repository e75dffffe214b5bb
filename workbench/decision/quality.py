"""What the decision knows of each option's answers, and the rules that rule an option out.

Options that serve different models do not give interchangeable answers, so cost and latency
alone cannot rank them. An option's quality is a score from 0 to 1 on the scenario's evaluation,
found in this order:

1. ``quality`` given in the option, with its ``quality_source`` (a published score, a vendor's
   model card, a score measured elsewhere), as the scenario file states it (kind ``sourced``);
2. the newest complete ``eval`` run, on the scenario's ``eval_set`` or a set scoring the same
   items (its card's ``same_items_as``: ticket-topics scores ticket-routing's tickets with
   embeddings) (whole set, not a ``--limit`` sample), of the option's model and variant (fp32's for a variant within the
   drift tolerance); ``workbench eval`` records those (kind ``measured`` for a local or API
   option's own model, ``inherited`` for an instance or owned option running the local model,
   or for a variant taking fp32's score);
3. a published score on the same set in ``data/quality/*.csv``, with its source and date
   (kind ``sourced``: not measured on this machine);
4. otherwise the quality is unknown, and the decision says so: it does not recommend an option
   of unknown quality over one of known quality without saying why.

A variant (int8, bf16…) or another engine's path (llama.cpp q4_1) is only used when its drift
against transformers fp32 is within the scenario's tolerance
(:mod:`workbench.decision.resolve`), so the model's score stands for that path.
"""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Sequence
from typing import Any

from workbench import runs
from workbench.decision.resolve import ResolvedOption, path_name
from workbench.decision.scenario_config import Scenario
from workbench.kit import formats
from workbench.kit.paths import data_dir

#: The run kind whose summary gives a model's score.
EVAL_KIND = "eval"
#: How an option's quality figure is known, from the most to the least direct.
QUALITY_KINDS = ("measured", "inherited", "sourced", "unknown")


def published_scores(eval_set: str) -> dict[str, tuple[float, str]]:
    """Published scores on ``eval_set`` from ``data/quality/*.csv`` (each row with its source
    and as_of): ``{model: (score, source)}``. Only rows of the scenario's own set count, since a
    score on another benchmark does not measure the same thing."""
    found: dict[str, tuple[float, str]] = {}
    folder = data_dir() / "quality"
    if not eval_set or not folder.is_dir():
        return found
    for path in sorted(folder.glob("*.csv")):
        with path.open(encoding="utf-8", newline="") as handle:
            for row in csv.DictReader(handle):
                if row.get("eval_set") != eval_set:
                    continue
                source = (
                    f"published, not measured here: {row['source']} (as of {row['as_of']}); "
                    f"{row.get('notes', '')}".rstrip("; ")
                )
                found[row["model"]] = (float(row["score"]), source)
    return found


def eval_scores(
    runs_dir: str | os.PathLike[str] | None = None, eval_set: str = ""
) -> dict[tuple[str, str], tuple[float, str]]:
    """The newest complete ``eval`` run's score on ``eval_set`` per model and variant:
    ``{(model, variant): (score, source)}`` (variant ``""`` for an endpoint; a run on an engine
    other than transformers is keyed by its path, ``"llama.cpp q4_1"``). Without an
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
        scored = values.get("eval_set")
        if eval_set not in (scored, values.get("same_items_as")) or values.get("limit"):
            continue  # another set's items, or a sample of them
        if not model or not isinstance(score, int | float) or not 0 <= score <= 1:
            continue
        variant = str(values.get("variant") or "")
        if variant and values.get("engine"):
            variant = path_name(str(values["engine"]), variant)
        when = (summary.started_at or "")[:10]
        low, high = values.get("score_low"), values.get("score_high")
        interval = (
            f", 95% interval {low:.0%}–{high:.0%}"
            if isinstance(low, int | float) and isinstance(high, int | float)
            else ""
        )
        how = scored if scored == eval_set else f"{scored}: the {eval_set} items"
        if values.get("classifier") == "logreg-head":
            how += " labelled by a logistic-regression head"
        source = (
            f"measured: eval run {summary.id} ({how}, {values.get('items', '?')} items"
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

    An option's measured engine+variant path is looked up first; a local model's transformers
    fp32 score stands for a path (a transformers variant, or another engine's such as
    llama.cpp q4_1) whose drift is within the scenario's tolerance, and says so.
    """
    scores = eval_scores(runs_dir, scenario.workload.eval_set)
    published = published_scores(scenario.workload.eval_set)
    out: dict[str, dict[str, Any]] = {}
    for item in resolved:
        option = item.spec
        model = option.model if option.kind == "api" else ""
        variant = ""
        if not model and item.throughput is not None:
            model = item.throughput.model
            variant = path_name(item.throughput.engine, item.throughput.variant)
        # A local option measures its own model; others run a model measured elsewhere.
        own = "measured" if option.kind in ("local", "api") else "inherited"
        quality, source, kind = math.nan, "", "unknown"
        if option.quality is not None:
            quality, source, kind = float(option.quality), option.quality_source, "sourced"
        elif (model, variant) in scores:
            (quality, source), kind = scores[(model, variant)], own
        elif variant and (model, "fp32") in scores:
            (quality, source), kind = scores[(model, "fp32")], "inherited"
            noun = "variant" if variant == item.throughput.variant else "path"
            source += f"; fp32's score, the {variant} {noun} being within the drift tolerance"
        elif model in published:
            (quality, source), kind = published[model], "sourced"
        out[option.name] = {
            "model": model,
            "quality": quality,
            "quality_kind": kind,
            "quality_source": source,
        }
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


__all__ = [
    "EVAL_KIND",
    "QUALITY_KINDS",
    "eval_scores",
    "find_qualities",
    "published_scores",
    "ruled_out",
]
