"""The decision dashboard: the decision panel fed by saved runs, with where every figure comes from.

The :class:`~widgets.decision_panel.DecisionPanel` prices a scenario's options, finds the
break-evens and simulates hybrid routing from the newest benchmark its scenario names. This
dashboard chooses the runs instead, so that a published folder shows its own: the ``bench`` runs
among ``run_ids`` feed the local side (the newest one of the scenario's model, else of the same
task) and a ``cloud`` run, when there is one, gives the measured cloud latency. Beside the panel
it lists each run used with its date and each price row with its source and date.

Opened on a machine with no usable run (``run_ids`` None), it makes the sample benchmark first
(:func:`workbench.samples.runs.ensure_sample_runs`) and says so while it works.
"""

from __future__ import annotations

import datetime
import html
import threading
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlparse

import ipywidgets as w
import pandas as pd

from widgets.common import STYLE, error_html, loading_html, status_html
from widgets.decision_panel import DecisionPanel
from workbench import runs
from workbench.kit.errors import RunNotFoundError, WorkbenchError

DEFAULT_SCENARIO = "support_chatbot"
HOW_TO_MAKE_RUNS = (
    "<div class='wb-empty'><b>No benchmark to decide from.</b> The figures of this dashboard come "
    "from a benchmark of the scenario's model on this machine. Make one from a terminal, then "
    "press <i>Reload</i>:<ul>"
    "<li><code>workbench samples</code>: a short benchmark of smollm2-135m and a small "
    "federated simulation (under a minute);</li>"
    "<li><code>workbench bench smollm2-135m</code>: a full benchmark of the support chatbot's "
    "model (a few minutes); <code>workbench bench minilm</code> for the document search;</li>"
    "</ul>Runs are saved in the runs folder (<code>--runs-dir</code>, else "
    "<code>$WORKBENCH_RUNS_DIR</code>, else <code>./runs</code>).</div>"
)
DASHBOARD_STYLE = """
<style>
.wb-sources {border-collapse: collapse; font-size: 12px;}
.wb-sources th, .wb-sources td
  {padding: 2px 8px; border-bottom: 1px solid #e0e0e0; text-align: left; vertical-align: top;}
.wb-sources th {background: #f5f5f5;}
</style>
"""


class DecisionDashboard(w.AppLayout):
    """Local, edge or cloud for a scenario, from saved runs, with every source on the page.

    Parameters
    ----------
    runs_dir
        The folder of runs; ``None`` means ``$WORKBENCH_RUNS_DIR`` or ``./runs``.
    run_ids
        The runs to decide from (``bench`` runs for the local side, a ``cloud`` run for the
        measured cloud latency); ``None`` uses the newest runs each scenario names.
    scenario
        The scenario shown first; ``None`` picks the one written for the runs' model.
    sample_model
        With ``run_ids`` None and no usable benchmark, measure this model briefly first (the
        sample runs); ``None`` explains how to make a run instead.
    sample_settings
        What the sample runs measure (default :class:`workbench.samples.runs.SampleSettings` for
        ``sample_model``).
    today, requests
        Passed to the panel: the day price ages are counted to, and the requests per simulated
        stream.
    load_now
        Read the runs and compute at once; otherwise call :meth:`load` (or press Reload).
    background
        Load on a thread, so that a page shows the loading state while samples are made.
    """

    def __init__(
        self,
        runs_dir: str | None = None,
        run_ids: Sequence[str] | None = None,
        *,
        scenario: str | None = None,
        sample_model: str | None = "smollm2-135m",
        sample_settings: Any = None,
        today: datetime.date | None = None,
        requests: int = 5_000,
        load_now: bool = True,
        background: bool = False,
        **kwargs: Any,
    ):
        self.runs_dir = runs_dir
        self.run_ids = None if run_ids is None else list(run_ids)
        self.sample_settings = sample_settings
        if sample_settings is None and sample_model:
            from workbench.samples.runs import SampleSettings

            self.sample_settings = SampleSettings.for_model(sample_model)
        self._scenario_given = scenario is not None
        self.chosen: list[runs.Run] = []  # the runs given in run_ids, once loaded
        self.samples_made: list[str] = []
        self.thread: threading.Thread | None = None
        self._local_runs: dict[str, str | None] = {}  # by scenario, until the next Reload

        self.status = w.HTML(loading_html("Loading the runs …"))
        self.errors = w.HTML()
        self.reload_button = w.Button(description="Reload", icon="refresh")
        self.runs_used = w.HTML()
        self.prices_used = w.HTML()
        self.panel = DecisionPanel(
            scenario=scenario or DEFAULT_SCENARIO,
            runs_dir=runs_dir,
            requests=requests,
            today=today,
            run_refs=self.refs_for,
        )
        self.panel.layout.display = "none"  # until the runs are known
        self.panel.table.observe(lambda _: self._show_sources(), names="value")
        self.reload_button.on_click(lambda _: self.start())
        self.sources_box = w.VBox(
            [
                w.HTML("<h4>Where the figures come from</h4>"),
                self.runs_used,
                w.HTML("<h4>Prices used, with their source and date</h4>"),
                self.prices_used,
            ]
        )
        self.sources_box.layout.display = "none"  # until there are figures to trace
        super().__init__(
            header=w.VBox(
                [
                    w.HTML(STYLE + DASHBOARD_STYLE),
                    w.HBox([self.status, self.reload_button]),
                    self.errors,
                ]
            ),
            center=self.panel,
            footer=self.sources_box,
            **kwargs,
        )
        self.add_class("wb-decision-dashboard")
        if load_now:
            self.start(background)

    def __repr__(self) -> str:
        # Voilà puts the text form beside the widget in the page: keep it short.
        return f"<decision dashboard: {len(self.chosen)} runs given>"

    def _update_layout(self) -> None:
        super()._update_layout()
        self.layout.grid_template_rows = "auto auto auto"  # rows as tall as their content

    # -- loading --------------------------------------------------------------------------------

    def start(self, background: bool = False) -> None:
        """Load now, or on a thread (a page then shows the loading state meanwhile)."""
        if not background:
            self.load()
            return
        self.thread = threading.Thread(target=self.load, name="decision-dashboard", daemon=True)
        self.thread.start()

    def load(self) -> None:
        """Read the runs (making the samples when there are none), then compare the options."""
        self.reload_button.disabled = True
        self.errors.value = ""
        self._local_runs = {}
        try:
            self.status.value = loading_html("Loading the runs …")
            if self.run_ids is not None:
                self._load_given_runs()
            elif self.local_run(self.scenario_as_written()) is None and not self._make_samples():
                return
            self._choose_scenario()
            self.status.value = loading_html("Pricing the options and simulating routing …")
            self.panel.compare()
            # Shown only now: a slider moved during a compare on the loading thread would start
            # a second one on the kernel's thread, and the older figures could land last.
            self.panel.layout.display = self.sources_box.layout.display = None
            self.status.value = status_html(
                "Move the workload sliders to see the costs, the break-evens and the routing "
                "change; the runs and prices behind every figure are listed at the bottom."
            )
        except Exception as exc:  # shown in the page, never as a traceback
            self.status.value = status_html("The dashboard could not load.")
            self.errors.value += error_html(exc)
        finally:
            self.reload_button.disabled = False

    def scenario_as_written(self) -> Any:
        """The chosen scenario as its file says (its own ``[runs]``)."""
        from workbench.decision.scenarios import load_scenario

        return load_scenario(self.panel.scenario.value)

    def _load_given_runs(self) -> None:
        """Load ``run_ids``; name missing ones, and explain when none is a benchmark."""
        found = {s.id: s for s in runs.list_runs(self.runs_dir)}
        missing = [i for i in self.run_ids if i not in found]
        self.chosen = [runs.load_run(i, self.runs_dir) for i in self.run_ids if i in found]
        if missing:  # said, and the runs that are there still shown
            self.errors.value = error_html(
                RunNotFoundError(
                    "This dashboard was made for runs that are not in its runs folder: "
                    f"{', '.join(missing)}. They may have been deleted or moved; publish the "
                    "dashboard again from the runs you have (`workbench runs list` shows them)."
                )
            )
        if not any(r.kind == "bench" for r in self.chosen):
            kinds = ", ".join(sorted({r.kind for r in self.chosen})) or "none"
            raise RunNotFoundError(
                f"None of this dashboard's runs is a benchmark (their kinds: {kinds}), so there "
                "are no local figures to decide from. Publish a `workbench bench MODEL` run with "
                "them: `workbench publish BENCH_RUN_ID OTHER_RUN_ID... --out DIR`."
            )

    def _make_samples(self) -> bool:
        """Make the sample benchmark; ``False`` (with the how-to on show) when not allowed."""
        from workbench.samples.runs import ensure_sample_runs

        if self.sample_settings is None:
            self.status.value = status_html("No runs to show.")
            self.errors.value = HOW_TO_MAKE_RUNS
            return False
        settings = self.sample_settings
        what = settings.describe(["bench"])
        self.status.value = loading_html(
            f"Creating sample runs on this machine: {what}. The figures appear when it is done."
        )
        self.samples_made = ensure_sample_runs(
            self.runs_dir,
            kinds=("bench",),
            settings=settings,
            on_step=lambda text: setattr(
                self.status,
                "value",
                loading_html(f"Creating sample runs on this machine: {text} …"),
            ),
        )
        self._local_runs = {}  # look again, now that the sample is there
        return True

    def _choose_scenario(self) -> None:
        """Show the scenario written for the newest run's model, unless one was asked for or the
        scenario on show already has its own run."""
        from workbench.decision.scenarios import list_scenarios, load_scenario, parse_run_ref

        candidates = self._candidates()
        if self._scenario_given or not candidates:
            return
        if self.run_ids is None and self.local_run(self.scenario_as_written()) is not None:
            return
        model = candidates[0].summary.get("model")
        for path in list_scenarios():
            ref = load_scenario(path).runs.get("local", "")
            if ref.startswith("latest:") and (parse_run_ref(ref) or ("", ""))[1] == model:
                self.panel.scenario.value = path.stem
                return

    # -- which runs feed which scenario --------------------------------------------------------

    def _candidates(self) -> list[runs.RunSummary]:
        """Complete bench runs to draw the local side from, newest first."""
        if self.run_ids is not None:
            pool = [_summary_of(r) for r in self.chosen if r.kind == "bench"]
        else:
            pool = [s for s in runs.list_runs(self.runs_dir) if s.kind == "bench"]
        complete = [s for s in pool if s.status == "complete"]
        return sorted(complete, key=lambda s: s.started_at or "", reverse=True)

    def local_run(self, scenario: Any) -> str | None:
        """The bench run that feeds ``scenario``'s local side, or None when there is none.

        With ``run_ids``: the newest given benchmark of the scenario's model, else of the same
        task. Without: the run the scenario names if there is one, else the same search among
        every complete benchmark in the runs folder. Looked up once per scenario until Reload.
        """
        key = scenario.path or scenario.name
        if key not in self._local_runs:
            self._local_runs[key] = self._find_local_run(scenario)
        return self._local_runs[key]

    def _find_local_run(self, scenario: Any) -> str | None:
        from workbench.decision.scenarios import parse_run_ref, resolve_run

        ref = scenario.runs.get("local", "")
        if self.run_ids is None and ref:
            try:
                return resolve_run(ref, self.runs_dir).id  # the scenario's own choice
            except WorkbenchError:
                pass
        model = (parse_run_ref(ref) or ("", ""))[1] if ref.startswith("latest:") else ""
        candidates = self._candidates()
        same_model = [s for s in candidates if s.summary.get("model") == model]
        if same_model:
            return same_model[0].id
        task = "text-generation" if scenario.workload.output_tokens > 0 else "embeddings"
        for summary in candidates:
            if _task(summary.id, self.runs_dir) == task:
                return summary.id
        return None

    def refs_for(self, scenario: Any) -> dict[str, str]:
        """The run references that replace ``scenario``'s ``[runs]`` (the panel asks per compare)."""
        refs: dict[str, str] = {}
        local = self.local_run(scenario)
        if local is not None:
            refs["local"] = local
        elif self.run_ids is not None:  # say which runs there are, not where they are
            raise RunNotFoundError(_no_local_run(scenario, self._candidates()))
        cloud = [r for r in self.chosen if r.kind == "cloud" and r.status == "complete"]
        if cloud:
            refs["cloud"] = max(cloud, key=lambda r: r.started_at).id
        return refs

    # -- sources --------------------------------------------------------------------------------

    def _show_sources(self) -> None:
        """The runs and price rows behind the figures on show (after every compare)."""
        frame = self.panel.options_frame
        if frame is None:
            self.runs_used.value = status_html("No figures on show.")
            self.prices_used.value = ""
            return
        try:
            scenario = self.panel.scenario_with_workload()
            written = self.scenario_as_written().runs
            self.runs_used.value = _runs_html(scenario, written, self.runs_dir)
            self.prices_used.value = _prices_html(frame)
        except Exception as exc:  # shown in the page, never as a traceback
            self.runs_used.value = error_html(exc)

    @property
    def sources_frame(self) -> pd.DataFrame:
        """The price rows used: one row per catalog row with its source, date and options."""
        frame = self.panel.options_frame
        return _price_rows(frame) if frame is not None else pd.DataFrame()


# -- helpers --------------------------------------------------------------------------------------


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


def _no_local_run(scenario: Any, candidates: list[runs.RunSummary]) -> str:
    task = "a text-generation" if scenario.workload.output_tokens > 0 else "an embeddings"
    ref = scenario.runs.get("local", "")
    model = ref.rsplit(":", 1)[-1] if ref.startswith("latest:") else "MODEL"
    have = ", ".join(f"{s.summary.get('model', '?')} ({s.id})" for s in candidates) or "none"
    return (
        f"The scenario {scenario.name!r} needs {task} benchmark, and none of this dashboard's "
        f"benchmarks is one (they measured: {have}). Pick another scenario above, or publish a "
        f"`workbench bench {model}` run with the others."
    )


def _task(run_id: str, runs_dir: str | None) -> str:
    try:
        points = runs.load_run(run_id, runs_dir).table("points")
        return str(points["task"].iloc[0]) if len(points) and "task" in points else ""
    except WorkbenchError:
        return ""


def _when(iso: str | None) -> str:
    return (iso or "")[:16].replace("T", " ") + (" UTC" if iso else "")


def _run_rows(
    scenario: Any, written: dict[str, str], runs_dir: str | None
) -> list[tuple[str, ...]]:
    """One row per run the scenario uses: role, id, what it measured, when, headline figures."""
    from workbench.decision.scenarios import parse_run_ref, resolve_run

    rows = []
    for role, ref in scenario.runs.items():
        run = resolve_run(ref, runs_dir)
        if run.kind == "bench":
            points = run.table("points")
            first = points.iloc[0].to_dict() if len(points) else {}
            model = str(run.summary.get("model", run.config.get("model", "")))
            cpu = run.environment.get("cpu_model") or "a CPU"
            cores = run.environment.get("logical_cores")
            what = (
                f"benchmark of {model} on {cpu}{f' ({cores} cores)' if cores else ''}: "
                f"{first.get('variant', '?')}, {first.get('threads', '?')} threads, batch "
                f"{first.get('batch', '?')}"
            )
            figures = f"p50 {_ms(first.get('p50_ms'))}"
            if first.get("task") == "text-generation":
                figures += f", {float(first['tokens_per_s']):.3g} tokens/s"
            own = written.get(role, "")
            expected = parse_run_ref(own)[1] if own.startswith("latest:") else ""
            if expected and expected != model:
                what += f"; the scenario was written for {expected}, these figures are {model}'s"
        else:
            what, figures = _cloud_description(run)
        rows.append((role, run.id, what, _when(run.started_at), figures))
    return rows


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


def _runs_html(scenario: Any, written: dict[str, str], runs_dir: str | None) -> str:
    rows = _run_rows(scenario, written, runs_dir)
    head = "".join(
        f"<th>{h}</th>" for h in ("used for", "run", "what it measured", "measured on", "figures")
    )
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in row) + "</tr>" for row in rows
    )
    note = ""
    if not any(role == "cloud" for role, *_ in rows):
        note = status_html(
            "Cloud latency is modelled (network round trip plus time per output token), not "
            "measured: publish a `workbench cloud bench` run with the benchmark to use one."
        )
    return f'<table class="wb-sources"><tr>{head}</tr>{body}</table>{note}'


def _price_rows(frame: pd.DataFrame) -> pd.DataFrame:
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
    return pd.DataFrame(rows, columns=["price_row", "source", "as_of", "stale", "options"])


def _prices_html(frame: pd.DataFrame) -> str:
    table = _price_rows(frame)
    head = "".join(
        f"<th>{h}</th>" for h in ("price row", "source", "as of", "older than 180 days", "used by")
    )
    body = "".join(
        "<tr>"
        + "".join(
            f"<td>{html.escape(str(v))}</td>"
            for v in (r.price_row, r.source, r.as_of, "yes" if r.stale else "", r.options)
        )
        + "</tr>"
        for r in table.itertuples(index=False)
    )
    return f'<table class="wb-sources"><tr>{head}</tr>{body}</table>'


def _ms(value: Any) -> str:
    try:
        ms = float(value)
    except (TypeError, ValueError):
        return "–"
    return f"{ms / 1000:.3g} s" if ms >= 1000 else f"{ms:.3g} ms"


__all__ = ["DecisionDashboard"]
