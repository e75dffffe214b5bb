"""The decision dashboard: the decision panel fed by saved runs, with where every figure comes from.

The :class:`~widgets.decision_panel.DecisionPanel` prices a scenario's options, finds the
break-evens and simulates hybrid routing from the newest benchmark its scenario names. This
dashboard chooses the runs instead, so that a published folder shows its own: the ``bench`` runs
among ``run_ids`` feed the local side (the newest one of the scenario's model, else of the same
task) and a ``cloud`` run, when there is one, gives the measured cloud latency. Beside the panel
it lists each run used with its date and each price row with its source and date. Which runs
feed which scenario, and the tables of sources, are :class:`workbench.decision.RunChoice`,
:func:`workbench.decision.run_rows` and :func:`workbench.decision.price_rows`; this dashboard
renders them.

Opened on a machine with no usable run (``run_ids`` None), it makes the sample benchmark first
(:func:`workbench.samples.runs.ensure_sample_runs`) and says so while it works.

Opened from a link (``?scenario=document_search&requests_per_month=200000``), it starts on that
scenario with those workload values (:func:`workbench.publish.links.decision_parameters` lists
what a link may set); what the link gets wrong is said above the panel, and the rest works.
"""

from __future__ import annotations

import datetime
import html
import threading
from collections.abc import Sequence
from typing import Any

import ipywidgets as w
import pandas as pd

from widgets.common import STYLE, error_html, loading_html, status_html
from widgets.decision_panel import DecisionPanel
from workbench.decision import (
    RunChoice,
    load_scenario,
    missing_runs_message,
    price_rows,
    run_rows,
)
from workbench.kit.errors import RunNotFoundError
from workbench.kit.formats import count
from workbench.publish.links import LinkValues, decision_parameters, parse_query

DEFAULT_SCENARIO = "support_chatbot"
#: Seconds after a load on a thread at which the page's widgets are sent their state again.
#: A page that connects while the load ends builds its widgets from the kernel's state and
#: drops updates for widgets it has not built yet; sending the state again repairs that.
RESEND_STATE_AFTER_S = (1.0, 4.0)
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
        Recompute after a slider move on the panel's worker thread (newest move first), and,
        when samples may have to be made (``run_ids`` None), load on a thread so that a page
        shows the loading state meanwhile. Given runs load before the cell ends: a page then
        builds its widgets from their final state (a load ending while a page builds its
        widgets can leave that page with none).
    shared
        Share decisions and charts with the other pages on the same inputs
        (:mod:`workbench.decision.cache`); a published dashboard does.
    link
        The settings of the page's address (:func:`workbench.publish.links.read_page_link`),
        or its query string: a scenario there replaces ``scenario``, and its workload values
        replace the scenario's own once the runs are loaded (a volume alone scales the peak
        with it, as moving the slider does). What it gets wrong is shown above the panel.
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
        shared: bool = False,
        link: LinkValues | str | None = None,
        **kwargs: Any,
    ):
        if not isinstance(link, LinkValues):
            link = parse_query(link, decision_parameters())
        self.link = link
        self._link_workload = {k: v for k, v in link.values.items() if k != "scenario"}
        scenario = link.values.get("scenario", scenario)
        self.runs_dir = runs_dir
        self.run_ids = None if run_ids is None else list(run_ids)
        self.choice = RunChoice(runs_dir, self.run_ids)
        self.sample_settings = sample_settings
        if sample_settings is None and sample_model:
            from workbench.samples.runs import SampleSettings

            self.sample_settings = SampleSettings.for_model(sample_model)
        self._scenario_given = scenario is not None
        self.samples_made: list[str] = []
        self.thread: threading.Thread | None = None
        self._runs_shown: dict[Any, str] = {}  # the runs used change with the runs, not the sliders
        self.panel = DecisionPanel(
            scenario=scenario or DEFAULT_SCENARIO,
            runs_dir=runs_dir,
            requests=requests,
            today=today,
            run_refs=self.refs_for,
            background=background,
            shared=shared,
        )
        self.panel.layout.display = "none"  # until the runs are known
        self.panel.table.observe(lambda _: self._show_sources(), names="value")
        super().__init__(center=self.panel, **self._frame(), **kwargs)
        self.add_class("wb-decision-dashboard")
        if load_now:
            self.start(background and self.run_ids is None)

    def _frame(self) -> dict[str, w.Widget]:
        """The header (status, Reload, errors) and the footer (the sources) around the panel."""
        self.status = w.HTML(loading_html("Loading the runs …"))
        self.errors = w.HTML()
        self.link_note = w.HTML(link_html(self.link))
        self.reload_button = w.Button(description="Reload", icon="refresh")
        self.reload_button.on_click(lambda _: self.start())
        self.runs_used = w.HTML()
        self.prices_used = w.HTML()
        self.sources_box = w.VBox(
            [
                w.HTML("<h4>Where the figures come from</h4>"),
                self.runs_used,
                w.HTML("<h4>Prices used, with their source and date</h4>"),
                self.prices_used,
            ]
        )
        self.sources_box.layout.display = "none"  # until there are figures to trace
        header = [w.HTML(STYLE), w.HBox([self.status, self.reload_button])]
        header += [self.link_note, self.errors]
        return {"header": w.VBox(header), "footer": self.sources_box}

    def __repr__(self) -> str:
        # Voilà puts the text form beside the widget in the page: keep it short.
        return f"<decision dashboard: {len(self.chosen)} runs given>"

    def _update_layout(self) -> None:
        super()._update_layout()
        self.layout.grid_template_rows = "auto auto auto"  # rows as tall as their content
        # Columns that may shrink below their content: a wide table scrolls inside its own box
        # and a chart scales down, instead of the page growing wider than the window.
        self.layout.grid_template_columns = "minmax(0, 1fr) minmax(0, 2fr) minmax(0, 1fr)"

    @property
    def chosen(self) -> list[Any]:
        """The runs given in ``run_ids``, once loaded."""
        return self.choice.chosen

    # -- loading --------------------------------------------------------------------------------

    def start(self, background: bool = False) -> None:
        """Load now, or on a thread (a page then shows the loading state meanwhile)."""
        if not background:
            self.load()
            return
        self.thread = threading.Thread(target=self.load, name="decision-dashboard", daemon=True)
        self.thread.start()

    def load(self) -> None:
        """Read the runs (making the samples when there are none), then compare the options.

        On a thread (``background``), the widgets' state is sent again shortly after, for a page
        that was still building its widgets when the figures arrived.
        """
        try:
            self._load()
        finally:
            if threading.current_thread() is self.thread:
                for delay in RESEND_STATE_AFTER_S:
                    timer = threading.Timer(delay, self._resend_state)
                    timer.daemon = True
                    timer.start()

    def _resend_state(self) -> None:
        """Send every widget of the page, and its layout, its whole state again (idempotent)."""
        pending: list[w.Widget] = [self]
        while pending:
            widget = pending.pop()
            widget.send_state()
            layout = getattr(widget, "layout", None)
            if isinstance(layout, w.Widget):
                layout.send_state()  # the panel is shown by a change of its layout
            pending.extend(c for c in getattr(widget, "children", ()) if isinstance(c, w.Widget))

    def _load(self) -> None:
        self.reload_button.disabled = True
        self.errors.value = ""
        self.choice.forget()
        self._runs_shown.clear()
        try:
            self.status.value = loading_html("Loading the runs …")
            if self.run_ids is not None:
                self._load_given_runs()
            elif self.local_run(self.scenario_as_written()) is None and not self._make_samples():
                return
            self._choose_scenario()
            self._apply_link_workload()
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
        return load_scenario(self.panel.scenario.value)

    def _load_given_runs(self) -> None:
        """Load ``run_ids``; name missing ones, and explain when none is a benchmark."""
        missing = self.choice.load_given()
        if missing:  # said, and the runs that are there still shown
            self.errors.value = error_html(RunNotFoundError(missing_runs_message(missing)))
        self.choice.check_has_benchmark()

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
        self.choice.forget()  # look again, now that the sample is there
        return True

    def _choose_scenario(self) -> None:
        """Show the scenario written for the newest run's model, unless one was asked for or the
        scenario on show already has its own run."""
        if self._scenario_given:
            return
        if self.run_ids is None and self.local_run(self.scenario_as_written()) is not None:
            return
        name = self.choice.scenario_for_newest()
        if name is not None:
            self.panel.scenario.value = name

    def _apply_link_workload(self) -> None:
        """Set the workload sliders to the link's values, once (a Reload keeps what is on show).

        The volume goes first: the panel scales the peak with it, and a peak in the link is set
        after, so it stands as given."""
        settings, self._link_workload = self._link_workload, {}
        for name in sorted(settings, key=lambda n: n != "requests_per_month"):
            getattr(self.panel, name).value = settings[name]

    # -- which runs feed which scenario --------------------------------------------------------

    def local_run(self, scenario: Any) -> str | None:
        """The bench run that feeds ``scenario``'s local side (see :meth:`RunChoice.local_run`)."""
        return self.choice.local_run(scenario)

    def refs_for(self, scenario: Any) -> dict[str, str]:
        """The run references that replace ``scenario``'s ``[runs]`` (the panel asks per compare)."""
        return self.choice.refs_for(scenario)

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
            key = (tuple(scenario.runs.items()), tuple(written.items()))
            if key not in self._runs_shown:
                rows = run_rows(scenario, written, self.runs_dir)
                self._runs_shown[key] = _runs_html(rows)
            self.runs_used.value = self._runs_shown[key]
            self.prices_used.value = _prices_html(price_rows(frame))
        except Exception as exc:  # shown in the page, never as a traceback
            self.runs_used.value = error_html(exc)

    @property
    def sources_frame(self) -> pd.DataFrame:
        """The price rows used: one row per catalog row with its source, date and options."""
        frame = self.panel.options_frame
        return price_rows(frame) if frame is not None else pd.DataFrame()


# -- rendering ------------------------------------------------------------------------------------


def link_html(link: LinkValues) -> str:
    """What a page opened from a link starts with, and a paragraph for each setting of the link
    that could not be used (escaped: the address is whatever the visitor typed)."""
    parts = []
    if link.values:
        shown = ", ".join(f"{name} {_link_value(v)}" for name, v in link.values.items())
        parts.append(status_html(f"Opened on the settings in the page's address: {shown}."))
    if link.messages:
        paragraphs = "".join(f"<p>{html.escape(m)}</p>" for m in link.messages)
        parts.append(f'<div class="wb-error wb-link-error">{paragraphs}</div>')
    return "".join(parts)


def _link_value(value: Any) -> str:
    if isinstance(value, float) and value.is_integer() and abs(value) >= 1000:
        return count(value)
    return f"{value:g}" if isinstance(value, float) else str(value)


def _sources_table(head: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    cells = "".join(f"<th>{h}</th>" for h in head)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in row) + "</tr>" for row in rows
    )
    return f'<div class="wb-scroll"><table class="wb-sources"><tr>{cells}</tr>{body}</table></div>'


def _runs_html(table: pd.DataFrame) -> str:
    rows = list(table.itertuples(index=False, name=None))
    note = ""
    if not (table["used for"] == "cloud").any():
        note = status_html(
            "Cloud latency is modelled (network round trip plus time per output token), not "
            "measured: publish a `workbench cloud bench` run with the benchmark to use one."
        )
    return _sources_table(list(table.columns), rows) + note


def _prices_html(table: pd.DataFrame) -> str:
    head = ("price row", "source", "as of", "older than 180 days", "used by")
    rows = [
        (r.price_row, r.source, r.as_of, "yes" if r.stale else "", r.options)
        for r in table.itertuples(index=False)
    ]
    return _sources_table(head, rows)


__all__ = ["DecisionDashboard", "link_html"]
