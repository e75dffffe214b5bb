"""The decision's rules: which priced option to recommend, and why not each other one.

:func:`recommend` turns a priced options table (that of
:func:`workbench.decision.options.compare_options`, with ``ruled_out`` filled in) into a
:class:`workbench.decision.result.Recommendation`: the option, the one sentence a reader acts
on, the caveats to know first, and a reason per other option. :func:`cheapest_option` names the
cheapest option the rules allow. Both are pure functions of the table and the scenario.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pandas as pd

from workbench.decision.result import Recommendation
from workbench.decision.scenario_config import Scenario
from workbench.kit import formats
from workbench.kit.errors import InvalidInputError
from workbench.kit.intervals import samples_needed


def recommend(frame: pd.DataFrame, scenario: Scenario) -> Recommendation:
    """The option to recommend from a priced options table, and why not each other one.

    The rules, in order:

    1. An option is ruled out when it cannot serve the peak or cannot be priced, keeps data
       where the workload forbids, misses the latency objective at p50, or has a known
       quality below the scenario's ``quality_floor`` (``ruled_out`` says which).
    2. With a ``quality_floor``, options of known quality (at or above it) come first: the
       cheapest of them is recommended, and a cheaper option of unknown quality is named in
       the caveats, not recommended over it.
    3. Otherwise the cheapest remaining option is recommended; when its quality is unknown
       and another's is known, or when no quality is known and the options serve different
       models, the caveats say that the ranking is on cost and latency only.

    Raises
    ------
    InvalidInputError
        When every option is ruled out; the message gives each one's reason.
    """
    rows = frame.set_index("option", drop=False)
    allowed = rows[rows["ruled_out"].fillna("") == ""]
    if allowed.empty:
        reasons = "; ".join(f"{name}: {why}" for name, why in rows["ruled_out"].items())
        raise InvalidInputError(
            f"No option of {scenario.name!r} can be recommended ({reasons}). Lower the volume or "
            "the peak, relax the latency objective, the data rule or the quality floor, or add "
            "an option."
        )
    known = allowed[allowed["quality"].notna()]
    floor = scenario.workload.quality_floor
    pool = known if floor is not None and not known.empty else allowed
    ranked = pool.sort_values("monthly_usd", kind="stable")
    best = ranked.iloc[0]
    runner = ranked.iloc[1] if len(ranked) > 1 else None
    if runner is None and len(allowed) > 1:
        runner = allowed.drop(best.name).sort_values("monthly_usd", kind="stable").iloc[0]
    caveats = _caveats(best, allowed, known, scenario)
    reasons = _reasons(rows, best, known, floor)
    quality = None if pd.isna(best["quality"]) else float(best["quality"])
    p95 = None if pd.isna(best["p95_ms"]) else float(best["p95_ms"])
    margin = None if runner is None else float(runner["monthly_usd"] - best["monthly_usd"])
    rec = Recommendation(
        option=str(best["option"]),
        model=str(best["model"] or ""),
        variant=str(best["variant"] or ""),
        where=str(best["data_location"]),
        monthly_usd=float(best["monthly_usd"]),
        p95_ms=p95,
        quality=quality,
        quality_label=_quality_label(quality, best.get("quality_kind")),
        runner_up=None if runner is None else str(runner["option"]),
        margin_usd=margin,
        sentence="",
        caveats=tuple(caveats),
        reasons=reasons,
    )
    return dataclasses.replace(rec, sentence=_sentence(rec, scenario, runner))


def _quality_label(quality: float | None, kind: Any) -> str:
    """``"quality 82%"`` when measured here, else with how it is known: ``"quality 69%
    (sourced, not measured here)"``; ``"quality unknown"`` without a figure."""
    if quality is None:
        return "quality unknown"
    if kind in (None, "", "measured") or (isinstance(kind, float) and pd.isna(kind)):
        return f"quality {quality:.0%}"
    if kind == "inherited":
        return f"quality {quality:.0%} (inherited from the measured model)"
    return f"quality {quality:.0%} ({kind}, not measured here)"


_WHERE = {
    "device": "data stays on the device",
    "premises": "data stays on the premises",
    "provider-region": "data goes to the provider's region",
}


def _sentence(rec: Recommendation, scenario: Scenario, runner: pd.Series | None) -> str:
    what = rec.model or rec.option
    if rec.variant:
        what += f" ({rec.variant})"
    volume = scenario.workload.requests_per_month
    p95 = f"p95 {formats.duration_ms(rec.p95_ms)}" if rec.p95_ms is not None else "p95 unknown"
    text = (
        f"Run {what} on {rec.option} ({_WHERE.get(rec.where, rec.where)}): "
        f"{formats.usd(rec.monthly_usd)} a month for {volume:,.0f} requests, {p95}, "
        f"{rec.quality_label}."
    )
    if runner is not None and rec.margin_usd is not None:
        text += (
            f" Runner-up: {runner['option']} at {formats.usd(float(runner['monthly_usd']))} a "
            f"month ({formats.usd(rec.margin_usd)} more)."
        )
    else:
        text += " No other option is allowed."
    return text


def _caveats(
    best: pd.Series, allowed: pd.DataFrame, known: pd.DataFrame, scenario: Scenario
) -> list[str]:
    caveats = []
    models = sorted({str(m) for m in allowed["model"] if str(m)})
    floor = scenario.workload.quality_floor
    if known.empty and len(models) > 1:
        caveats.append(
            "No option's quality is known and they serve different models "
            f"({', '.join(models)}): this ranks them on cost and latency only. Measure quality "
            "(`workbench eval`, and name the set as `eval_set`) or give `quality` with its "
            "`quality_source` in the scenario."
        )
    elif floor is not None:
        cheaper = allowed[
            allowed["quality"].isna() & (allowed["monthly_usd"] < best["monthly_usd"])
        ]
        for name, row in cheaper.iterrows():
            caveats.append(
                f"{name} is cheaper ({formats.usd(row['monthly_usd'])} a month) but its "
                f"quality is unknown, so the {floor:.0%} floor cannot be checked and it is not "
                "recommended over an option of known quality; measure it to compare."
            )
    elif pd.isna(best["quality"]) and not known.empty:
        caveats.append(
            f"{best['option']}'s quality is unknown while "
            f"{', '.join(f'{n} ({q:.0%})' for n, q in known['quality'].items())} is known: the "
            "ranking is on cost; set `quality_floor` to require a known quality."
        )
    count = best.get("latency_count")
    needed = samples_needed(95)
    if count is not None and not pd.isna(count) and int(count) < needed:
        caveats.append(
            f"{best['option']}'s p95 comes from {int(count)} measured calls: too few samples "
            f"for a p95 interval (n = {int(count)}; need ≥ {needed}); measure more calls "
            f"(`workbench bench MODEL --min-iters {needed}`) before relying on it."
        )
    if bool(best.get("estimate")):
        caveats.append(
            f"{best['option']}'s throughput is an estimate (a roofline projection), not a "
            "measurement on that hardware."
        )
    if scenario.workload.quality_floor is not None and pd.isna(best["quality"]):
        caveats.append(
            f"The quality floor ({scenario.workload.quality_floor:.0%}) could not be checked for "
            f"{best['option']}: its quality is unknown."
        )
    return caveats


def _reasons(
    rows: pd.DataFrame, best: pd.Series, known: pd.DataFrame, floor: float | None
) -> dict[str, str]:
    reasons = {}
    for name, row in rows.iterrows():
        if name == best.name:
            continue
        if row["ruled_out"]:
            reasons[str(name)] = f"ruled out: {row['ruled_out']}"
        elif floor is not None and not known.empty and pd.isna(row["quality"]):
            reasons[str(name)] = "quality unknown, and an option of known quality is allowed"
        else:
            more = float(row["monthly_usd"] - best["monthly_usd"])
            reasons[str(name)] = f"costs {formats.usd(more)} more a month"
    return reasons


def cheapest_option(frame: pd.DataFrame) -> str:
    """The name of the cheapest option of a :func:`compare_options` table that the rules allow
    (any feasible one when the table has no ``ruled_out`` column).

    Raises
    ------
    InvalidInputError
        When no option can serve the workload.
    """
    feasible = frame[frame["feasible"] & frame["monthly_usd"].notna()]
    if "ruled_out" in feasible:
        allowed = feasible[feasible["ruled_out"].fillna("") == ""]
        feasible = allowed if not allowed.empty else feasible
    if feasible.empty:
        raise InvalidInputError("No option can serve this workload; lower the volume or the peak.")
    return str(feasible.loc[feasible["monthly_usd"].idxmin(), "option"])


__all__ = ["cheapest_option", "recommend"]
