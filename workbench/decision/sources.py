"""Where a decision's figures come from: which saved runs feed a scenario, and the runs and price
rows behind its figures, as plain tables.

A published decision dashboard decides from its own runs (``run_ids``): the newest given
benchmark of the scenario's model feeds the local side (else the newest of the same task), and a
``cloud`` run, when one is given, the measured cloud latency. Without ``run_ids`` the scenario's
own ``[runs]`` are used where they resolve, else the same search among every complete benchmark.
"""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import urlparse

import pandas as pd

from workbench import runs
from workbench.bench.result import with_engine
from workbench.decision.scenario_config import Scenario
from workbench.decision.scenarios import (
    LATEST_PREFIX,
    list_scenarios,
    load_scenario,
    parse_run_ref,
    resolve_run,
)
from workbench.kit.errors import RunNotFoundError, WorkbenchError
from workbench.models.engines import DEFAULT_ENGINE

RUN_COLUMNS = ("used for", "run", "what it measured", "measured on", "figures")
PRICE_COLUMNS = ("price_row", "source", "as_of", "stale", "options")

RunsDir = str | os.PathLike[str] | None


class RunChoice:
    """Which saved runs feed each scenario's local and cloud sides.

    Parameters
    ----------
    runs_dir
        The folder of runs; ``None`` means ``$WORKBENCH_RUNS_DIR`` or ``./runs``.
    run_ids
        The runs to decide from (``bench`` runs for the local side, a ``cloud`` run for the
        measured cloud latency); ``None`` uses the runs each scenario names, else the newest.
    """

    def __init__(self, runs_dir: RunsDir = None, run_ids: list[str] | None = None) -> None:
        self.runs_dir = runs_dir
        self.run_ids = run_ids
        self.chosen: list[runs.Run] = []  # the runs given in run_ids, once loaded
        self._local_runs: dict[str, str | None] = {}  # by scenario, until forget()

    def forget(self) -> None:
        """Look the runs up again next time (after a reload, or new runs were made)."""
        self._local_runs = {}

    def load_given(self) -> list[str]:
        """Load ``run_ids``; the ids that are not in the runs folder."""
        found = {s.id for s in runs.list_runs(self.runs_dir)}
        ids = self.run_ids or []
        self.chosen = [runs.load_run(i, self.runs_dir) for i in ids if i in found]
        return [i for i in ids if i not in found]

    def check_has_benchmark(self) -> None:
        """Refuse given runs among which no benchmark can feed the local side.

        Raises
        ------
        RunNotFoundError
            When none of the runs loaded is a benchmark; the message says what to publish.
        """
        if not any(r.kind == "bench" for r in self.chosen):
            kinds = ", ".join(sorted({r.kind for r in self.chosen})) or "none"
            raise RunNotFoundError(
                f"None of this dashboard's runs is a benchmark (their kinds: {kinds}), so there "
                "are no local figures to decide from. Publish a `workbench bench MODEL` run with "
                "them: `workbench publish BENCH_RUN_ID OTHER_RUN_ID... --out DIR`."
            )

    def candidates(self) -> list[runs.RunSummary]:
        """Complete bench runs to draw the local side from, newest first."""
        if self.run_ids is not None:
            pool = [_summary_of(r) for r in self.chosen if r.kind == "bench"]
        else:
            pool = [s for s in runs.list_runs(self.runs_dir) if s.kind == "bench"]
        complete = [s for s in pool if s.status == "complete"]
        return sorted(complete, key=lambda s: s.started_at or "", reverse=True)

    def local_run(self, scenario: Scenario) -> str | None:
        """The bench run that feeds ``scenario``'s local side, or None when there is none.

        With ``run_ids``: the newest given benchmark of the scenario's model, else of the same
        task. Without: the run the scenario names if there is one, else the same search among
        every complete benchmark in the runs folder. Looked up once per scenario.
        """
        key = scenario.path or scenario.name
        if key not in self._local_runs:
            self._local_runs[key] = self._find_local_run(scenario)
        return self._local_runs[key]

    def _find_local_run(self, scenario: Scenario) -> str | None:
        ref = scenario.runs.get("local", "")
        if self.run_ids is None and ref:
            try:
                return resolve_run(ref, self.runs_dir).id  # the scenario's own choice
            except WorkbenchError:
                pass
        model = _model_of(ref)
        candidates = self.candidates()
        same_model = [s for s in candidates if s.summary.get("model") == model]
        if same_model:
            return same_model[0].id
        task = "text-generation" if scenario.workload.output_tokens > 0 else "embeddings"
        for summary in candidates:
            if _task(summary.id, self.runs_dir) == task:
                return summary.id
        return None

    def refs_for(self, scenario: Scenario) -> dict[str, str]:
        """The run references that replace ``scenario``'s ``[runs]``.

        Raises
        ------
        RunNotFoundError
            With ``run_ids``, when none of them can feed the scenario's local side; the message
            names the runs there are, not where they are.
        """
        refs: dict[str, str] = {}
        local = self.local_run(scenario)
        if local is not None:
            refs["local"] = local
        elif self.run_ids is not None:
            raise RunNotFoundError(_no_local_run(scenario, self.candidates()))
        cloud = [r for r in self.chosen if r.kind == "cloud" and r.status == "complete"]
        if cloud:
            refs["cloud"] = max(cloud, key=lambda r: r.started_at).id
        return refs

    def scenario_for_newest(self) -> str | None:
        """The shipped scenario written for the newest benchmark's model (its file stem)."""
        candidates = self.candidates()
        if not candidates:
            return None
        model = candidates[0].summary.get("model")
        for path in list_scenarios():
            ref = load_scenario(path).runs.get("local", "")
            if ref.startswith(LATEST_PREFIX) and _model_of(ref) == model:
                return path.stem
        return None


def missing_runs_message(missing: list[str]) -> str:
    """What to say about published run ids that are not in the runs folder."""
    return (
        "This dashboard was made for runs that are not in its runs folder: "
        f"{', '.join(missing)}. They may have been deleted or moved; publish the "
        "dashboard again from the runs you have (`workbench runs list` shows them)."
    )


def run_rows(
    scenario: Scenario,
    written: dict[str, str],
    runs_dir: RunsDir,
    options: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """One row per run the scenario uses: role, id, what it measured, when, headline figures.

    ``written`` is the scenario's ``[runs]`` as its file has it, to say when a benchmark of
    another model stands in for the one the scenario was written for. ``options`` (the priced
    options table) adds which engine+variant path each option took from a benchmark.
    """
    rows = []
    for role, ref in scenario.runs.items():
        run = resolve_run(ref, runs_dir)
        if run.kind == "bench":
            what, figures = _bench_description(run, _model_of(written.get(role, "")))
            what += _paths_used(scenario, role, options)
        else:
            what, figures = _cloud_description(run)
        rows.append((role, run.id, what, _when(run.started_at), figures))
    return pd.DataFrame(rows, columns=list(RUN_COLUMNS))


def price_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """The price rows a :func:`compare_options` table used: one per catalog row, with its
    source, date, whether it is stale and the options that used it."""
    stale_text = " ".join(frame.attrs.get("warnings", []))
    found: dict[str, dict[str, Any]] = {}
    for row in frame.itertuples(index=False):
        labels = [p for p in str(row.price_rows).split("; ") if p]
        sources = str(row.price_sources).split("; ")
        dates = str(row.price_as_of).split("; ")
        for i, label in enumerate(labels):
            entry = found.setdefault(
                label,
                {
                    "price_row": label,
                    "source": sources[i] if i < len(sources) else "",
                    "as_of": dates[i] if i < len(dates) else "",
                    "stale": label in stale_text,
                    "options": [],
                },
            )
            entry["options"].append(str(row.option))
    rows = [{**e, "options": ", ".join(e["options"])} for e in found.values()]
    return pd.DataFrame(rows, columns=list(PRICE_COLUMNS))


def _model_of(ref: str) -> str:
    """The model of a ``latest:<kind>:<model>`` reference; ``""`` for a run id."""
    return (parse_run_ref(ref) or ("", ""))[1] if ref.startswith(LATEST_PREFIX) else ""


def _summary_of(run: runs.Run) -> runs.RunSummary:
    return runs.RunSummary(
        id=run.id,
        kind=run.kind,
        status=run.status,
        started_at=run.started_at,
        ended_at=run.ended_at,
        label=run.label,
        summary=run.summary,
        tables=tuple(run.tables),
    )


def _no_local_run(scenario: Scenario, candidates: list[runs.RunSummary]) -> str:
    task = "a text-generation" if scenario.workload.output_tokens > 0 else "an embeddings"
    ref = scenario.runs.get("local", "")
    model = ref.rsplit(":", 1)[-1] if ref.startswith(LATEST_PREFIX) else "MODEL"
    have = ", ".join(f"{s.summary.get('model', '?')} ({s.id})" for s in candidates) or "none"
    return (
        f"The scenario {scenario.name!r} needs {task} benchmark, and none of this dashboard's "
        f"benchmarks is one (they measured: {have}). Pick another scenario above, or publish a "
        f"`workbench bench {model}` run with the others."
    )


def _task(run_id: str, runs_dir: RunsDir) -> str:
    try:
        points = runs.load_run(run_id, runs_dir).table("points")
        return str(points["task"].iloc[0]) if len(points) and "task" in points else ""
    except WorkbenchError:
        return ""


def _when(iso: str | None) -> str:
    return (iso or "")[:16].replace("T", " ") + (" UTC" if iso else "")


def _bench_description(run: runs.Run, expected_model: str) -> tuple[str, str]:
    """What a benchmark run measured (its engine+variant paths and first point's settings), and
    its headline figures."""
    points = with_engine(run.table("points"))
    first = points.iloc[0].to_dict() if len(points) else {}
    model = str(run.summary.get("model", run.config.get("model", "")))
    cpu = run.environment.get("cpu_model") or "a CPU"
    cores = run.environment.get("logical_cores")
    what = (
        f"benchmark of {model} on {cpu}{f' ({cores} cores)' if cores else ''}: "
        f"{_paths_measured(points) or '?'}, {first.get('threads', '?')} threads, batch "
        f"{first.get('batch', '?')}"
    )
    figures = f"p50 {_ms(first.get('p50_ms'))}"
    if first.get("task") == "text-generation":
        figures += f", {float(first['tokens_per_s']):.3g} tokens/s"
    if expected_model and expected_model != model:
        what += f"; the scenario was written for {expected_model}, these figures are {model}'s"
    return what, figures


def _paths_measured(points: pd.DataFrame) -> str:
    """The engine+variant paths a points table measured: ``"fp32, int8"``, or with several
    engines ``"transformers fp32, int8-weight-only; llama.cpp q4_1"``."""
    if "variant" not in points.columns or points.empty:
        return ""
    by_engine: dict[str, list[str]] = {}
    for engine, variant in zip(points["engine"], points["variant"], strict=True):
        names = by_engine.setdefault(str(engine), [])
        if str(variant) not in names:
            names.append(str(variant))
    if len(by_engine) == 1 and DEFAULT_ENGINE in by_engine:
        return ", ".join(by_engine[DEFAULT_ENGINE])
    return "; ".join(f"{engine} {', '.join(names)}" for engine, names in by_engine.items())


def _paths_used(scenario: Scenario, role: str, options: pd.DataFrame | None) -> str:
    """``"; This machine runs llama.cpp q4_1"``: the path each option took from the run of
    ``role``; empty without an options table."""
    if options is None or options.empty or "variant" not in options.columns:
        return ""
    used = []
    for spec in scenario.options:
        if spec.run != role or spec.throughput_given:
            continue
        row = options[options["option"] == spec.name]
        if not row.empty and str(row["variant"].iloc[0] or ""):
            used.append(f"{spec.name} runs {row['variant'].iloc[0]}")
    return f"; {', '.join(used)}" if used else ""


def _cloud_description(run: runs.Run) -> tuple[str, str]:
    """What a cloud (endpoint load test) run measured, and its headline figures."""
    endpoint = run.config.get("endpoint") if isinstance(run.config.get("endpoint"), dict) else {}
    model = endpoint.get("model", "")
    host = urlparse(str(endpoint.get("base_url", ""))).hostname or ""
    what = f"{run.kind} run: load test of the endpoint serving {model or 'a model'}"
    if host in ("127.0.0.1", "localhost", "::1"):
        what += " on the loopback cloud (this machine with a simulated network)"
    summary = run.summary
    figures = f"{summary.get('ok', '?')} of {summary.get('requests', '?')} requests answered"
    figures += f", p50 {_ms(summary.get('p50_ms'))}, p95 {_ms(summary.get('p95_ms'))}"
    return what, figures


def _ms(value: Any) -> str:
    try:
        ms = float(value)
    except (TypeError, ValueError):
        return "–"
    return f"{ms / 1000:.3g} s" if ms >= 1000 else f"{ms:.3g} ms"


__all__ = [
    "PRICE_COLUMNS",
    "RUN_COLUMNS",
    "RunChoice",
    "missing_runs_message",
    "price_rows",
    "run_rows",
]
