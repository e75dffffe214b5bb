"""The federated dashboard: a saved simulation's curves, traffic and dropouts, and live what-ifs.

It shows one saved ``federated`` run (from ``run_ids``, else the newest in the runs folder):
accuracy by round and by simulated time with the central baseline, what became of the clients
asked in each round, the traffic, and the labels each client held. The knobs on the left
change a few settings of that run (strategy, label skew, round deadline, DP noise) and Rerun
trains the variation here, on this thread, drawing its curve beside the saved one. Reruns are
not saved unless asked, so a published folder stays as it was published.

Opened from a link (``?run=RUN_ID&strategy=fedprox&dp_noise=0.5``), it shows that run with those
settings on the knobs, ready for Rerun (:func:`workbench.publish.links.federated_parameters`
lists what a link may set); what the link gets wrong is said at the top.

The charts are those of :mod:`workbench.federated.plots`; the knobs and the summary rows are the
federated panel's (:func:`~widgets.federated_panel.federated_controls`,
:func:`~widgets.federated_panel.summary_rows`); a saved run is read with
:meth:`~workbench.federated.result.FedResult.from_run`.
"""

from __future__ import annotations

import html
import threading
from collections.abc import Sequence
from typing import Any

import ipywidgets as w

from widgets.common import STYLE, error_html, loading_html, status_html, table_html
from widgets.decision_dashboard import link_html
from widgets.federated_panel import (
    chosen_settings,
    federated_controls,
    strategy_help_html,
    summary_rows,
)
from workbench import runs
from workbench.federated import plots
from workbench.federated.config import STRATEGY_NAMES, FedConfig
from workbench.federated.result import FedResult
from workbench.kit.errors import RunNotFoundError
from workbench.publish.links import LinkValues, federated_parameters, parse_query

RUN_KIND = FedResult.KIND
# The settings the knobs change; everything else is kept from the saved run.
VARIED = ("strategy", "partition", "alpha", "deadline_s", "dp_noise")
VARIED_NAMES = {
    "strategy": "strategy",
    "partition": "partition",
    "alpha": "Dirichlet alpha",
    "deadline_s": "round deadline",
    "dp_noise": "DP noise",
}
HOW_TO_MAKE_RUNS = (
    "<div class='wb-empty'><b>No federated run to show.</b> This dashboard shows a saved "
    "federated simulation. Make one from a terminal, then press <i>Reload</i>:<ul>"
    "<li><code>workbench fed run --clients 10 --rounds 3</code>: a small simulation (seconds);"
    "</li><li><code>workbench samples</code>: the sample runs of every dashboard (under a "
    "minute).</li></ul>Runs are saved in the runs folder (<code>--runs-dir</code>, else "
    "<code>$WORKBENCH_RUNS_DIR</code>, else <code>./runs</code>).</div>"
)


class FederatedDashboard(w.AppLayout):
    """A saved federated run, and reruns of small variations of it beside it.

    Parameters
    ----------
    runs_dir
        The folder of runs; ``None`` means ``$WORKBENCH_RUNS_DIR`` or ``./runs``.
    run_ids
        The runs to offer (their ``federated`` ones, in this order); ``None`` offers every
        complete federated run in ``runs_dir``, newest first.
    sample_runs
        With ``run_ids`` None and no federated run, simulate the sample run first (about a
        second); ``False`` explains how to make one instead.
    sample_settings
        What the sample run simulates (default :class:`workbench.samples.runs.SampleSettings`).
    save_reruns
        Save each rerun as a run in ``runs_dir``.
    clients_shown
        How many clients the label chart shows.
    load_now
        Read the runs at once; otherwise call :meth:`load` (or press Reload).
    background
        Load on a thread, so that a page shows the loading state meanwhile.
    link
        The settings of the page's address (:func:`workbench.publish.links.read_page_link`),
        or its query string: the run it names (its id, or the start of it) is shown first, and
        its settings go on the knobs once that run is loaded. What it gets wrong is shown at
        the top.
    """

    def __init__(
        self,
        runs_dir: str | None = None,
        run_ids: Sequence[str] | None = None,
        *,
        sample_runs: bool = True,
        sample_settings: Any = None,
        save_reruns: bool = False,
        clients_shown: int = 20,
        load_now: bool = True,
        background: bool = False,
        link: LinkValues | str | None = None,
        **kwargs: Any,
    ):
        if not isinstance(link, LinkValues):
            link = parse_query(link, federated_parameters())
        self.link = link
        self._link_knobs = {k: v for k, v in link.values.items() if k in VARIED}
        self.runs_dir = runs_dir
        self.run_ids = None if run_ids is None else list(run_ids)
        self.sample_runs = sample_runs
        self.sample_settings = sample_settings
        self.save_reruns = save_reruns
        self.clients_shown = clients_shown
        self.saved: Any = None  # the shown run as a FedResult
        self.saved_run: runs.Run | None = None
        self.rerun_result: Any = None  # the last rerun's FedResult
        self.figures: dict[str, Any] = {}  # matplotlib figures on show, by chart
        self.samples_made: list[str] = []
        self.thread: threading.Thread | None = None
        self._syncing = False

        self.status = w.HTML(loading_html("Loading the runs …"))
        self.errors = w.HTML()
        self.link_note = w.HTML(link_html(link))
        self.reload_button = w.Button(description="Reload", icon="refresh")
        self.run = w.Dropdown(description="Saved run", layout=w.Layout(width="640px"))
        self.card = w.HTML()
        self.knobs = federated_controls(FedConfig(), VARIED, width="330px")
        for name, control in self.knobs.items():
            setattr(self, name, control)
        self.strategy_help = w.HTML(layout=w.Layout(width="330px"))
        self.rerun_button = w.Button(
            description="Rerun", button_style="primary", icon="play", disabled=True
        )
        self.reset_button = w.Button(description="Saved settings", icon="undo", disabled=True)
        self.progress = w.IntProgress(value=0, min=0, max=1, layout=w.Layout(width="200px"))
        self.rerun_status = w.HTML(
            status_html("Change a setting, then press Rerun to train the variation here.")
        )
        self._make_charts()

        self.run.observe(lambda _: self._synced(self.show_saved), names="value")
        self.strategy.observe(lambda _: self._sync_knobs(), names="value")
        self.partition.observe(lambda _: self._sync_knobs(), names="value")
        self.rerun_button.on_click(lambda _: self.rerun())
        self.reset_button.on_click(lambda _: self._set_knobs(self.saved.config))
        self.reload_button.on_click(lambda _: self.start())
        self._sync_knobs()
        super().__init__(**self._panes(), pane_widths=["360px", "1fr", "0px"], **kwargs)
        self.add_class("wb-federated-dashboard")
        if load_now:
            self.start(background)

    def _make_charts(self) -> None:
        self.curves = w.Image(format="png")
        self.curves.add_class("wb-fed-curves")
        self.comparison = w.HTML()
        self.saved_title = w.HTML()
        self.saved_charts = _chart_row()
        self.rerun_title = w.HTML()
        self.rerun_charts = _chart_row()
        self.rerun_box = w.VBox([self.rerun_title, self.rerun_charts])
        self.rerun_box.layout.display = "none"

    def _panes(self) -> dict[str, w.Widget]:
        knobs = [self.knobs[n] for n in VARIED]
        knobs.insert(VARIED.index("strategy") + 1, self.strategy_help)
        sidebar = [
            w.HTML("<h4>Rerun with changes</h4>"),
            _note("The other settings stay those of the saved run."),
            *knobs,
            w.HBox([self.rerun_button, self.reset_button]),
            self.progress,
            self.rerun_status,
        ]
        header = [
            w.HTML(STYLE),
            w.HBox([self.status, self.reload_button]),
            self.link_note,
            self.errors,
            self.run,
            self.card,
        ]
        return {
            "header": w.VBox(header),
            "left_sidebar": w.VBox(sidebar),
            "center": w.VBox([self.curves, self.comparison]),
            "footer": w.VBox([self.saved_title, self.saved_charts, self.rerun_box]),
        }

    def __repr__(self) -> str:
        # Voilà puts the text form beside the widget in the page: keep it short.
        return f"<federated dashboard: {len(self.run.options)} runs>"

    def _update_layout(self) -> None:
        super()._update_layout()
        self.layout.grid_template_rows = "auto auto auto"  # rows as tall as their content

    def _synced(self, callback: Any) -> None:
        if not self._syncing:
            callback()

    # -- loading --------------------------------------------------------------------------------

    def start(self, background: bool = False) -> None:
        """Load now, or on a thread (a page then shows the loading state meanwhile)."""
        if not background:
            self.load()
            return
        self.thread = threading.Thread(target=self.load, name="federated-dashboard", daemon=True)
        self.thread.start()

    def load(self) -> None:
        """Find the federated runs (simulating the sample when there is none) and show one."""
        self.reload_button.disabled = True
        self.rerun_button.disabled = True
        self.errors.value = ""
        try:
            self.status.value = loading_html("Loading the runs …")
            found = self._federated_runs()
            if not found and self.run_ids is None:
                if not self.sample_runs:
                    self.status.value = status_html("No runs to show.")
                    self.errors.value = HOW_TO_MAKE_RUNS
                    return
                self._make_samples()
                found = self._federated_runs()
            if not found:
                self.status.value = status_html("No federated run to show.")
                self.errors.value += HOW_TO_MAKE_RUNS
                return
            self._syncing = True
            try:
                self.run.options = [(_option_label(s), s.id) for s in found]
                self.run.value = self._linked_run([s.id for s in found])
            finally:
                self._syncing = False
            self.show_saved()
            self._apply_link_knobs()
        except Exception as exc:  # shown in the page, never as a traceback
            self.status.value = status_html("The dashboard could not load.")
            self.errors.value += error_html(exc)
        finally:
            self.reload_button.disabled = False

    def _federated_runs(self) -> list[runs.RunSummary]:
        """The complete federated runs on offer: ``run_ids``' in order, else newest first."""
        listed = runs.list_runs(self.runs_dir)
        if self.run_ids is None:
            chosen = [s for s in reversed(listed) if s.kind == RUN_KIND]
        else:
            by_id = {s.id: s for s in listed}
            missing = [i for i in self.run_ids if i not in by_id]
            if missing:
                self.errors.value = error_html(
                    RunNotFoundError(
                        "This dashboard was made for runs that are not in its runs folder: "
                        f"{', '.join(missing)}. They may have been deleted or moved; publish the "
                        "dashboard again from the runs you have (`workbench runs list` shows "
                        "them)."
                    )
                )
            chosen = [by_id[i] for i in self.run_ids if i in by_id and by_id[i].kind == RUN_KIND]
        return [s for s in chosen if s.status == "complete"]

    def _make_samples(self) -> None:
        from workbench.samples.runs import SampleSettings, ensure_sample_runs

        settings = self.sample_settings or SampleSettings()
        self.status.value = loading_html(
            "Creating a sample run on this machine: "
            f"{settings.describe(['federated'])}. The charts appear when it is done."
        )
        self.samples_made = ensure_sample_runs(
            self.runs_dir, kinds=("federated",), settings=settings
        )

    def _linked_run(self, ids: list[str]) -> str:
        """The run the link names (its id or a unique start of it), else the first one; once."""
        wanted = self.link.values.get("run")
        if wanted is None:
            return ids[0]
        self.link = LinkValues(
            {k: v for k, v in self.link.values.items() if k != "run"}, self.link.messages
        )
        matches = [i for i in ids if i == wanted] or [i for i in ids if i.startswith(wanted)]
        if len(matches) == 1:
            return matches[0]
        shown = ", ".join(ids[:5]) + (" …" if len(ids) > 5 else "")
        problem = (
            f"`run` (Saved run) in the page's address names {wanted!r}, which is "
            f"{'not one' if not matches else 'the start of several'} of this dashboard's saved "
            f"runs ({shown}); the first of them is shown instead."
        )
        self.link_note.value = link_html(
            LinkValues(self.link.values, (*self.link.messages, problem))
        )
        return ids[0]

    def _apply_link_knobs(self) -> None:
        """Put the link's settings on the knobs, once (a Reload shows the saved settings)."""
        settings, self._link_knobs = self._link_knobs, {}
        if not settings or self.saved is None:
            return
        if "dp_noise" in settings:
            self.dp_noise.max = max(self.dp_noise.max, settings["dp_noise"])
        for name, value in settings.items():
            getattr(self, name).value = value
        try:
            changed = _changes(self.saved.config, self.variation()) or "no setting changed"
        except Exception as exc:  # shown beside the knobs, never as a traceback
            self.rerun_status.value = error_html(exc) + status_html(
                "The page's address set the knobs to settings that cannot run together: fix "
                "the one named above, then press Rerun."
            )
            return
        self.rerun_status.value = status_html(
            f"The page's address set the knobs ({changed}): press Rerun to train this variation."
        )

    # -- the saved run --------------------------------------------------------------------------

    def show_saved(self) -> None:
        """Draw the chosen saved run and set the knobs to its settings."""
        try:
            run = runs.load_run(self.run.value, self.runs_dir)
            self.saved = FedResult.from_run(run)
            self.saved_run = run
        except Exception as exc:  # shown in the page, never as a traceback
            self.saved = self.saved_run = None
            self.status.value = status_html("This run cannot be shown.")
            self.errors.value = error_html(exc)
            return
        self.rerun_result = None
        self.rerun_box.layout.display = "none"
        self._set_knobs(self.saved.config)
        self.card.value = _card_html(run, self.saved)
        self.saved_title.value = f"<h4>Saved run {html.escape(run.id)}</h4>"
        self._draw_run(self.saved, self.saved_charts, "saved")
        self._draw_comparison()
        self.rerun_button.disabled = False
        self.reset_button.disabled = False
        self.progress.value, self.progress.bar_style = 0, ""
        self.rerun_status.value = status_html(
            "Change a setting, then press Rerun to train the variation here."
        )
        self.status.value = status_html(
            f"Run {run.id}, saved {_when(run.started_at)}: accuracy "
            f"{self.saved.final_accuracy:.3f} after {len(self.saved.rounds)} rounds."
        )

    # -- knobs ----------------------------------------------------------------------------------

    def _set_knobs(self, config: FedConfig) -> None:
        self.strategy.value = config.strategy
        self.partition.value = config.partition
        self.alpha.value = config.alpha
        self.deadline_s.value = config.deadline_s or 0.0
        self.dp_noise.max = max(self.dp_noise.max, config.dp_noise)
        self.dp_noise.value = config.dp_noise

    def _sync_knobs(self) -> None:
        self.strategy_help.value = strategy_help_html(self.strategy.value)
        self.alpha.layout.display = None if self.partition.value == "dirichlet" else "none"

    def variation(self) -> FedConfig:
        """The saved run's settings with the knobs' values, trained inline (raises if invalid)."""
        if self.saved is None:
            raise RunNotFoundError("There is no saved run on show to vary; load one first.")
        return self.saved.config.replace(
            **chosen_settings(self.knobs), launcher="inline", ray_address=None
        )

    # -- rerunning ------------------------------------------------------------------------------

    def rerun(self) -> Any:
        """Train the variation on this thread and draw it beside the saved run.

        Returns
        -------
        FedResult or None
            The rerun, or None when the settings were refused or the run failed (the reason is
            shown beside the knobs, and the saved run stays on show).
        """
        from workbench.federated.runner import run_federated

        self.rerun_button.disabled = True
        try:
            config = self.variation()
            self.progress.max, self.progress.value, self.progress.bar_style = config.rounds, 0, ""
            self.rerun_status.value = loading_html(
                f"Training {config.num_clients} clients for {config.rounds} rounds …"
            )
            result = run_federated(
                config,
                observer=self._on_round,
                baseline=False,  # the knobs leave the central baseline as it was
                save=self.save_reruns,
                runs_dir=self.runs_dir,
                progress=False,
            )
            self.rerun_result = result
            changed = _changes(self.saved.config, config) or "no setting changed"
            self.rerun_title.value = f"<h4>Rerun ({html.escape(changed)})</h4>"
            self._draw_run(result, self.rerun_charts, "rerun")
            self.rerun_box.layout.display = None
            self._draw_comparison()
            self.progress.bar_style = "success"
            saved = f" Saved as run {result.run_id}." if result.run_id else ""
            self.rerun_status.value = status_html(
                f"Rerun done in {result.wall_time_s:.1f} s: accuracy "
                f"{result.final_accuracy:.3f} ({changed}).{saved}"
            )
            return result
        except Exception as exc:  # shown in the page, never as a traceback
            self.progress.bar_style = "danger"
            self.rerun_status.value = error_html(exc) + status_html(
                "Fix the setting named above and press Rerun again; the saved run stays on show."
            )
            return None
        finally:
            self.rerun_button.disabled = self.saved is None

    def _on_round(self, row: dict[str, Any]) -> None:
        self.progress.value = min(int(row["round"]), self.progress.max)
        self.rerun_status.value = loading_html(
            f"Round {row['round']}/{self.progress.max}: accuracy {row['accuracy']:.3f}"
        )

    # -- drawing --------------------------------------------------------------------------------

    def _draw_comparison(self) -> None:
        """Accuracy curves of the saved run (and the rerun), and their figures side by side."""
        saved = self.saved
        baseline = saved.baseline["accuracy"] if saved.baseline else None
        curves = {f"saved {self.saved_run.id[:15]}": saved.rounds}
        if self.rerun_result is not None:
            curves[f"rerun ({_changes(saved.config, self.rerun_result.config) or 'same'})"] = (
                self.rerun_result.rounds
            )
        fig = plots.accuracy_comparison(curves, baseline=baseline)
        self.figures["curves"] = fig
        self.curves.value = plots.to_png(fig)
        self.comparison.value = _comparison_html(saved, self.rerun_result)

    def _draw_run(self, result: Any, row: w.HBox, name: str) -> None:
        outcomes, traffic, labels = row.children
        charts = {
            "outcomes": (outcomes, plots.figure(), plots.client_outcomes),
            "traffic": (traffic, plots.figure(), plots.traffic_by_round),
        }
        for chart, (image, (fig, (ax,)), draw) in charts.items():
            draw(result.rounds, ax)
            self.figures[f"{name} {chart}"] = fig
            image.value = plots.to_png(fig)
        if result.label_distribution is not None and len(result.label_distribution):
            fig, (ax,) = plots.figure(width=6)
            plots.label_distribution(result.label_distribution, ax, clients=self.clients_shown)
            self.figures[f"{name} labels"] = fig
            labels.value = plots.to_png(fig)
        else:
            labels.value = b""


# -- helpers --------------------------------------------------------------------------------------


def _note(text: str) -> w.HTML:
    return w.HTML(status_html(text))


def _chart_row() -> w.HBox:
    return w.HBox([w.Image(format="png") for _ in range(3)], layout=w.Layout(flex_flow="row wrap"))


def _when(iso: str | None) -> str:
    return (iso or "")[:16].replace("T", " ") + (" UTC" if iso else "")


def _option_label(summary: runs.RunSummary) -> str:
    accuracy = summary.summary.get("final_accuracy")
    figure = f", accuracy {accuracy:.3f}" if isinstance(accuracy, float) else ""
    return f"{summary.id} ({_when(summary.started_at)}{figure})"


def _setting(config: FedConfig, name: str) -> str:
    value = getattr(config, name)
    if name == "strategy":
        return STRATEGY_NAMES.get(value, value)
    if name == "deadline_s":
        return "none" if value is None else f"{value:g} s"
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)


def _changes(before: FedConfig, after: FedConfig) -> str:
    """The varied settings that differ, as ``name old → new``."""
    names = [n for n in VARIED if getattr(before, n) != getattr(after, n)]
    if "alpha" in names and after.partition != "dirichlet" and before.partition != "dirichlet":
        names.remove("alpha")  # alpha only matters to the Dirichlet split
    return ", ".join(
        f"{VARIED_NAMES[n]} {_setting(before, n)} → {_setting(after, n)}" for n in names
    )


def _card_html(run: runs.Run, result: Any) -> str:
    config = result.config
    partition = config.partition
    if partition == "dirichlet":
        partition += f" (alpha {config.alpha:g})"
    elif partition == "pathological":
        partition += f" ({config.classes_per_client} classes per client)"
    settings = [
        ("Saved", _when(run.started_at)),
        (
            "Settings",
            f"{config.task} with {config.model}, {STRATEGY_NAMES.get(config.strategy)}, "
            f"{config.num_clients} clients, {config.fraction:g} asked per round, {config.rounds} "
            f"rounds, {partition} split, deadline {_setting(config, 'deadline_s')}, DP noise "
            f"{config.dp_noise:g}, seed {config.seed}",
        ),
    ]
    return table_html(settings + summary_rows(result))


def _figures(result: Any, baseline_note: str = "–") -> dict[str, str]:
    summary = result.summary()
    baseline = summary["baseline_accuracy"]
    epsilon = summary["epsilon"]
    return {
        "final accuracy": f"{summary['final_accuracy']:.3f}",
        "central baseline": baseline_note if baseline is None else f"{baseline:.3f}",
        "simulated time": plots.duration_text(summary["sim_hours"] * 3600),
        "traffic (MB, down + up)": f"{(summary['bytes_down'] + summary['bytes_up']) / 1e6:.3f}",
        "clients past the deadline": str(summary["clients_straggling"]),
        "clients dropped out": str(summary["clients_dropped"]),
        "clients failed": str(summary["clients_failed"]),
        "privacy spent (ε)": "no DP" if epsilon is None else f"{epsilon:.3g}",
    }


def _comparison_html(saved: Any, rerun: Any) -> str:
    """The saved run's figures and varied settings, and the rerun's beside them."""
    columns = [("saved run", saved)] + ([("rerun", rerun)] if rerun is not None else [])
    figures = [_figures(result, "as saved") for _, result in columns]
    rows = [(name, [f[name] for f in figures]) for name in figures[0]]
    rows += [
        (VARIED_NAMES[n], [_setting(result.config, n) for _, result in columns]) for n in VARIED
    ]
    head = "<tr><th></th>" + "".join(f"<th>{name}</th>" for name, _ in columns) + "</tr>"
    body = "".join(
        f"<tr><td>{html.escape(name)}</td>"
        + "".join(f"<td>{html.escape(v)}</td>" for v in values)
        + "</tr>"
        for name, values in rows
    )
    note = "" if rerun is not None else status_html("Press Rerun to add a variation here.")
    return f'<table class="wb-versus">{head}{body}</table>{note}'


__all__ = ["FederatedDashboard"]
