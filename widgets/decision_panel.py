"""The decision panel: price a scenario's options, find break-evens, and simulate hybrid routing.

The decision itself is :func:`workbench.decision.decide` (and its charts
:func:`workbench.decision.charts`); this panel holds the controls and renders what it returns.
"""

from __future__ import annotations

import datetime
import html
import math
import warnings
from collections.abc import Callable, Mapping
from typing import Any

import ipywidgets as w

from widgets.common import STYLE, error_html, frame_html, status_html
from widgets.forms import LABEL_WIDTH, control
from workbench.decision import ScenarioWorkload, charts, decide, next_step, with_workload
from workbench.kit.fields import specs

_OPTION_COLUMNS = [
    "option", "kind", "feasible", "monthly_usd", "usd_per_1k_requests", "units", "p50_ms",
    "meets_latency_objective", "throughput_source", "break_even_vs",
    "break_even_requests_per_month", "price_rows", "price_sources", "price_as_of", "stale",
    "on_premises_ok", "reason",
]  # fmt: skip
_POLICY_COLUMNS = [
    "policy", "p50_ms", "p95_ms", "goodput_share", "offloaded_share", "local_utilization",
    "monthly_cost", "pareto",
]  # fmt: skip
_SLIDER_LAYOUT = {"width": "460px"}
_CHARTS = ("cost", "tornado", "pareto", "latency")


class DecisionPanel(w.VBox):
    """Local, edge or cloud: cost, break-even, sensitivity and hybrid routing for one scenario.

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
    """

    def __init__(
        self,
        scenario: str = "support_chatbot",
        runs_dir: str | None = None,
        requests: int = 5_000,
        today: datetime.date | None = None,
        run_refs: Mapping[str, str] | Callable[[Any], Mapping[str, str]] | None = None,
        **kwargs: Any,
    ):
        self.runs_dir = runs_dir
        self.run_refs = run_refs
        self.requests = requests
        self.today = today
        self.options_frame = None
        self.policies_frame = None
        self._base: Any = None
        self._syncing = False
        self._build_controls(scenario)
        self._build_outputs()
        self.scenario.observe(lambda _: self._load_scenario(), names="value")
        self.requests_per_month.observe(self._volume_changed, names="value")
        for name in (
            "peak_requests_per_s",
            "input_tokens",
            "output_tokens",
            "latency_objective_ms",
        ):
            getattr(self, name).observe(lambda _: self._refresh(), names="value")
        self.compare_button.on_click(lambda _: self.compare())
        self._load_scenario()
        super().__init__(self._children(), **kwargs)

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
        self.compare_button = w.Button(
            description="Compare", button_style="primary", icon="balance-scale"
        )

    def _build_outputs(self) -> None:
        self.progress = w.Output()
        self.status = w.HTML(status_html("Choose a scenario and a workload, then press Compare."))
        self.table = w.HTML()
        self.warnings = w.HTML()
        self.policy_table = w.HTML()
        self.cost_plot, self.tornado_plot, self.pareto_plot, self.latency_plot = (
            w.Image(format="png") for _ in _CHARTS
        )

    def _children(self) -> list[w.Widget]:
        workload = [self.requests_per_month, self.peak_requests_per_s, self.input_tokens]
        return [
            w.HTML(STYLE + "<h3>Local, edge or cloud?</h3>"),
            w.HBox(
                [
                    w.VBox([self.scenario, self.compare_button]),
                    w.VBox(workload),
                    w.VBox([self.output_tokens, self.latency_objective_ms]),
                ]
            ),
            self.progress,
            self.status,
            w.HTML("<h4>Options at this workload (every price with its source and date)</h4>"),
            self.table,
            self.warnings,
            w.HBox([self.cost_plot, self.tornado_plot]),
            w.HTML("<h4>Hybrid routing: local first, cloud when needed (simulated)</h4>"),
            self.policy_table,
            w.HBox([self.pareto_plot, self.latency_plot]),
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
            self.compare()

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
        )

    # -- work -----------------------------------------------------------------------------------

    def compare(self) -> None:
        """Price, chart and simulate the scenario; errors appear in the panel."""
        self.compare_button.disabled = True
        try:
            scenario = self.scenario_with_workload()
            self.status.value = status_html(f"Pricing the options of {scenario.name} …")
            failure: Exception | None = None
            with self.progress, warnings.catch_warnings():
                warnings.simplefilter("ignore")  # stale prices are listed in the panel instead
                try:
                    decision = decide(
                        scenario,
                        self.runs_dir,
                        requests=self.requests,
                        today=self.today,
                        on_step=lambda text: setattr(self.status, "value", status_html(text)),
                    )
                    images = charts(decision)
                except Exception as exc:  # in a kernel the Output would swallow it
                    failure = exc
            if failure is not None:
                raise failure
            self.progress.clear_output()
            self._show(decision, images)
        except Exception as exc:  # shown in the panel, never as a traceback
            self.progress.clear_output()
            self._clear()
            self.status.value = error_html(exc) + status_html(next_step(exc, self._base))
        finally:
            self.compare_button.disabled = False

    def _show(self, decision: Any, images: dict[str, bytes]) -> None:
        # The frames first: the dashboard reads them when the table changes.
        self.options_frame = decision.options
        self.policies_frame = decision.policies
        self.table.value = frame_html(decision.options, _OPTION_COLUMNS)
        self.warnings.value = _warnings_html(decision.warnings)
        self.policy_table.value = frame_html(decision.policies, _POLICY_COLUMNS)
        for name, image in zip(_CHARTS, self._images(), strict=True):
            image.value = images[name]
        self.status.value = status_html(decision.summary())

    def _images(self) -> tuple[w.Image, ...]:
        return (self.cost_plot, self.tornado_plot, self.pareto_plot, self.latency_plot)

    def _clear(self) -> None:
        self.options_frame = None
        self.policies_frame = None
        for widget in (self.table, self.warnings, self.policy_table):
            widget.value = ""
        for image in self._images():
            image.value = b""


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
