"""Charts of cost and routing decisions (matplotlib figures, no pyplot state, no widgets).

Every function returns a :class:`matplotlib.figure.Figure`; turn it into PNG bytes with
:func:`workbench.kit.charts.to_png` (re-exported here).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from workbench.kit.charts import to_png

_PARETO_COLOR = "#c62828"
_OTHER_COLOR = "#9e9e9e"


def cost_vs_volume(curve_table: pd.DataFrame, break_evens: Iterable[Any] = ()) -> Figure:
    """Monthly cost against requests per month (log-log), one line per option.

    Parameters
    ----------
    curve_table
        From :func:`workbench.cost.model.cost_curve`: ``requests_per_month``, ``option``,
        ``monthly_usd`` (NaN where an option cannot serve the volume: the line stops there).
    break_evens
        :class:`workbench.cost.model.BreakEven` results; each crossing inside the plotted range
        is marked on ``option_a``'s line and labelled with its volume.
    """
    # Fixed margins instead of a layout engine: this chart is redrawn on every slider move of the
    # decision panel, and constrained layout cost about 100 of its 230 ms (bench_dashboards.py).
    fig = Figure(figsize=(7.5, 4))
    fig.subplots_adjust(left=0.1, right=0.98, bottom=0.13, top=0.91)
    ax = fig.subplots()
    for option, group in curve_table.groupby("option", sort=False):
        group = group.sort_values("requests_per_month")
        ax.plot(group["requests_per_month"], group["monthly_usd"], label=str(option))
    low, high = curve_table["requests_per_month"].min(), curve_table["requests_per_month"].max()
    marked = False
    for result in break_evens:
        line = curve_table[curve_table["option"] == result.option_a]
        line = line.sort_values("requests_per_month").dropna(subset=["monthly_usd"])
        for volume in result.crossings:
            if line.empty or not low <= volume <= high:
                continue
            cost = _log_interp(volume, line["requests_per_month"], line["monthly_usd"])
            ax.plot(volume, cost, "kx", markersize=9, label=None if marked else "break-even")
            ax.annotate(
                f"{volume:,.0f}/mo",
                (volume, cost),
                textcoords="offset points",
                xytext=(4, 6),
                fontsize=7,
            )
            marked = True
    if not marked:
        ax.text(
            0.99,
            0.02,
            "no break-even in this range",
            transform=ax.transAxes,
            ha="right",
            fontsize=8,
            color="#555",
        )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("requests per month")
    ax.set_ylabel("monthly cost (USD)")
    ax.set_title("Monthly cost against volume (lines stop where capacity runs out)")
    ax.grid(which="both", alpha=0.25)
    ax.legend(fontsize=7, loc="upper left")
    return fig


def _log_interp(x: float, xs: pd.Series, ys: pd.Series) -> float:
    positive = ys > 0
    logs = np.log(ys[positive].to_numpy(dtype=float))
    return float(np.exp(np.interp(np.log(x), np.log(xs[positive].to_numpy(dtype=float)), logs)))


def tornado(sensitivity_table: pd.DataFrame, top: int = 10) -> Figure:
    """Horizontal bars from the base cost to the cost with each input moved low and high.

    Parameters
    ----------
    sensitivity_table
        From :func:`workbench.cost.sensitivity.sensitivity` (largest swing first).
    top
        How many inputs to show. An end where the option cannot serve the peak has no bar
        and is named in the label.
    """
    shown = sensitivity_table.head(top).iloc[::-1]
    base = float(shown["base_cost"].iloc[0]) if len(shown) else 0.0
    fig = Figure(figsize=(7.5, 0.4 * len(shown) + 1.6), layout="constrained")
    ax = fig.subplots()
    labels = []
    for y, row in enumerate(shown.itertuples(index=False)):
        label = f"{row.input} ({row.owner})"
        for value, color, end in (
            (row.cost_at_low, "#5b8bd0", "low"),
            (row.cost_at_high, "#e08a3c", "high"),
        ):
            if value is None or math.isnan(value):
                label += f" [{end}: cannot serve]"
                continue
            ax.barh(y, value - base, left=base, color=color, label=end if y == 0 else None)
        labels.append(label)
    ax.set_yticks(range(len(labels)), labels, fontsize=8)
    ax.axvline(base, color="black", linewidth=1)
    ax.set_xlabel("monthly cost (USD); inputs moved down (blue) and up (orange)")
    ax.set_title(sensitivity_table.attrs.get("metric", "Sensitivity of the monthly cost"))
    ax.grid(axis="x", alpha=0.3)
    return fig


def latency_distributions(
    samples_by_option: Mapping[str, Any], objective_ms: float | None = None
) -> Figure:
    """Box plots of latency per option (log scale), with the latency objective as a line.

    Parameters
    ----------
    samples_by_option
        Option name to latencies in milliseconds.
    objective_ms
        The latency objective; drawn as a dashed line when given.
    """
    fig = Figure(figsize=(6, 3.4), layout="constrained")
    ax = fig.subplots()
    names = list(samples_by_option)
    data = [np.asarray(samples_by_option[n], dtype=float) for n in names]
    ax.boxplot(data, tick_labels=names, showfliers=True)
    if objective_ms is not None:
        ax.axhline(
            objective_ms,
            color=_PARETO_COLOR,
            linestyle="--",
            label=f"objective {objective_ms:,.0f} ms",
        )
        ax.legend(fontsize=8)
    ax.set_yscale("log")
    ax.set_ylabel("latency per request (ms)")
    ax.set_title("Latency per request: local against cloud")
    ax.grid(axis="y", alpha=0.3)
    return fig


def pareto(
    policy_table: pd.DataFrame, latency_column: str = "p95_ms", cost_column: str = "monthly_cost"
) -> Figure:
    """p95 latency against monthly cost, one point per policy, the Pareto front labelled.

    Parameters
    ----------
    policy_table
        From :func:`workbench.decision.hybrid_setup.simulate_scenario`: ``policy``, the two columns
        and a boolean ``pareto`` column.
    """
    fig = Figure(figsize=(6.5, 3.8), layout="constrained")
    ax = fig.subplots()
    front = policy_table["pareto"].astype(bool)
    ax.scatter(
        policy_table.loc[~front, cost_column],
        policy_table.loc[~front, latency_column],
        color=_OTHER_COLOR,
        label="dominated",
    )
    best = policy_table[front].sort_values(cost_column)
    ax.plot(
        best[cost_column], best[latency_column], "o-", color=_PARETO_COLOR, label="Pareto front"
    )
    # Policies that land on the same point (e.g. deadline and cloud-only) share one label.
    for (cost, latency), group in best.groupby([cost_column, latency_column], sort=False):
        ax.annotate(
            ", ".join(map(str, group["policy"])),
            (cost, latency),
            textcoords="offset points",
            xytext=(5, 4),
            fontsize=7,
        )
    ax.set_yscale("log")
    ax.set_xlabel("monthly cost (USD)")
    ax.set_ylabel(f"{latency_column.removesuffix('_ms')} latency (ms)")
    ax.set_title("Routing policies: cost against tail latency")
    ax.grid(which="both", alpha=0.25)
    ax.legend(fontsize=8)
    return fig


__all__ = ["cost_vs_volume", "latency_distributions", "pareto", "to_png", "tornado"]
