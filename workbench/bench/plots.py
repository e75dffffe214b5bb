"""Charts of benchmark results (matplotlib figures, no pyplot state, no widgets)."""

from __future__ import annotations

import pandas as pd
from matplotlib.figure import Figure

from workbench.kit.charts import to_png as to_png  # the panels call plots.to_png


def latency_distribution(points: pd.DataFrame, samples: pd.DataFrame) -> Figure:
    """Box plots of warm-call latency, one per point, labelled variant / batch / length."""
    fig = Figure(figsize=(7, 3.2), layout="constrained")
    ax = fig.subplots()
    groups = [samples.loc[samples["point"] == i, "latency_ms"].to_numpy() for i in points.index]
    labels = [f"{r.variant}\nb{r.batch} s{r.seq_len}" for r in points.itertuples()]
    ax.boxplot(groups, tick_labels=labels, showfliers=True)
    ax.set_ylabel("latency per call (ms)")
    ax.set_title("Warm-call latency distribution")
    ax.grid(axis="y", alpha=0.3)
    return fig


def throughput_by_batch(points: pd.DataFrame) -> Figure:
    """Throughput against batch size, one line per variant (and thread count)."""
    fig = Figure(figsize=(5, 3.2), layout="constrained")
    ax = fig.subplots()
    generation = "tokens_per_s" in points and points["task"].eq("text-generation").all()
    column = "tokens_per_s" if generation else "throughput_items_per_s"
    for (variant, threads), group in points.groupby(["variant", "threads"], sort=False):
        group = group.groupby("batch", as_index=False)[column].max()
        ax.plot(group["batch"], group[column], marker="o", label=f"{variant}, {threads} threads")
    ax.set_xlabel("batch size")
    ax.set_ylabel("output tokens/s" if generation else "items/s")
    ax.set_title("Throughput by batch size")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return fig


def device_projection(projected: pd.DataFrame) -> Figure:
    """Projected figures per device (log scale), with devices that cannot hold the model named."""
    fig = Figure(figsize=(7, 3.4), layout="constrained")
    ax = fig.subplots()
    generation = projected["task"].eq("text-generation").all()
    column = "projected_tokens_per_s" if generation else "projected_p50_ms"
    fits = projected[projected["fits"] & projected[column].notna()]
    ax.barh(fits["device"], fits[column], color="#5b8bd0")
    ax.set_xscale("log")
    ax.set_xlabel(
        "tokens/s per sequence (ESTIMATE)" if generation else "p50 latency, ms (ESTIMATE)"
    )
    missing = projected.loc[~projected["fits"], "device"].tolist()
    title = "Roofline projection from this host: estimates, not measurements"
    ax.set_title(
        title + (f"\ntoo little memory: {', '.join(missing)}" if missing else ""), fontsize=9
    )
    ax.grid(axis="x", alpha=0.3)
    return fig
