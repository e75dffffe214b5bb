"""Charts of a run's tables, drawn where an x and a y are obvious from the column names."""

from __future__ import annotations

import pandas as pd

# Columns that make a good x axis, in order of preference, and words that make a column worth
# plotting, best first: curves by round for training, latency and throughput by batch for bench.
X_COLUMNS = (
    "round", "step", "epoch", "batch", "batch_size", "concurrency", "requests_per_month",
    "requests_per_s", "seq_len", "threads", "input_tokens", "output_tokens",
)  # fmt: skip
Y_WORDS = (
    "accuracy", "loss", "p50_ms", "throughput", "tokens_per_s", "p95_ms", "usd", "cost",
    "goodput", "bytes", "epsilon", "_ms", "_s",
)  # fmt: skip
MAX_GROUPS = 8


def chart_png(name: str, frame: pd.DataFrame) -> bytes | None:
    """A PNG chart of a table where an x and y are obvious, else ``None``.

    Up to two measures (by :data:`Y_WORDS`) against the first :data:`X_COLUMNS` column that
    varies, one line per value of a short text column (e.g. ``variant``); without such an x, a
    bar per row of a table whose text column names each row.
    """
    numeric = [
        c
        for c in frame.columns
        if pd.api.types.is_numeric_dtype(frame[c])
        and not pd.api.types.is_bool_dtype(frame[c])
        and frame[c].notna().any()
    ]
    x = next((c for c in X_COLUMNS if c in numeric and frame[c].nunique() > 1), None)
    ys = _measures([c for c in numeric if c != x])
    if not ys or frame.empty:
        return None
    texts = [c for c in frame.columns if c not in numeric and frame[c].dtype != bool]
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    from workbench.kit.charts import to_png

    figure = Figure(figsize=(4.2 * len(ys), 3.0), dpi=90, layout="constrained")
    axes = figure.subplots(1, len(ys), squeeze=False)[0]
    if x is not None:
        group = next((c for c in texts if 1 < frame[c].nunique() <= MAX_GROUPS), None)
        for ax, y in zip(axes, ys, strict=False):
            for label, part in frame.groupby(group, sort=False) if group else [(None, frame)]:
                line = part.groupby(x, sort=True)[y].mean()
                ax.plot(line.index, line.to_numpy(), marker="o", markersize=3, label=label)
            ax.set_xlabel(x)
            ax.set_ylabel(y)
            ax.grid(alpha=0.3)
            if pd.api.types.is_integer_dtype(frame[x]):
                ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            if group:
                ax.legend(title=group, fontsize=7)
    else:
        names = next((c for c in texts if frame[c].nunique() == len(frame) <= 40), None)
        if names is None:
            return None
        for ax, y in zip(axes, ys, strict=False):
            ax.barh(frame[names].astype(str), frame[y])
            ax.set_xlabel(y)
            ax.invert_yaxis()
    figure.suptitle(name, fontsize=10)
    return to_png(figure, dpi=90)


def _measures(columns: list[str]) -> list[str]:
    """Up to two columns to plot, each for a different word of :data:`Y_WORDS` (exact names
    first), so that a table gets e.g. accuracy and loss rather than two kinds of accuracy."""
    chosen: list[str] = []
    for word in Y_WORDS:
        matches = [c for c in columns if word in c.lower() and c not in chosen]
        matches = [c for c in matches if not c.lower().endswith("_id")]
        if matches:
            chosen.append(next((c for c in matches if c.lower() == word), matches[0]))
        if len(chosen) == 2:
            break
    return chosen


__all__ = ["MAX_GROUPS", "X_COLUMNS", "Y_WORDS", "chart_png"]
