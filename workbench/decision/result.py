"""What a decision is, as a value: :class:`Decision` (everything the decision shows for one
scenario at one workload) and :class:`Recommendation` (its answer in one sentence, with what it
rests on), their serialisation (``to_dict``/``from_dict``, ``tables``, ``from_run``,
``run_config``) and :func:`record_decision`, which saves one as a run of kind ``decision``.

:func:`workbench.decision.compare.decide` makes a decision;
:func:`workbench.decision.recommend.recommend` makes its recommendation. Both import this
module and it imports neither, so the three form no import cycle.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from workbench.decision.hybrid_setup import HybridSetup
from workbench.decision.scenario_config import Scenario
from workbench.kit.jsonvalues import json_ready


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
        The scenario as decided (its workload and runs as given to
        :func:`workbench.decision.compare.decide`).
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


__all__ = ["Decision", "Recommendation", "record_decision"]
