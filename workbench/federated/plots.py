"""Charts of federated runs (matplotlib, no pyplot state, no widgets).

Each chart draws on the :class:`~matplotlib.axes.Axes` it is given (or on a new figure's when
``ax`` is None) and returns that Axes, so several runs can share one chart: call
:func:`accuracy_by_round` once per run with a ``label``. :func:`to_png` turns an Axes or a Figure
into PNG bytes for an ``ipywidgets.Image`` or ``IPython.display.Image``. The inputs are the tables
of a :class:`~workbench.federated.runner.FedResult`: ``rounds`` (one row per round, the columns of
``runner.ROUND_COLUMNS``) and ``label_distribution`` (one row per client, one column per class).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from workbench.kit.charts import to_png as to_png  # the panels call plots.to_png

BASELINE_GID = "central-baseline"
OUTCOME_COLORS = {
    "clients_completed": ("completed", "#2e7d32"),
    "clients_straggling": ("straggling (past deadline)", "#f9a825"),
    "clients_dropped": ("dropped out", "#c62828"),
    "clients_failed": ("failed", "#424242"),
}
_OUTSIDE = {"loc": "upper left", "bbox_to_anchor": (1.01, 1.0), "borderaxespad": 0.0}
_TIME_UNITS = (("h", 3600.0), ("min", 60.0), ("s", 1.0))
_BYTE_UNITS = (("GB", 1e9), ("MB", 1e6), ("kB", 1e3), ("B", 1.0))


def figure(ncols: int = 1, *, width: float | None = None, height: float = 3.2):
    """A new figure with ``ncols`` side-by-side axes.

    Returns
    -------
    tuple
        ``(Figure, list of Axes)``.
    """
    fig = Figure(figsize=(width or 4.6 * ncols, height), layout="constrained")
    axes = fig.subplots(1, ncols, squeeze=False)[0]
    return fig, list(axes)


def time_unit(seconds: float) -> tuple[str, float]:
    """The unit that shows ``seconds`` readably: ``("h", 3600)`` from 2 hours, then min, then s."""
    for name, scale in _TIME_UNITS:
        if seconds >= 2 * scale:
            return name, scale
    return "s", 1.0


def duration_text(seconds: float) -> str:
    """``seconds`` in the unit :func:`time_unit` picks, to 3 digits: ``"12.5 min"``."""
    name, scale = time_unit(float(seconds))
    return f"{seconds / scale:.3g} {name}"


def accuracy_by_round(
    rounds: pd.DataFrame,
    ax: Axes | None = None,
    *,
    baseline: float | None = None,
    label: str | None = None,
) -> Axes:
    """Global test accuracy after each round, with the central baseline as a dashed line.

    Parameters
    ----------
    rounds
        A run's per-round table (``round``, ``accuracy``).
    ax
        Where to draw; a new figure when None.
    baseline
        Accuracy of the same model trained centrally on the pooled data (drawn once per Axes).
    label
        Legend entry of this run, when several runs share the Axes.
    """
    ax = ax if ax is not None else figure()[1][0]
    ax.plot(rounds["round"], rounds["accuracy"], marker="o", markersize=3, label=label)
    _baseline(ax, baseline)
    _round_axis(ax)
    ax.set_ylabel("test accuracy")
    ax.set_title("Accuracy by round")
    _finish_accuracy_axes(ax)
    return ax


def accuracy_by_time(
    rounds: pd.DataFrame,
    ax: Axes | None = None,
    *,
    baseline: float | None = None,
    label: str | None = None,
    unit: str = "auto",
) -> Axes:
    """Global test accuracy against the simulated clock (the time the fleet would really take).

    Parameters
    ----------
    rounds
        A run's per-round table (``sim_clock_s``, ``accuracy``).
    unit
        ``"s"``, ``"min"``, ``"h"`` or ``"auto"`` (chosen from this run's length; give the same
        unit to every run drawn on one Axes).
    """
    ax = ax if ax is not None else figure()[1][0]
    clock = rounds["sim_clock_s"].astype(float)
    name, scale = _unit(unit, float(clock.max()) if len(clock) else 0.0)
    ax.plot(clock / scale, rounds["accuracy"], marker="o", markersize=3, label=label)
    _baseline(ax, baseline)
    ax.set_xlabel(f"simulated time ({name})")
    ax.set_ylabel("test accuracy")
    ax.set_title("Accuracy by simulated time")
    _finish_accuracy_axes(ax)
    return ax


def accuracy_comparison(
    runs: Mapping[str, pd.DataFrame], *, baseline: float | None = None, title: str | None = None
) -> Figure:
    """Accuracy by round and by simulated time for several runs, one line per run.

    Parameters
    ----------
    runs
        Each run's per-round table, by the label to show in the legend.
    baseline
        The central baseline's accuracy (dashed line).
    """
    fig, (by_round, by_time) = figure(2, width=10)
    longest = max((float(r["sim_clock_s"].max()) for r in runs.values() if len(r)), default=0.0)
    unit = time_unit(longest)[0]
    for label, rounds in runs.items():
        accuracy_by_round(rounds, by_round, baseline=baseline, label=label)
        accuracy_by_time(rounds, by_time, baseline=baseline, label=label, unit=unit)
    if title:
        fig.suptitle(title)
    return fig


def label_distribution(
    distribution: pd.DataFrame,
    ax: Axes | None = None,
    *,
    clients: int = 20,
    title: str | None = None,
) -> Axes:
    """Examples of each class held by the first ``clients`` clients, as stacked bars.

    Parameters
    ----------
    distribution
        One row per client, one column per class (a run's ``label_distribution``).
    clients
        How many clients to show (the first ones; all when there are fewer).
    title
        Prefix of the chart's title (say, the name of the split).
    """
    ax = ax if ax is not None else figure(width=6)[1][0]
    shown = distribution.head(clients)
    positions = np.arange(len(shown))
    bottom = np.zeros(len(shown))
    colors = _class_colors(len(shown.columns))
    for color, column in zip(colors, shown.columns, strict=True):
        counts = shown[column].to_numpy(dtype=float)
        ax.bar(positions, counts, bottom=bottom, color=color, width=0.85, label=str(column))
        bottom += counts
    ax.set_xticks(positions, [str(c) for c in shown.index], fontsize=7)
    ax.set_xlabel("client")
    ax.set_ylabel("examples")
    heading = f"Labels held by the first {len(shown)} of {len(distribution)} clients"
    ax.set_title(f"{title}: {heading[0].lower()}{heading[1:]}" if title else heading)
    if len(shown.columns) <= 20:
        ax.legend(title="class", fontsize=7, title_fontsize=7, **_OUTSIDE)
    return ax


def traffic_by_round(rounds: pd.DataFrame, ax: Axes | None = None) -> Axes:
    """Model bytes sent to clients (down) and received from them (up) in each round."""
    ax = ax if ax is not None else figure()[1][0]
    peak = float(rounds[["bytes_down", "bytes_up"]].to_numpy().max()) if len(rounds) else 0.0
    name, scale = next(((n, s) for n, s in _BYTE_UNITS if peak >= s), ("B", 1.0))
    x = rounds["round"].to_numpy(dtype=float)
    ax.bar(x - 0.2, rounds["bytes_down"] / scale, width=0.4, label="down (to clients)")
    ax.bar(x + 0.2, rounds["bytes_up"] / scale, width=0.4, label="up (to server)")
    _round_axis(ax)
    ax.set_ylabel(name)
    ax.set_title("Traffic per round")
    ax.legend(fontsize=8, **_OUTSIDE)
    ax.grid(axis="y", alpha=0.3)
    return ax


def client_outcomes(rounds: pd.DataFrame, ax: Axes | None = None) -> Axes:
    """What became of the clients asked in each round: completed, straggling, dropped, failed."""
    ax = ax if ax is not None else figure()[1][0]
    x = rounds["round"].to_numpy(dtype=float)
    bottom = np.zeros(len(rounds))
    for column, (name, color) in OUTCOME_COLORS.items():
        counts = rounds[column].to_numpy(dtype=float)
        ax.bar(x, counts, bottom=bottom, color=color, width=0.8, label=name)
        bottom += counts
    _round_axis(ax)
    ax.set_ylabel("clients asked")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_title("Client outcomes per round")
    ax.legend(fontsize=8, **_OUTSIDE)
    ax.grid(axis="y", alpha=0.3)
    return ax


def client_accuracy_spread(rounds: pd.DataFrame, ax: Axes | None = None) -> Axes:
    """Accuracy of the global model on the clients' own data: mean, ±1 std band, and the worst.

    A wide band or a low minimum means the shared model serves some clients badly (fairness).
    """
    ax = ax if ax is not None else figure()[1][0]
    x = rounds["round"]
    mean = rounds["client_accuracy_mean"].astype(float)
    std = rounds["client_accuracy_std"].astype(float)
    ax.plot(x, mean, marker="o", markersize=3, label="mean over clients")
    ax.fill_between(x, mean - std, mean + std, alpha=0.25, label="±1 std")
    ax.plot(x, rounds["client_accuracy_min"], linestyle=":", label="worst client")
    _round_axis(ax)
    ax.set_ylabel("accuracy on own data")
    ax.set_title("Per-client accuracy (trained clients)")
    _finish_accuracy_axes(ax)
    return ax


def privacy_tradeoff(
    points: pd.DataFrame, ax: Axes | None = None, *, baseline: float | None = None
) -> Axes:
    """Final accuracy against the DP noise multiplier, each point labelled with its epsilon.

    Parameters
    ----------
    points
        One row per run: ``dp_noise``, ``accuracy`` and ``epsilon`` (NaN or None without DP).
    """
    ax = ax if ax is not None else figure()[1][0]
    ordered = points.sort_values("dp_noise")
    ax.plot(ordered["dp_noise"], ordered["accuracy"], marker="o")
    for row in ordered.itertuples():
        eps = row.epsilon
        text = "no DP" if eps is None or not np.isfinite(eps) else f"ε = {eps:.3g}"
        ax.annotate(
            text,
            (row.dp_noise, row.accuracy),
            textcoords="offset points",
            xytext=(4, 6),
            fontsize=8,
        )
    _baseline(ax, baseline)
    ax.set_xlabel("DP noise multiplier")
    ax.set_ylabel("final test accuracy")
    ax.set_title("Privacy against accuracy (smaller ε = more private)")
    _finish_accuracy_axes(ax)
    return ax


def _unit(unit: str, seconds: float) -> tuple[str, float]:
    if unit == "auto":
        return time_unit(seconds)
    scales = dict(_TIME_UNITS)
    if unit not in scales:
        raise ValueError(f"`unit` must be one of auto, h, min, s; got {unit!r}")
    return unit, scales[unit]


def _baseline(ax: Axes, baseline: float | None) -> None:
    """The central baseline as a dashed line, drawn once per Axes."""
    if baseline is None or any(line.get_gid() == BASELINE_GID for line in ax.get_lines()):
        return
    ax.axhline(
        baseline,
        color="#555555",
        linestyle="--",
        linewidth=1,
        gid=BASELINE_GID,
        label=f"central baseline ({baseline:.3f})",
    )


def _round_axis(ax: Axes) -> None:
    ax.set_xlabel("round")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def _finish_accuracy_axes(ax: Axes) -> None:
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    if any(not line.get_label().startswith("_") for line in ax.get_lines()):
        ax.legend(fontsize=8, loc="lower right")


def _class_colors(n: int) -> list:
    from matplotlib import colormaps

    cmap = colormaps["tab10" if n <= 10 else "tab20"]
    return [cmap(i % cmap.N) for i in range(n)]
