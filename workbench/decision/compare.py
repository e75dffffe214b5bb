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
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from workbench.cost import break_even, cost_curve, sensitivity
from workbench.decision.errors import ScenarioRunError, did_you_mean
from workbench.decision.hybrid_setup import HybridSetup, setup_from_scenario, simulate_scenario
from workbench.decision.options import compare_options
from workbench.decision.quality import ruled_out
from workbench.decision.resolve import resolve_options
from workbench.decision.scenario_config import Scenario, ScenarioWorkload
from workbench.decision.scenarios import LATEST_PREFIX, load_scenario, parse_run_ref
from workbench.decision.sources import RunChoice, missing_runs_message, price_rows, run_rows
from workbench.kit import formats
from workbench.kit.errors import InvalidInputError, RunNotFoundError
from workbench.kit.intervals import samples_needed
from workbench.kit.jsonvalues import json_ready

#: Latencies drawn per side for the latency chart.
LATENCY_DRAWS = 2000

RunRefs = Mapping[str, str] | Callable[[Scenario], Mapping[str, str]] | None


@dataclass(frozen=True)
class Recommendation:
    """The decision's answer in one sentence, with what it rests on.

    Attributes
    ----------
    option, model, variant, where
        What to run (the option, its model and variant) and where its data stays.
    monthly_usd, p95_ms, quality
        Its monthly cost, its p95 latency without queueing, its quality (``None``: unknown).
    quality_label
        The quality as people read it: ``"82%"`` or ``"quality unknown"``.
    runner_up, margin_usd
        The next option the rules allow and how much more it costs a month.
    sentence
        The answer: what to run where, its cost, p95 and quality, and the runner-up.
    caveats
        What a reader must know before acting on it (unknown quality, estimates).
    reasons
        Per option, why it is not the recommendation (the constraint that rules it out, or
        what it costs more).
    """

    option: str
    model: str
    variant: str
    where: str
    monthly_usd: float
    p95_ms: float | None
    quality: float | None
    quality_label: str
    runner_up: str | None
    margin_usd: float | None
    sentence: str
    caveats: tuple[str, ...] = ()
    reasons: dict[str, str] = dataclasses.field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Plain values."""
        return {**dataclasses.asdict(self), "caveats": list(self.caveats)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Recommendation:
        """The inverse of :meth:`to_dict`."""
        values = {f.name: data.get(f.name) for f in dataclasses.fields(cls)}
        values["caveats"] = tuple(data.get("caveats") or ())
        values["reasons"] = dict(data.get("reasons") or {})
        return cls(**values)


@dataclass(eq=False)
class Decision:
    """Everything the decision shows for one scenario at one workload.

    Attributes
    ----------
    scenario
        The scenario as decided (its workload and runs as given to :func:`decide`).
    options
        :func:`workbench.decision.options.compare_options`'s table, with ``p95_ms`` filled in
        for API options from the cloud latency and a ``verdict`` per option; its
        ``attrs["warnings"]`` lists stale prices and data-location flags.
    recommendation
        The answer: what to run where, and why each other option is not it.
    cheapest
        The name of the cheapest option the rules allow (it may differ from the
        recommendation when its quality is unknown and another's is known).
    curve, break_evens
        Monthly cost against volume for every priced option, and where each crosses the
        recommended one.
    sensitivity
        The recommended option's one-at-a-time sensitivity (a tornado chart's data).
    setup, policies
        The hybrid simulation built from the scenario, and one row per routing policy with the
        Pareto front marked.
    latency_samples_ms
        Per-request latency without queueing, per side (local measured, cloud measured or
        modelled).
    sources
        The runs (``runs``) and price rows (``prices``) the figures come from, as tables.
    decided_on
        The day prices were aged to.
    """

    KIND: ClassVar[str] = "decision"

    scenario: Scenario
    options: pd.DataFrame
    recommendation: Recommendation
    cheapest: str
    curve: pd.DataFrame
    break_evens: list[Any]
    sensitivity: pd.DataFrame
    setup: HybridSetup
    policies: pd.DataFrame
    latency_samples_ms: dict[str, np.ndarray]
    sources: dict[str, pd.DataFrame] = dataclasses.field(default_factory=dict)
    decided_on: str = ""
    run_id: str | None = None

    @property
    def title(self) -> str:
        """``"Where should Support chatbot run?"``: the one title every surface shows."""
        return f"Where should {self.scenario.name} run?"

    @property
    def warnings(self) -> list[str]:
        """Stale price rows and options the data rule forbids, one sentence each."""
        return list(self.options.attrs.get("warnings", []))

    def summary(self) -> dict[str, Any]:
        """Headline values for ``workbench runs list``: the recommendation."""
        rec = self.recommendation
        return {
            "scenario": self.scenario.name,
            "recommendation": rec.option,
            "model": rec.model,
            "variant": rec.variant,
            "where": rec.where,
            "monthly_usd": rec.monthly_usd,
            "p95_ms": rec.p95_ms,
            "quality": rec.quality,
            "runner_up": rec.runner_up,
            "margin_usd": rec.margin_usd,
            "sentence": rec.sentence,
        }

    def to_frame(self) -> pd.DataFrame:
        """The options table, one row per option, with its verdict."""
        return self.options.copy()

    def tables(self) -> dict[str, pd.DataFrame]:
        """What a ``decision`` run saves, by table name."""
        samples = [
            pd.DataFrame({"side": side, "latency_ms": np.asarray(values, dtype=float)})
            for side, values in self.latency_samples_ms.items()
        ]
        return {
            "options": _plain(self.options),
            "policies": _plain(self.policies),
            "curve": _plain(self.curve),
            "sensitivity": _plain(self.sensitivity),
            "latency_samples": pd.concat(samples, ignore_index=True) if samples else _EMPTY,
            **{f"sources_{name}": _plain(frame) for name, frame in self.sources.items()},
        }

    def to_dict(self) -> dict[str, Any]:
        """Plain values (JSON-ready through :func:`workbench.kit.jsonvalues.json_ready`)."""
        return {
            "kind": self.KIND,
            "title": self.title,
            "decided_on": self.decided_on,
            "run_id": self.run_id,
            "recommendation": self.recommendation.to_dict(),
            "cheapest": self.cheapest,
            "warnings": self.warnings,
            "break_evens": [b.to_dict() for b in self.break_evens],
            "scenario": self.scenario.to_dict(),
            "setup": {
                "config": self.setup.config.to_dict(),
                "notes": list(self.setup.notes),
                "settings": dataclasses.asdict(self.setup.settings),
            },
            **{
                name: frame.to_dict(orient="records")
                for name, frame in self.tables().items()
                if name != "latency_samples"
            },
            "latency_samples_ms": {
                side: np.asarray(values, dtype=float).tolist()
                for side, values in self.latency_samples_ms.items()
            },
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Decision:
        """The inverse of :meth:`to_dict`."""
        from workbench.cost import BreakEven
        from workbench.decision.config import HybridConfig, ScenarioSimulation

        options = _frame(data["options"])
        if "units" in options:
            options["units"] = options["units"].astype("Int64")
        if "meets_latency_objective" in options:
            options["meets_latency_objective"] = options["meets_latency_objective"].astype(
                "boolean"
            )
        options.attrs["warnings"] = list(data.get("warnings", []))
        options.attrs["scenario"] = data["scenario"]["name"]
        setup = data["setup"]
        sources = {
            key.removeprefix("sources_"): pd.DataFrame(value)
            for key, value in data.items()
            if key.startswith("sources_")
        }
        return cls(
            scenario=Scenario.from_dict(data["scenario"]),
            options=options,
            recommendation=Recommendation.from_dict(data["recommendation"]),
            cheapest=data["cheapest"],
            curve=_frame(data["curve"]),
            break_evens=[BreakEven.from_dict(b) for b in data.get("break_evens", [])],
            sensitivity=_frame(data["sensitivity"]),
            setup=HybridSetup(
                HybridConfig.from_dict(setup["config"]),
                list(setup.get("notes", [])),
                ScenarioSimulation(**setup.get("settings", {})),
            ),
            policies=_frame(data["policies"]),
            latency_samples_ms={
                side: np.asarray(values, dtype=float)
                for side, values in data.get("latency_samples_ms", {}).items()
            },
            sources=sources,
            decided_on=data.get("decided_on", ""),
            run_id=data.get("run_id"),
        )

    def run_config(self) -> dict[str, Any]:
        """What a ``decision`` run keeps in its ``run.json``: everything but its tables."""
        tables = set(self.tables()) | {"latency_samples_ms"}
        data = {k: v for k, v in self.to_dict().items() if k not in tables}
        return {"decision": json_ready(data), "decided_on": self.decided_on}

    @classmethod
    def from_run(cls, run: Any) -> Decision:
        """The decision a ``decision`` run saved."""
        data: dict[str, Any] = dict(run.config.get("decision", {}))
        for name in run.tables:
            frame = run.table(name)
            if name == "latency_samples":
                data["latency_samples_ms"] = {
                    str(side): group["latency_ms"].to_numpy()
                    for side, group in frame.groupby("side", sort=False)
                }
            else:
                data[name] = frame.to_dict(orient="records")
        data["run_id"] = run.id
        return cls.from_dict(data)


_EMPTY = pd.DataFrame()


def _frame(records: list[dict[str, Any]]) -> pd.DataFrame:
    """A table from JSON records: a column that JSON left all null is a float column of NaN."""
    frame = pd.DataFrame(records)
    for column in frame.columns:
        if frame[column].isna().all():
            frame[column] = np.nan
    return frame


def _plain(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy without attrs (a saved table keeps only its columns)."""
    out = frame.copy()
    out.attrs = {}
    return out


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
    in :func:`recommend`.

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
        sources={"runs": run_rows(scenario, written, runs_dir), "prices": price_rows(frame)},
        decided_on=(today or datetime.date.today()).isoformat(),
    )


def with_routing(decision: Decision) -> Decision:
    """``decision`` with its hybrid routing simulated (for one decided with ``routing=False``)."""
    if not decision.policies.empty:
        return decision
    return dataclasses.replace(decision, policies=simulate_scenario(decision.setup))


def record_decision(decision: Decision, runs_dir: str | os.PathLike[str] | None = None) -> str:
    """Save ``decision`` as a run of kind ``decision``; its run id (also set on it).

    Raises
    ------
    RunsDirError
        When the runs folder cannot be written.
    """
    from workbench.runs import record

    with record(
        Decision, decision.run_config(), label=decision.scenario.name, runs_dir=runs_dir
    ) as recording:
        recording.save(decision)
    return str(decision.run_id)


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
    "Decision",
    "Recommendation",
    "chart_inputs",
    "charts",
    "cheapest_option",
    "decide",
    "latency_samples_ms",
    "next_step",
    "recommend",
    "record_decision",
    "with_routing",
    "with_workload",
]
