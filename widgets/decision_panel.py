"""The decision panel: where a scenario's model should run, with the options priced, the
break-evens, the sensitivity and hybrid routing simulated.

The decision itself is :func:`workbench.decision.decide`; this panel holds the controls and
renders the :class:`~workbench.decision.Decision` it returns: the recommendation in one sentence
at the top, the options and routing tables with their numbers written for people
(:mod:`workbench.kit.formats`), and the charts of :mod:`workbench.cost.plots`, which scale to
the width of the page.

A slider sends its value when it is released (``continuous_update=False``), so the routing
simulation runs once per move, not on every pixel of a drag. With ``background=True`` (the
published dashboard) the work runs on one worker thread, newest request first: moves made while
a decision is computed are merged into one more, and a result that a newer move has made stale
is never shown. The text comes first, then each chart as it is drawn; a chart whose inputs did
not change is not drawn again (:func:`workbench.cost.plots.image`).
"""

from __future__ import annotations

import contextlib
import datetime
import html
import math
import threading
import warnings
from collections.abc import Callable, Mapping
from functools import partial
from typing import Any

import ipywidgets as w
import pandas as pd

from widgets.common import STYLE, error_html, frame_html, status_html
from widgets.forms import LABEL_WIDTH, control
from workbench.decision import (
    ScenarioWorkload,
    chart_inputs,
    decide,
    next_step,
    with_routing,
    with_workload,
)
from workbench.decision.cache import (
    chart_bytes,
    computing,
    decision_key,
    keep_decision,
    kept_chart,
    load_decision,
)
from workbench.kit import formats
from workbench.kit.fields import specs

_OPTION_COLUMNS = [
    "option", "verdict", "ruled_out", "model", "variant", "data_location", "monthly_usd",
    "usd_per_1k_requests", "p50_ms", "p95_ms", "quality", "quality_kind", "feasible",
    "meets_latency_objective",
    "units", "break_even_requests_per_month", "throughput_source", "price_sources",
]  # fmt: skip
_POLICY_COLUMNS = [
    "policy", "p50_ms", "p95_ms", "goodput_share", "offloaded_share", "local_utilization",
    "monthly_cost", "cost_note", "pareto",
]  # fmt: skip
#: In an overloaded routing row these cells give way to its status ("overloaded: needs …").
_PERCENTILE_COLUMNS = ["p50_ms", "p95_ms"]
_LABELS = {
    "data_location": "data stays",
    "quality_kind": "quality is",
    "feasible": "serves the peak",
    "ruled_out": "ruled out",
    "monthly_usd": "per month",
    "usd_per_1k_requests": "per 1k requests",
    "p50_ms": "p50",
    "p95_ms": "p95",
    "meets_latency_objective": "meets objective",
    "throughput_source": "throughput from",
    "break_even_vs": "break-even vs",
    "break_even_requests_per_month": "break-even requests / month",
    "price_sources": "price sources",
    "price_as_of": "prices as of",
    "stale": "price over 180 days old",
    "reason": "note",
    "goodput_share": "within objective",
    "offloaded_share": "sent to cloud",
    "local_utilization": "local busy",
    "monthly_cost": "per month",
    "cost_note": "why no cost",
    "pareto": "Pareto front",
}
_FORMATS: dict[str, Callable[[Any], str]] = {
    "feasible": formats.check,
    "meets_latency_objective": formats.check,
    "monthly_usd": partial(formats.usd, missing="unknown"),
    "usd_per_1k_requests": partial(formats.usd, missing="unknown"),
    "monthly_cost": partial(formats.usd, missing="unknown"),
    "units": formats.count,
    "break_even_requests_per_month": formats.count,
    "p50_ms": formats.duration_ms,
    "p95_ms": formats.duration_ms,
    "quality": partial(formats.percent, missing="unknown"),
    "goodput_share": formats.percent,
    "offloaded_share": formats.percent,
    "local_utilization": formats.percent,
    "pareto": formats.check,
    "stale": lambda value: "yes" if value is True or value == 1 else "",
}


def _prices_tip(row: Mapping[str, Any]) -> str:
    rows, dates = row.get("price_rows") or "", row.get("price_as_of") or ""
    stale = " (older than 180 days)" if row.get("stale") is True or row.get("stale") == 1 else ""
    return f"price rows {rows}, as of {dates}{stale}" if rows else ""


def _break_even_tip(row: Mapping[str, Any]) -> str:
    versus, why = row.get("break_even_vs"), row.get("break_even_reason")
    text = f"against {versus}" if isinstance(versus, str) and versus else ""
    return f"{text}; {why}" if isinstance(why, str) and why else text


#: What the pointer shows on a cell: why this variant, where the quality is from, the price rows
#: and their dates, why an option cannot serve the peak, what a break-even is against.
_TOOLTIPS: dict[str, str | Callable[[Mapping[str, Any]], str]] = {
    "variant": "variant_reason",
    "quality": "quality_source",
    "monthly_usd": _prices_tip,
    "price_sources": _prices_tip,
    "feasible": "reason",
    "break_even_requests_per_month": _break_even_tip,
}
_SLIDER_LAYOUT = {"width": "460px", "max_width": "100%"}
#: The charts, in the order they are drawn: the cost side first, then routing.
_COST_CHARTS = ("cost", "quality", "tornado")
_ROUTING_CHARTS = ("pareto", "latency")
_CHART_FORMAT = "svg"  # text stays text: half the time of a PNG, and sharp at any width


class DecisionPanel(w.VBox):
    """Where should a scenario's model run: the recommendation, every option priced with its
    sources, the break-evens, the sensitivity and hybrid routing.

    Parameters
    ----------
    scenario
        The shipped scenario selected at start (a name from ``data/scenarios``).
    runs_dir
        Where the scenario's runs are (default ``$WORKBENCH_RUNS_DIR`` or ``./runs``).
    requests
        Requests per simulated stream of the hybrid routing comparison.
    today
        The day price ages are counted to (default: the real today); a price row older than
        180 days on it is listed as a warning.
    run_refs
        Run references that replace the scenario's ``[runs]`` entries, e.g. ``{"local": RUN_ID}``:
        a mapping, or a function of the loaded scenario that returns one (so each scenario of
        the dropdown can get its own). A published dashboard passes its own runs this way
        instead of the newest ones.
    background
        Recompute after a slider move on a worker thread, newest move first (a page stays
        responsive and never shows a stale result); otherwise at once, before the setter
        returns (scripts and tests).
    shared
        Read a decision another page has already computed on the same inputs, and keep each
        one computed here for the others (:mod:`workbench.decision.cache`): thirty viewers of
        a published dashboard then price and draw its first view once, not thirty times.
    """

    def __init__(
        self,
        scenario: str = "support_chatbot",
        runs_dir: str | None = None,
        requests: int = 5_000,
        today: datetime.date | None = None,
        run_refs: Mapping[str, str] | Callable[[Any], Mapping[str, str]] | None = None,
        background: bool = False,
        shared: bool = False,
        **kwargs: Any,
    ):
        self.runs_dir = runs_dir
        self.shared = shared
        self.run_refs = run_refs
        self.requests = requests
        self.today = today
        self.background = background
        self.decision: Any = None
        self.options_frame = None
        self.policies_frame = None
        self._base: Any = None
        self._syncing = False
        self._wanted = 0  # the newest compare asked for; older ones stop where they are
        self._wake = threading.Event()
        self._lock = threading.Lock()  # the request count and the Compare button together
        self._worker: threading.Thread | None = None
        self._build_controls(scenario)
        self._build_outputs()
        self.scenario.observe(lambda _: self._load_scenario(), names="value")
        self.requests_per_month.observe(self._volume_changed, names="value")
        for name in (
            "peak_requests_per_s",
            "input_tokens",
            "output_tokens",
            "latency_objective_ms",
            "quality_floor",
        ):
            getattr(self, name).observe(lambda _: self._refresh(), names="value")
        self.compare_button.on_click(lambda _: self._request())
        self._load_scenario()
        super().__init__(self._children(), **kwargs)
        self.add_class("wb-decision-panel")

    def _build_controls(self, scenario: str) -> None:
        """The scenario dropdown and the workload controls, each from its workload field."""
        from workbench.decision import list_scenarios

        names = [p.stem for p in list_scenarios()]
        self.scenario = w.Dropdown(
            options=names,
            value=scenario if scenario in names else (names[0] if names else None),
            description="Scenario",
        )
        self.requests_per_month = _log_slider("requests_per_month", 1e5, ",.0f")
        self.peak_requests_per_s = _log_slider("peak_requests_per_s", 0.1, ".3g")
        self.input_tokens = control(ScenarioWorkload, "input_tokens", value=300)
        self.output_tokens = control(ScenarioWorkload, "output_tokens", value=120)
        for slider in (self.input_tokens, self.output_tokens):
            slider.layout = w.Layout(**_SLIDER_LAYOUT)
        self.latency_objective_ms = _log_slider("latency_objective_ms", 2000, ",.0f")
        self.quality_floor = control(
            ScenarioWorkload, "quality_floor", value=0.0, readout_format=".0%"
        )
        self.quality_floor.continuous_update = False
        self.quality_floor.layout = w.Layout(**_SLIDER_LAYOUT)
        self.compare_button = w.Button(
            description="Compare", button_style="primary", icon="balance-scale"
        )

    def _build_outputs(self) -> None:
        self.progress = w.Output()
        self.title = w.HTML()
        self.answer = w.HTML()
        self.status = w.HTML(status_html("Choose a scenario and a workload, then press Compare."))
        self.table = w.HTML()
        self.warnings = w.HTML()
        self.policy_table = w.HTML()
        self.charts: dict[str, w.Image] = {}
        for name in (*_COST_CHARTS, *_ROUTING_CHARTS):
            layout = w.Layout(max_width="100%", height="auto", margin="0")
            image = w.Image(format="svg+xml", layout=layout)
            image.add_class("wb-chart")
            image.add_class(f"wb-chart-{name}")
            self.charts[name] = image
        self.cost_plot, self.quality_plot, self.tornado_plot = (
            self.charts[n] for n in _COST_CHARTS
        )
        self.pareto_plot, self.latency_plot = (self.charts[n] for n in _ROUTING_CHARTS)

    def _children(self) -> list[w.Widget]:
        workload = [self.requests_per_month, self.peak_requests_per_s, self.input_tokens]
        controls = w.HBox(
            [
                w.VBox([self.scenario, self.compare_button]),
                w.VBox(workload),
                w.VBox([self.output_tokens, self.latency_objective_ms, self.quality_floor]),
            ],
            layout=w.Layout(flex_flow="row wrap", max_width="100%"),
        )
        return [
            w.HTML(STYLE),
            self.title,
            self.answer,
            controls,
            self.progress,
            self.status,
            w.HTML("<h4>Options at this workload (every price with its source and date)</h4>"),
            self.table,
            self.warnings,
            _chart_grid([self.charts[n] for n in _COST_CHARTS]),
            w.HTML("<h4>Hybrid routing: local first, cloud when needed (simulated)</h4>"),
            self.policy_table,
            _chart_grid([self.charts[n] for n in _ROUTING_CHARTS]),
        ]

    # -- controls -------------------------------------------------------------------------------

    def _load_scenario(self) -> None:
        """Read the chosen scenario and set the sliders to its workload."""
        from workbench.decision import load_scenario

        try:
            self._base = load_scenario(self.scenario.value)
        except Exception as exc:  # shown in the panel, never as a traceback
            self._base = None
            self.status.value = error_html(exc)
            return
        load = self._base.workload
        peak = load.peak_requests_per_s or load.cost_workload().average_requests_per_s
        self._syncing = True
        try:
            self.input_tokens.max = max(self.input_tokens.max, int(load.input_tokens) * 2)
            self.output_tokens.max = max(self.output_tokens.max, int(load.output_tokens) * 2)
            self.requests_per_month.value = load.requests_per_month
            self.peak_requests_per_s.value = peak
            self.input_tokens.value = int(load.input_tokens)
            self.output_tokens.value = int(load.output_tokens)
            self.latency_objective_ms.value = load.latency_objective_ms
            self.quality_floor.value = load.quality_floor or 0.0
        finally:
            self._syncing = False
        self._refresh()

    def _volume_changed(self, change: dict[str, Any]) -> None:
        """Scale the peak with the volume so the load keeps its shape, then refresh once."""
        if self._syncing:
            return
        self._syncing = True
        try:
            ratio = change["new"] / change["old"] if change["old"] else 1.0
            self.peak_requests_per_s.value = self.peak_requests_per_s.value * ratio
        finally:
            self._syncing = False
        self._refresh()

    def _refresh(self) -> None:
        """Recompute after a change, once a comparison is on show."""
        if not self._syncing and self.options_frame is not None:
            self._request()

    def _request(self) -> None:
        """Compare now, or (``background``) wake the worker for the newest values."""
        with self._lock:
            self._wanted += 1
            if self.background:
                self.compare_button.disabled = True
        if not self.background:
            self.compare()
            return
        if self._worker is None or not self._worker.is_alive():
            self._worker = threading.Thread(target=self._work, name="decision-panel", daemon=True)
            self._worker.start()
        self._wake.set()

    def _work(self) -> None:
        """The worker: compare for the newest request until none is newer than the last done."""
        while True:
            self._wake.wait()
            self._wake.clear()
            wanted = self._wanted
            self.compare(_generation=wanted)
            with self._lock:
                if self._wanted == wanted:  # nothing newer: the figures on show are current
                    self.compare_button.disabled = False

    def _stale(self, generation: int | None) -> bool:
        """Whether a newer request has come since this compare started."""
        return generation is not None and generation != self._wanted

    def scenario_with_workload(self) -> Any:
        """The chosen scenario with the sliders' workload (raises with a clear message)."""
        if self._base is None:
            self._load_scenario()
        if self._base is None:
            raise ValueError(f"The scenario {self.scenario.value!r} could not be loaded.")
        return with_workload(
            self._base,
            run_refs=self.run_refs,
            requests_per_month=float(self.requests_per_month.value),
            peak_requests_per_s=float(self.peak_requests_per_s.value),
            input_tokens=int(self.input_tokens.value),
            output_tokens=int(self.output_tokens.value),
            latency_objective_ms=float(self.latency_objective_ms.value),
            quality_floor=float(self.quality_floor.value) or None,  # 0: no floor
        )

    # -- work -----------------------------------------------------------------------------------

    def compare(self, *, _generation: int | None = None) -> None:
        """Decide for the sliders' workload and show it; errors appear in the panel.

        In the background, when :func:`workbench.decision.decide` can leave the routing
        simulation out (``routing=False``), the priced decision is shown first (the answer,
        the options and the cost charts) and the routing, simulated after, follows.
        """
        if _generation is None:
            self.compare_button.disabled = True
        try:
            scenario = self.scenario_with_workload()
            key = self._shared_key(scenario)
            # Pages asking for the same decision take turns: the first computes, the others read.
            with computing(key) if key else contextlib.nullcontext():
                kept = load_decision(key) if key else None
                if kept is not None:  # another page computed it on the same inputs
                    self._show(kept)
                    self._draw_charts(kept, _generation, key=key)
                    return
                self._compute(scenario, key, _generation)
        except Exception as exc:  # shown in the panel, never as a traceback
            self.progress.clear_output()
            if self._stale(_generation):
                return
            self._clear()
            self.status.value = error_html(exc) + status_html(next_step(exc, self._base))
        finally:
            if _generation is None:
                self.compare_button.disabled = False

    def _compute(self, scenario: Any, key: str | None, generation: int | None) -> None:
        """Decide, keep the decision for other pages (``key``) and show it."""
        self.status.value = status_html(f"Pricing the options of {scenario.name} …")
        if self.background:
            priced = self._decide(scenario, routing=False)
            if self._stale(generation):
                return
            self._show(priced, routing=False)
            self._draw_charts(priced, generation, _COST_CHARTS)
            if self._stale(generation):
                return
            decision = self._route(priced)
        else:
            decision = self._decide(scenario)
        if key:  # right for its inputs even when a newer move has come meanwhile
            keep_decision(key, decision)
        if self._stale(generation):
            return
        self._show(decision)
        self._draw_charts(decision, generation, key=key)

    def _shared_key(self, scenario: Any) -> str | None:
        """The key of this compare's decision among the shared ones (``None``: not shared)."""
        if not self.shared:
            return None
        return decision_key(
            scenario, self.runs_dir, requests=self.requests, today=self.today, routing=True
        )

    def _decide(self, scenario: Any, **options: Any) -> Any:
        """:func:`workbench.decision.decide` for this panel's runs, day and stream length; what
        it prints is kept out of the page, and an error is raised here, not swallowed by the
        ``Output`` (as it would be in a kernel)."""
        failure: Exception | None = None
        decision = None
        with self.progress, warnings.catch_warnings():
            warnings.simplefilter("ignore")  # stale prices are listed in the panel instead
            try:
                decision = decide(
                    scenario,
                    self.runs_dir,
                    requests=self.requests,
                    today=self.today,
                    on_step=lambda text: setattr(self.status, "value", status_html(text)),
                    **options,
                )
            except Exception as exc:
                failure = exc
        self.progress.clear_output()
        if failure is not None:
            raise failure
        return decision

    def _route(self, priced: Any) -> Any:
        """The priced decision with its routing simulated (:func:`workbench.decision.with_routing`)."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return with_routing(priced)

    def _show(self, decision: Any, *, routing: bool = True) -> None:
        """The text of a decision: the answer, the tables, the warnings and the inputs' sources.

        ``routing=False``: a decision priced without its routing simulation; the routing table
        and charts on show are marked as being updated until the simulated one arrives.
        """
        # The frames first: the dashboard reads them when the table changes.
        self.decision = decision
        self.options_frame = decision.options
        self.title.value = title_html(decision)
        self.answer.value = answer_html(decision)
        self.table.value = options_html(decision.options)
        self.warnings.value = _warnings_html(decision.warnings)
        for widget in (self.policy_table, *(self.charts[n] for n in _ROUTING_CHARTS)):
            (widget.remove_class if routing else widget.add_class)("wb-updating")
        if not routing:
            self.status.value = status_html("Priced; simulating hybrid routing at this workload …")
            return
        self.policies_frame = decision.policies
        self.policy_table.value = policies_html(decision.policies)
        notes = list(getattr(getattr(decision, "setup", None), "notes", []) or [])
        self.status.value = status_html("Simulation inputs: " + "; ".join(notes) + ".")

    def _draw_charts(
        self,
        decision: Any,
        generation: int | None,
        names: tuple[str, ...] | None = None,
        *,
        key: str | None = None,
    ) -> None:
        """Each chart as soon as it is drawn; an unchanged one comes from the cache at once
        (and, with a shared ``key``, one another page drew is read)."""
        if key and names is None:
            kept = {n: kept_chart(key, n, _CHART_FORMAT) for n in self.charts}
            if all(kept.values()):  # no drawing, and no need to import matplotlib
                for name, image in kept.items():
                    self.charts[name].value = image
                return
        for name, (chart, args) in chart_inputs(decision).items():
            if self._stale(generation):
                return  # the newer compare draws them
            if names is not None and name not in names:
                continue
            draw = partial(_image, chart, *args)
            image = chart_bytes(key, name, _CHART_FORMAT, draw) if key else draw()
            self.charts[name].value = image

    def _clear(self) -> None:
        self.decision = None
        self.options_frame = None
        self.policies_frame = None
        for widget in (self.title, self.answer, self.table, self.warnings, self.policy_table):
            widget.value = ""
        for image in self.charts.values():
            image.value = b""
        for widget in (self.policy_table, *self.charts.values()):
            widget.remove_class("wb-updating")


# -- rendering a decision -------------------------------------------------------------------------


def _image(chart: Callable[..., Any], *args: Any) -> bytes:
    from workbench.cost import plots

    return plots.image(chart, *args, fmt=_CHART_FORMAT)


def recommendation_sentence(decision: Any) -> tuple[str, list[str]]:
    """The decision's answer in one sentence, and its caveats.

    Reads ``decision.recommendation``; a decision without one (an older ``Decision``) falls back
    to the first sentence of its text summary.
    """
    rec = getattr(decision, "recommendation", None)
    sentence = getattr(rec, "sentence", "") if rec is not None else ""
    if sentence:
        return sentence, [str(c) for c in getattr(rec, "caveats", ()) or ()]
    summary = decision.summary()
    text = summary.get("sentence", "") if isinstance(summary, Mapping) else str(summary)
    return text.split(" Simulation inputs:")[0], []


def title_html(decision: Any) -> str:
    """The page's one title: the decision's question (``decision.title``)."""
    title = getattr(decision, "title", "") or "Local, edge or cloud?"
    return f'<h2 class="wb-title">{html.escape(title)}</h2>'


def answer_html(decision: Any) -> str:
    """The recommendation as a highlighted sentence with its caveats below."""
    sentence, caveats = recommendation_sentence(decision)
    items = "".join(f"<li>{html.escape(c)}</li>" for c in caveats)
    return (
        f'<div class="wb-answer"><p>{html.escape(sentence)}</p>'
        + (f"<ul>{items}</ul>" if items else "")
        + "</div>"
    )


def options_html(frame: pd.DataFrame) -> str:
    """The options table: ✓/✗, dollars with cents, ms or s, percentages, counts. The verdict
    (recommended, ruled out and why, or what it costs more) comes second; a table without one
    shows ``ruled_out`` there instead."""
    columns = [c for c in _OPTION_COLUMNS if not (c == "ruled_out" and "verdict" in frame)]
    return frame_html(frame, columns, formats=_FORMATS, labels=_LABELS, tooltips=_TOOLTIPS)


def policies_html(frame: pd.DataFrame) -> str:
    """The routing table; an overloaded policy shows its status instead of percentiles, a
    percentile's interval (or why there is none) is its cell's tooltip, and a cost that cannot
    be known says why."""
    overloaded = _overloaded(frame)
    status = frame["status"] if "status" in frame.columns else pd.Series("", index=frame.index)
    status = status.where(status.fillna("").astype(str) != "", "overloaded")
    texts = status.where(overloaded, "")
    notes = frame["cost_note"] if "cost_note" in frame.columns else pd.Series(dtype=object)
    columns = [c for c in _POLICY_COLUMNS if c != "cost_note" or notes.fillna("").any()]
    return frame_html(
        frame,
        columns,
        formats=_FORMATS,
        labels=_LABELS,
        tooltips={
            "p50_ms": partial(_interval_tip, percentile=50),
            "p95_ms": partial(_interval_tip, percentile=95),
            "monthly_cost": "cost_note",
        },
        notes=(_PERCENTILE_COLUMNS, texts),
    )


def _interval_tip(row: Mapping[str, Any], percentile: int) -> str:
    """A simulated percentile's interval, or why it has none (too few samples, diurnal)."""
    low, high = row.get(f"p{percentile}_low_ms"), row.get(f"p{percentile}_high_ms")
    if not formats.is_missing(low) and not formats.is_missing(high) and low is not None:
        return f"95% interval {formats.duration_ms(low)}–{formats.duration_ms(high)}"
    note = row.get("interval_note")
    return note if isinstance(note, str) else ""


def _overloaded(frame: pd.DataFrame) -> pd.Series:
    """Which routing rows are overloaded (none when the table does not say)."""
    if "overloaded" not in frame.columns:
        return pd.Series(False, index=frame.index)
    return frame["overloaded"].fillna(False).astype(bool)


def _chart_grid(images: list[w.Image]) -> w.GridBox:
    """Charts side by side while each can be at least 520 pixels wide, else one under another;
    every image is scaled down to its cell, never cut off."""
    grid = w.GridBox(
        images,
        layout=w.Layout(
            grid_template_columns="repeat(auto-fill, minmax(min(100%, 520px), 1fr))",
            grid_gap="8px",
            width="100%",
        ),
    )
    grid.add_class("wb-charts")
    return grid


def _log_slider(name: str, value: float, readout_format: str) -> w.FloatLogSlider:
    """A log-scale slider for a workload field whose range spans decades: label, tooltip, range
    and step come from the field (``widgets.forms`` builds linear sliders only)."""
    field = specs(ScenarioWorkload)[name]
    low, high = field.widget_range
    return w.FloatLogSlider(
        value=value,
        base=10,
        min=math.log10(low),
        max=math.log10(high),
        step=field.step,
        description=field.label,
        tooltip=field.help,
        readout_format=readout_format,
        continuous_update=False,
        style={"description_width": LABEL_WIDTH},
        layout=w.Layout(**_SLIDER_LAYOUT),
    )


def _warnings_html(messages: list[str]) -> str:
    if not messages:
        return status_html("No warnings: every price is recent and every option may be used.")
    items = "".join(f"<li>{html.escape(m)}</li>" for m in messages)
    return f'<div class="wb-status"><b>Warnings</b><ul>{items}</ul></div>'


__all__ = [
    "DecisionPanel",
    "answer_html",
    "options_html",
    "policies_html",
    "recommendation_sentence",
    "title_html",
]
