"""The federated panel: set up a fleet and a strategy, train round by round, read what it cost."""

from __future__ import annotations

import html
import time
from collections.abc import Sequence
from typing import Any

import ipywidgets as w
import pandas as pd

from widgets.common import STYLE, error_html, frame_html, status_html, table_html
from widgets.forms import LABEL_WIDTH, form, values
from workbench.federated import plots
from workbench.federated.config import STRATEGIES, STRATEGY_HELP, STRATEGY_NAMES, FedConfig
from workbench.federated.fleet import load_tiers, tiers_table
from workbench.kit.fields import help_of, specs

_ROUND_COLUMNS = [
    "round", "accuracy", "loss", "clients_available", "clients_selected", "clients_completed",
    "clients_straggling", "clients_dropped", "clients_failed", "bytes_down", "bytes_up",
    "sim_time_s", "sim_clock_s", "wall_time_s", "client_accuracy_min", "epsilon",
]  # fmt: skip
_HISTORY_COLUMNS = [
    "run", "task", "model", "strategy", "partition", "num_clients", "rounds", "fraction",
    "deadline_s", "dp_noise", "final_accuracy", "baseline_accuracy", "sim_time", "mb_total",
    "clients_straggling", "clients_dropped", "epsilon", "run_id",
]  # fmt: skip
_TIER_COLUMNS = [
    "tier", "description", "samples_per_s", "down_mbps", "up_mbps", "latency_ms", "startup_s",
    "availability", "hours", "dropout", "max_samples", "source", "as_of",
]  # fmt: skip
# The panel's controls, in two columns; the other settings are kept from the starting config.
SETTINGS_COLUMN = ("task", "model", "strategy", "partition", "deadline_s", "seed")
FLEET_COLUMN = (
    "num_clients", "rounds", "fraction", "alpha", "classes_per_client", "dp_noise", "dp_clip",
)  # fmt: skip
# Redrawing the live curve costs tens of milliseconds; fast rounds share one redraw.
LIVE_REDRAW_S = 0.3


def federated_controls(
    config: FedConfig, names: Sequence[str], *, width: str = "380px"
) -> dict[str, w.Widget]:
    """One control per :class:`FedConfig` field in ``names``, built from the field's spec.

    The federated panel and dashboard both take their controls from here. Strategies are listed
    by their display names; alpha gets a log slider (0.001 to 100); a deadline of 0 means none
    (see :func:`chosen_settings`).
    """
    # A Layout each: controls that share a layout hide and show together.
    overrides: dict[str, dict[str, Any]] = {n: {"layout": w.Layout(width=width)} for n in names}
    if "strategy" in overrides:
        options = [(STRATEGY_NAMES.get(s, s), s) for s in STRATEGIES]
        overrides["strategy"] |= {"options": options, "value": config.strategy}
    if "deadline_s" in overrides:
        tooltip = help_of(FedConfig, "deadline_s") + " (0: no deadline)"
        overrides["deadline_s"] |= {"tooltip": tooltip, "step": 0.1}
    controls = form(FedConfig, [n for n in names if n != "alpha"], value=config, **overrides)
    if "alpha" in names:
        alpha = specs(FedConfig)["alpha"]
        controls["alpha"] = w.FloatLogSlider(
            value=config.alpha,
            base=10,
            min=-3,
            max=2,
            step=0.05,
            description=alpha.label,
            readout_format=".3g",
            tooltip=alpha.help,
            continuous_update=False,
            style={"description_width": LABEL_WIDTH},
            layout=w.Layout(width=width),
        )
    return {name: controls[name] for name in names}


def chosen_settings(controls: dict[str, w.Widget]) -> dict[str, Any]:
    """The controls' values by field name, ready for ``FedConfig.replace`` (deadline 0: none)."""
    chosen = values(controls)
    if chosen.get("deadline_s") == 0:
        chosen["deadline_s"] = None
    return chosen


def strategy_help_html(strategy: str) -> str:
    """What the chosen strategy does, in one line."""
    return f'<div class="wb-status">{html.escape(STRATEGY_HELP.get(strategy, ""))}</div>'


class FederatedPanel(w.VBox):
    """Federated training across a synthetic edge fleet, with live per-round accuracy.

    Press Run (or call :meth:`run`, which blocks until the run ends): the accuracy curve and the
    per-round table grow as rounds finish; then the label distribution, traffic, client outcomes,
    per-client accuracy, the central baseline and the privacy spent are shown. Bad settings are
    explained in the panel and the previous run's charts stay on show.

    Each control is an attribute named after its field (``panel.num_clients``,
    ``panel.deadline_s``, ...) and in :attr:`controls`; the device mix has one slider per tier in
    :attr:`mix`.

    Parameters
    ----------
    config
        The settings shown at start; fields without a control (local epochs, learning rate,
        launcher, ...) are kept from it in every run. Default: ``FedConfig()``.
    runs_dir
        Where runs are saved (default ``$WORKBENCH_RUNS_DIR`` or ``./runs``).
    save
        Save each run to the run store.
    clients_shown
        How many clients the label-distribution chart shows.
    """

    def __init__(
        self,
        config: FedConfig | None = None,
        runs_dir: str | None = None,
        save: bool = True,
        clients_shown: int = 20,
        **kwargs: Any,
    ):
        base = config if config is not None else FedConfig()
        self.base = base
        self.runs_dir = runs_dir
        self.save = save
        self.clients_shown = clients_shown
        self.result: Any = None  # the last finished FedResult
        self.live_rounds: list[dict[str, Any]] = []  # the rounds of the run in progress
        self.history: list[dict[str, Any]] = []  # one summary per finished run
        self.figures: dict[str, Any] = {}  # the matplotlib figures on show, by chart
        self._last_draw = 0.0
        self._running: FedConfig | None = None

        self.controls = federated_controls(base, SETTINGS_COLUMN + FLEET_COLUMN)
        for name, control in self.controls.items():
            setattr(self, name, control)
        self.strategy_help = w.HTML(layout=w.Layout(width="380px"))
        self.tiers = load_tiers()
        self.mix = {
            name: w.FloatSlider(
                value=float(base.device_mix.get(name, tier.share)),
                min=0.0,
                max=1.0,
                step=0.05,
                description=name,
                tooltip=tier.description,
                continuous_update=False,
                layout=w.Layout(width="380px"),
            )
            for name, tier in self.tiers.items()
        }
        self.mix_readout = w.HTML()
        self.tiers_table = w.HTML(frame_html(tiers_table(), _TIER_COLUMNS, whole_from=1e5))
        self.run_button = w.Button(description="Run", button_style="primary", icon="play")
        self._make_outputs(base.rounds)

        self.strategy.observe(lambda _: self._sync_strategy(), names="value")
        self.partition.observe(lambda _: self._sync_partition(), names="value")
        for control in self.mix.values():
            control.observe(lambda _: self._sync_mix(), names="value")
        self.run_button.on_click(lambda _: self.run())
        self._sync_strategy()
        self._sync_partition()
        self._sync_mix()
        super().__init__(self._page(), **kwargs)

    def _make_outputs(self, rounds: int) -> None:
        self.progress = w.IntProgress(value=0, min=0, max=rounds, description="Rounds")
        self.progress_label = w.HTML()
        self.status = w.HTML(status_html("Set up the fleet and the strategy, then press Run."))
        self.curve_plot = w.Image(format="png")
        self.summary = w.HTML()
        self.label_plot = w.Image(format="png")
        self.outcomes_plot = w.Image(format="png")
        self.traffic_plot = w.Image(format="png")
        self.spread_plot = w.Image(format="png")
        self.table = w.HTML()
        self.history_table = w.HTML()

    def _page(self) -> list[w.Widget]:
        settings = [self.controls[n] for n in SETTINGS_COLUMN]
        settings.insert(SETTINGS_COLUMN.index("strategy") + 1, self.strategy_help)
        mix_box = w.VBox(
            [
                w.HTML(status_html("Share of clients drawn from each device tier (relative).")),
                *self.mix.values(),
                self.mix_readout,
                self.tiers_table,
            ]
        )
        return [
            w.HTML(STYLE + "<h3>Federated learning on an edge fleet</h3>"),
            w.HBox([w.VBox(settings), w.VBox([self.controls[n] for n in FLEET_COLUMN])]),
            w.Accordion(children=[mix_box], titles=("Device mix and tiers",)),
            w.HBox([self.run_button, self.progress, self.progress_label]),
            self.status,
            self.curve_plot,
            self.summary,
            w.HBox([self.label_plot, self.outcomes_plot]),
            w.HBox([self.traffic_plot, self.spread_plot]),
            w.HTML("<h4>Per round</h4>"),
            self.table,
            w.HTML("<h4>Runs in this panel</h4>"),
            self.history_table,
        ]

    # -- controls -------------------------------------------------------------------------------

    def _sync_strategy(self) -> None:
        self.strategy_help.value = strategy_help_html(self.strategy.value)

    def _sync_partition(self) -> None:
        """Show the knob of the chosen split only."""
        scheme = self.partition.value
        self.alpha.layout.display = None if scheme == "dirichlet" else "none"
        self.classes_per_client.layout.display = None if scheme == "pathological" else "none"

    def _sync_mix(self) -> None:
        shares = {name: float(s.value) for name, s in self.mix.items()}
        total = sum(shares.values())
        if total <= 0:
            self.mix_readout.value = status_html(
                "Every tier has a share of 0: give at least one tier a share above 0."
            )
            return
        text = " · ".join(f"{name} {share / total:.0%}" for name, share in shares.items())
        self.mix_readout.value = status_html(f"Clients drawn: {text}")

    def config(self) -> FedConfig:
        """The experiment the controls describe (raises a clear error on bad values)."""
        return self.base.replace(
            **chosen_settings(self.controls),
            device_mix={name: float(s.value) for name, s in self.mix.items()},
        )

    # -- work -----------------------------------------------------------------------------------

    def run(self) -> Any:
        """Run the experiment on this thread, drawing each round as it finishes.

        Returns
        -------
        FedResult or None
            The finished run, or None when the settings were refused or the run failed (the
            reason is shown in the panel, and the previous run stays on show).
        """
        from workbench.federated.runner import run_federated

        self.run_button.disabled = True
        self.live_rounds = []
        try:
            config = self.config()
            self._running = config
            self.progress.value = 0
            self.progress.max = config.rounds
            self.progress.bar_style = ""
            self.progress_label.value = status_html(f"0/{config.rounds} rounds")
            self.status.value = status_html(
                f"Training on {config.num_clients} clients for {config.rounds} rounds …"
            )
            result = run_federated(
                config,
                observer=self._on_round,
                baseline=True,
                save=self.save,
                runs_dir=self.runs_dir,
            )
            self._show(result)
            self.history.append(_history_row(result, len(self.history) + 1))
            self.history_table.value = frame_html(
                pd.DataFrame(self.history), _HISTORY_COLUMNS, whole_from=1e5
            )
        except Exception as exc:  # shown in the panel, never as a traceback
            self._failed(exc)
            return None
        finally:
            self._running = None
            self.run_button.disabled = False
        self.result = result
        return result

    def _on_round(self, row: dict[str, Any]) -> None:
        """Grow the live curve and table by one round (called by the runner as rounds finish)."""
        self.live_rounds.append(dict(row))
        total = self._running.rounds if self._running else self.progress.max
        self.progress.value = min(int(row["round"]), self.progress.max)
        self.progress_label.value = status_html(
            f"{row['round']}/{total} rounds · accuracy {row['accuracy']:.3f} · simulated "
            f"{plots.duration_text(row['sim_clock_s'])}"
        )
        frame = pd.DataFrame(self.live_rounds)
        self.table.value = frame_html(frame, _round_columns(frame), whole_from=1e5)
        now = time.perf_counter()
        if now - self._last_draw >= LIVE_REDRAW_S or row["round"] >= total:
            self._draw_curves(frame, baseline=None)
            self._last_draw = time.perf_counter()

    def _failed(self, exc: BaseException) -> None:
        done = len(self.live_rounds)
        kept = ""
        if self.result is not None:
            try:
                self._show(self.result)  # back to the last complete run, consistently
                kept = "The charts below still show the previous run."
            except Exception:  # the error being shown matters more than the old charts
                pass
        progress = f" {done} round(s) had finished before it stopped." if done else ""
        self.progress.bar_style = "danger"
        self.progress_label.value = status_html("stopped")
        self.status.value = error_html(exc) + status_html(
            f"Fix the setting named above and press Run again.{progress} {kept}".strip()
        )

    def _draw_curves(self, rounds: pd.DataFrame, baseline: float | None) -> None:
        fig, (by_round, by_time) = plots.figure(2, width=10)
        label = "federated" if baseline is not None else None
        plots.accuracy_by_round(rounds, by_round, baseline=baseline, label=label)
        plots.accuracy_by_time(rounds, by_time, baseline=baseline, label=label)
        self.figures["curve"] = fig
        self.curve_plot.value = plots.to_png(fig)

    def _show(self, result: Any) -> None:
        """Every chart and table of a finished run."""
        rounds = result.rounds
        baseline = result.baseline["accuracy"] if result.baseline else None
        self._draw_curves(rounds, baseline)
        self.table.value = frame_html(rounds, _round_columns(rounds), whole_from=1e5)
        charts = {
            "labels": (self.label_plot, plots.figure(width=6)),
            "outcomes": (self.outcomes_plot, plots.figure()),
            "traffic": (self.traffic_plot, plots.figure()),
            "spread": (self.spread_plot, plots.figure()),
        }
        plots.label_distribution(
            result.label_distribution, charts["labels"][1][1][0], clients=self.clients_shown
        )
        plots.client_outcomes(rounds, charts["outcomes"][1][1][0])
        plots.traffic_by_round(rounds, charts["traffic"][1][1][0])
        plots.client_accuracy_spread(rounds, charts["spread"][1][1][0])
        for name, (image, (fig, _)) in charts.items():
            self.figures[name] = fig
            image.value = plots.to_png(fig)
        summary = result.summary()
        self.summary.value = table_html(summary_rows(result))
        self.progress.value = self.progress.max = max(len(rounds), 1)
        self.progress.bar_style = "success"
        self.progress_label.value = status_html(
            f"{len(rounds)}/{result.config.rounds} rounds in {result.wall_time_s:.1f} s"
        )
        gap = ""
        if baseline is not None:
            gap = f" (central baseline {baseline:.3f})"
        saved = f" Saved as run {result.run_id}." if result.run_id else ""
        self.status.value = status_html(
            f"Done: accuracy {result.final_accuracy:.3f} after {len(rounds)} rounds{gap}, "
            f"{plots.duration_text(summary['sim_hours'] * 3600)} of simulated time.{saved}"
        )


def _round_columns(frame: pd.DataFrame) -> list[str]:
    """The per-round columns worth showing (epsilon only when DP is on)."""
    columns = list(_ROUND_COLUMNS)
    if "epsilon" not in frame or frame["epsilon"].isna().all():
        columns.remove("epsilon")
    return columns


def summary_rows(result: Any) -> list[tuple[str, str]]:
    """A finished run's headline figures as (label, text) rows, for the panel and the dashboard."""
    config, summary = result.config, result.summary()
    rows = [("Final accuracy", f"{summary['final_accuracy']:.3f} after {summary['rounds']} rounds")]
    if summary["baseline_accuracy"] is not None:
        gap = summary["final_accuracy"] - summary["baseline_accuracy"]
        rows.append(
            (
                "Central baseline",
                f"{summary['baseline_accuracy']:.3f}: the same model trained on all the data in "
                f"one place (federated is {gap:+.3f} from it)",
            )
        )
    rows += [
        (
            "Simulated time",
            f"{plots.duration_text(summary['sim_hours'] * 3600)} on the fleet's clock "
            f"(wall time here {summary['wall_time_s']:.1f} s)",
        ),
        (
            "Traffic",
            f"{summary['bytes_down'] / 1e6:.3f} MB down, {summary['bytes_up'] / 1e6:.3f} MB up",
        ),
        (
            "Clients asked",
            f"{int(result.rounds['clients_selected'].sum())}: "
            f"{int(result.rounds['clients_completed'].sum())} completed, "
            f"{summary['clients_straggling']} past the deadline, "
            f"{summary['clients_dropped']} dropped out, {summary['clients_failed']} failed",
        ),
    ]
    if result.privacy:
        p = result.privacy
        rows.append(
            (
                "Privacy spent",
                f"ε = {p['epsilon']:.3g} at δ = {p.get('delta', config.dp_delta):g} "
                f"(noise {config.dp_noise:g}, clip {config.dp_clip:g}); smaller ε is more private",
            )
        )
    else:
        rows.append(("Privacy", "no differential privacy (DP noise 0)"))
    if result.run_id:
        rows.append(("Run", result.run_id))
    return rows


def _history_row(result: Any, number: int) -> dict[str, Any]:
    config, summary = result.config, result.summary()
    partition = config.partition
    if partition == "dirichlet":
        partition = f"dirichlet({config.alpha:.3g})"
    elif partition == "pathological":
        partition = f"pathological({config.classes_per_client})"
    return {
        "run": number,
        "task": config.task,
        "model": config.model,
        "strategy": config.strategy,
        "partition": partition,
        "num_clients": config.num_clients,
        "rounds": config.rounds,
        "fraction": config.fraction,
        "deadline_s": config.deadline_s,
        "dp_noise": config.dp_noise,
        "final_accuracy": summary["final_accuracy"],
        "baseline_accuracy": summary["baseline_accuracy"],
        "sim_time": plots.duration_text(summary["sim_hours"] * 3600),
        "mb_total": (summary["bytes_down"] + summary["bytes_up"]) / 1e6,
        "clients_straggling": summary["clients_straggling"],
        "clients_dropped": summary["clients_dropped"],
        "epsilon": summary["epsilon"],
        "run_id": result.run_id,
    }


__all__ = [
    "FederatedPanel",
    "chosen_settings",
    "federated_controls",
    "strategy_help_html",
    "summary_rows",
]
