"""The decision panel: price a scenario's options, find break-evens, and simulate hybrid routing."""

from __future__ import annotations

import dataclasses
import datetime
import html
import warnings
from collections.abc import Callable, Mapping
from typing import Any

import ipywidgets as w
import numpy as np
import pandas as pd

from widgets.common import STYLE, error_html, frame_html, status_html
from workbench.cost import plots

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
_LATENCY_DRAWS = 2000


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
        from workbench.decision.scenarios import list_scenarios

        self.runs_dir = runs_dir
        self.run_refs = run_refs
        self.requests = requests
        self.today = today
        names = [p.stem for p in list_scenarios()]
        self.scenario = w.Dropdown(
            options=names,
            value=scenario if scenario in names else (names[0] if names else None),
            description="Scenario",
        )
        slider = {"continuous_update": False, "style": {"description_width": "150px"}}
        layout = w.Layout(width="460px")
        self.requests_per_month = w.FloatLogSlider(
            value=1e5,
            base=10,
            min=2,
            max=9,
            step=0.05,
            description="Requests / month",
            readout_format=",.0f",
            layout=layout,
            **slider,
        )
        self.peak_requests_per_s = w.FloatLogSlider(
            value=0.1,
            base=10,
            min=-4,
            max=3,
            step=0.05,
            description="Peak requests / s",
            readout_format=".3g",
            layout=layout,
            **slider,
        )
        self.input_tokens = w.IntSlider(
            value=300, min=1, max=8192, description="Input tokens", layout=layout, **slider
        )
        self.output_tokens = w.IntSlider(
            value=120, min=0, max=4096, description="Output tokens", layout=layout, **slider
        )
        self.latency_objective_ms = w.FloatLogSlider(
            value=2000,
            base=10,
            min=1,
            max=6,
            step=0.05,
            description="Latency objective (ms)",
            readout_format=",.0f",
            layout=layout,
            **slider,
        )
        self.compare_button = w.Button(
            description="Compare", button_style="primary", icon="balance-scale"
        )
        self.progress = w.Output()
        self.status = w.HTML(status_html("Choose a scenario and a workload, then press Compare."))
        self.table = w.HTML()
        self.warnings = w.HTML()
        self.cost_plot = w.Image(format="png")
        self.tornado_plot = w.Image(format="png")
        self.policy_table = w.HTML()
        self.pareto_plot = w.Image(format="png")
        self.latency_plot = w.Image(format="png")
        self.options_frame: pd.DataFrame | None = None
        self.policies_frame: pd.DataFrame | None = None
        self._base: Any = None
        self._syncing = False

        self.scenario.observe(lambda _: self._load_scenario(), names="value")
        self.requests_per_month.observe(self._volume_changed, names="value")
        for control in (
            self.peak_requests_per_s,
            self.input_tokens,
            self.output_tokens,
            self.latency_objective_ms,
        ):
            control.observe(lambda _: self._refresh(), names="value")
        self.compare_button.on_click(lambda _: self.compare())
        self._load_scenario()
        super().__init__(
            [
                w.HTML(STYLE + "<h3>Local, edge or cloud?</h3>"),
                w.HBox(
                    [
                        w.VBox([self.scenario, self.compare_button]),
                        w.VBox(
                            [self.requests_per_month, self.peak_requests_per_s, self.input_tokens]
                        ),
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
            ],
            **kwargs,
        )

    # -- controls -------------------------------------------------------------------------------

    def _load_scenario(self) -> None:
        """Read the chosen scenario and set the sliders to its workload."""
        from workbench.decision.scenarios import load_scenario

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
        workload = dataclasses.replace(
            self._base.workload,
            requests_per_month=float(self.requests_per_month.value),
            peak_requests_per_s=float(self.peak_requests_per_s.value),
            input_tokens=int(self.input_tokens.value),
            output_tokens=int(self.output_tokens.value),
            latency_objective_ms=float(self.latency_objective_ms.value),
        )
        refs = self.run_refs(self._base) if callable(self.run_refs) else self.run_refs
        runs = {**self._base.runs, **(refs or {})}
        return dataclasses.replace(self._base, workload=workload, runs=runs)

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
                    self._price_and_simulate(scenario)
                except Exception as exc:  # in a kernel the Output would swallow it
                    failure = exc
            if failure is not None:
                raise failure
            self.progress.clear_output()
        except Exception as exc:  # shown in the panel, never as a traceback
            self.progress.clear_output()
            self._clear()
            self.status.value = error_html(exc) + status_html(_hint(exc, self._base))
        finally:
            self.compare_button.disabled = False

    def _price_and_simulate(self, scenario: Any) -> None:
        from workbench.cost.sensitivity import sensitivity
        from workbench.decision.hybrid_setup import setup_from_scenario, simulate_scenario
        from workbench.decision.scenarios import compare_options, resolve_options

        looked_up = resolve_options(scenario, self.runs_dir)  # once, for the table and charts
        frame = compare_options(scenario, self.runs_dir, today=self.today, resolved=looked_up)
        resolved = {r.spec.name: r.cost_option for r in looked_up}
        workload = scenario.workload.cost_workload()
        self.options_frame = frame
        self.table.value = frame_html(frame, _OPTION_COLUMNS)
        self.warnings.value = _warnings_html(frame.attrs.get("warnings", []))
        cheapest = _cheapest(frame)
        options = [o for o in resolved.values() if o is not None]
        self.cost_plot.value = plots.to_png(
            plots.cost_vs_volume(
                _curve(options, workload), _break_evens(options, resolved[cheapest], workload)
            )
        )
        self.tornado_plot.value = plots.to_png(
            plots.tornado(sensitivity(resolved[cheapest], workload))
        )
        self.status.value = status_html(f"Priced {len(frame)} options; simulating routing …")
        setup = setup_from_scenario(scenario, self.runs_dir, requests=self.requests, costs=frame)
        self.policies_frame = simulate_scenario(setup)
        self.policy_table.value = frame_html(self.policies_frame, _POLICY_COLUMNS)
        self.pareto_plot.value = plots.to_png(plots.pareto(self.policies_frame))
        self.latency_plot.value = plots.to_png(
            plots.latency_distributions(_latency_samples(setup), workload.latency_objective_ms)
        )
        self.status.value = status_html(
            f"Cheapest feasible option: {cheapest} at ${frame.set_index('option').loc[cheapest, 'monthly_usd']:,.2f}"
            f" per month for {workload.requests_per_month:,.0f} requests. Simulation inputs: "
            + "; ".join(setup.notes)
        )

    def _clear(self) -> None:
        self.options_frame = None
        self.policies_frame = None
        for widget in (self.table, self.warnings, self.policy_table):
            widget.value = ""
        for image in (self.cost_plot, self.tornado_plot, self.pareto_plot, self.latency_plot):
            image.value = b""


def _cheapest(frame: pd.DataFrame) -> str:
    feasible = frame[frame["feasible"] & frame["monthly_usd"].notna()]
    if feasible.empty:
        raise ValueError("No option can serve this workload; lower the volume or the peak.")
    return str(feasible.loc[feasible["monthly_usd"].idxmin(), "option"])


def _curve(options: list[Any], workload: Any) -> pd.DataFrame:
    from workbench.cost.model import cost_curve

    return cost_curve(options, workload)


def _break_evens(options: list[Any], cheapest: Any, workload: Any) -> list[Any]:
    """Where each other option crosses the cheapest one."""
    from workbench.cost.model import break_even

    return [break_even(o, cheapest, workload) for o in options if o.name != cheapest.name]


def _latency_samples(setup: Any) -> dict[str, np.ndarray]:
    """Per-request latency without queueing: measured local service times, the cloud sampler."""
    rng = np.random.default_rng(0)
    config = setup.config
    cloud = "cloud (measured)" if config.cloud.latency_samples_s else "cloud (modelled)"
    return {
        "local (measured)": config.local.draw(rng, _LATENCY_DRAWS) * 1000.0,
        cloud: config.cloud.draw(rng, _LATENCY_DRAWS) * 1000.0,
    }


def _hint(exc: BaseException, scenario: Any) -> str:
    """The next step to take after an error."""
    from workbench.decision.scenarios import ScenarioRunError, parse_run_ref
    from workbench.kit.errors import RunNotFoundError

    if not isinstance(exc, ScenarioRunError | RunNotFoundError):
        return "Fix the value named above and press Compare again."
    model = "MODEL"
    ref = scenario.runs.get("local", "") if scenario is not None else ""
    parsed = parse_run_ref(ref) if ref.startswith("latest:") else None
    if parsed:
        model = parsed[1]
    return f"This scenario needs a measured run: run `workbench bench {model}` first, then Compare."


def _warnings_html(messages: list[str]) -> str:
    if not messages:
        return status_html("No warnings: every price is recent and every option may be used.")
    items = "".join(f"<li>{html.escape(m)}</li>" for m in messages)
    return f'<div class="wb-status"><b>Warnings</b><ul>{items}</ul></div>'
