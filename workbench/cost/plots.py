"""Charts of cost and routing decisions (matplotlib figures, no pyplot state, no widgets).

Every function returns a :class:`matplotlib.figure.Figure`; turn it into PNG bytes with
:func:`workbench.kit.charts.to_png` (re-exported here), or draw and encode in one step with
:func:`image`, which keeps the last images it drew and gives one back, without drawing, when a
chart is asked for again with equal inputs (a slider that moves one input redraws only the
charts that input feeds).

The decision panel redraws these on every slider move, so they are drawn to be quick: axis
labels are plain text written with :mod:`workbench.kit.formats` (no mathtext ``10^3``), log axes
have no minor ticks, and margins are set from the labels' lengths rather than by a layout
engine (constrained layout cost about 100 ms of a 230 ms chart, ``benchmarks/bench_dashboards.py``).
Every label stays inside the figure, so a page can scale the image to its container.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import itertools
import math
import pickle
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import Formatter, FuncFormatter, NullLocator

from workbench.kit.charts import to_png
from workbench.kit.formats import duration_ms, percent

_PARETO_COLOR = "#c62828"
_OTHER_COLOR = "#9e9e9e"
_UNKNOWN_COLOR = "#757575"
_NOTE_COLOR = "#555"
#: Points farther apart than this ratio get a log axis in :func:`cost_latency_quality`.
_LOG_SPREAD = 20.0
#: Inches per character of a 7-point label (a margin sized from the longest label).
_INCH_PER_CHAR = 0.055


def _axis_usd(value: float, _: Any = None) -> str:
    """A dollar tick: whole dollars with separators from $1, two significant digits below."""
    if value >= 1:
        return f"${value:,.0f}"
    if value >= 0.01:
        return f"${value:.2f}"
    return f"${value:.2g}" if value > 0 else "$0"


class _UsdTicks(Formatter):
    """Dollar ticks on a linear axis, with as many decimals as the tick spacing needs."""

    def __init__(self) -> None:
        self._decimals = 2

    def set_locs(self, locs: Any) -> None:
        values = sorted(float(v) for v in locs)
        step = min((b - a for a, b in itertools.pairwise(values) if b > a), default=1.0)
        self._decimals = min(max(0, -math.floor(math.log10(step))), 6)

    def __call__(self, value: float, pos: Any = None) -> str:
        sign = "-" if value < 0 else ""
        return f"{sign}${abs(value):,.{self._decimals}f}"


def _axis_count(value: float, _: Any = None) -> str:
    """A count tick: 1k, 10k, 1M."""
    for size, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= size:
            return f"{value / size:,.3g}{suffix}"
    return f"{value:,.3g}"


def _axis_ms(value: float, _: Any = None) -> str:
    return duration_ms(value)


def _log_axis(axis: Any, formatter: Any) -> None:
    """A log axis with decade ticks labelled in plain text and no minor ticks."""
    axis.set_major_formatter(FuncFormatter(formatter))
    axis.set_minor_locator(NullLocator())


def _scale(
    ax: Any, which: str, values: pd.Series, formatter: Any, linear: Formatter | None = None
) -> None:
    """A log axis when the positive ``values`` spread over more than :data:`_LOG_SPREAD`,
    else a linear one; ticks written by ``formatter`` (``linear`` on a linear axis)."""
    axis = ax.xaxis if which == "x" else ax.yaxis
    positive = values[values > 0]
    if len(positive) and positive.max() / positive.min() > _LOG_SPREAD:
        (ax.set_xscale if which == "x" else ax.set_yscale)("log")
        _log_axis(axis, formatter)
    else:
        axis.set_major_formatter(linear or FuncFormatter(formatter))


def _margins(fig: Figure, *, left_chars: int = 8, title: bool = True, legend_below: bool = False):
    """Fixed margins wide enough for ``left_chars`` characters of y tick labels."""
    width, height = fig.get_size_inches()
    left = min(0.45, (left_chars * _INCH_PER_CHAR + 0.45) / width)
    top = 1 - (0.42 if title else 0.15) / height
    bottom = (0.75 if legend_below else 0.55) / height
    fig.subplots_adjust(left=left, right=1 - 0.2 / width, bottom=bottom, top=top)


def _note(ax: Any, text: str) -> None:
    """A small grey note in the lower right corner of the axes."""
    ax.text(
        0.99, 0.02, text, transform=ax.transAxes, ha="right", va="bottom", fontsize=7,
        color=_NOTE_COLOR, wrap=True,
    )  # fmt: skip


#: How many drawn images :func:`image` keeps.
IMAGE_CACHE_SIZE = 32
#: The image formats :func:`image` writes.
IMAGE_FORMATS = ("png", "svg")
_images: OrderedDict[tuple[Any, ...], bytes] = OrderedDict()
_images_lock = threading.Lock()


def image(chart: Callable[..., Figure], *args: Any, fmt: str = "png", **kwargs: Any) -> bytes:
    """``chart(*args, **kwargs)`` drawn as PNG or SVG bytes, drawn again only for new inputs.

    The inputs are compared by value (a table's columns, values and ``attrs``; an array's
    bytes), so equal inputs give the image drawn before and changed inputs always a new one.
    The last :data:`IMAGE_CACHE_SIZE` images are kept; the cache is safe to use from threads.

    Parameters
    ----------
    chart
        One of this module's chart functions (anything that returns a Figure from its inputs
        alone).
    args, kwargs
        Its inputs.
    fmt
        ``"png"`` (for reports and e-mail) or ``"svg"`` (text stays text: about half the time
        to draw, and sharp at any width; for pages shown in a browser).

    Raises
    ------
    InvalidInputError
        For a format other than those in :data:`IMAGE_FORMATS`.
    """
    if fmt not in IMAGE_FORMATS:
        from workbench.kit.errors import InvalidInputError

        raise InvalidInputError(
            f"fmt={fmt!r}: charts are drawn as {' or '.join(IMAGE_FORMATS)}; choose one of them."
        )
    key = (chart.__module__, chart.__qualname__, fmt, _fingerprint(args), _fingerprint(kwargs))
    with _images_lock:
        if key in _images:
            _images.move_to_end(key)
            return _images[key]
    figure = chart(*args, **kwargs)
    data = to_png(figure) if fmt == "png" else _to_svg(figure)
    with _images_lock:
        _images[key] = data
        while len(_images) > IMAGE_CACHE_SIZE:
            _images.popitem(last=False)
    return data


def _to_svg(figure: Figure) -> bytes:
    """SVG with text kept as text (no glyph outlines) and no date, so equal charts are equal."""
    import matplotlib

    buffer = io.BytesIO()
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "workbench"}):
        figure.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None})
    return buffer.getvalue()


def _fingerprint(value: Any) -> Any:
    """A hashable digest of a chart's input that changes whenever the input's value does."""
    if isinstance(value, pd.DataFrame | pd.Series):
        try:
            digest = pd.util.hash_pandas_object(value, index=True).to_numpy().tobytes()
        except TypeError:  # cells that cannot be hashed (lists): compare their pickle
            digest = pickle.dumps(value)
        names = tuple(value.columns) if isinstance(value, pd.DataFrame) else value.name
        return ("frame", names, str(value.dtypes), _sha(digest), repr(value.attrs))
    if isinstance(value, np.ndarray):
        return ("array", value.dtype.str, value.shape, _sha(np.ascontiguousarray(value).tobytes()))
    if isinstance(value, Mapping):
        return ("map", tuple((repr(k), _fingerprint(v)) for k, v in value.items()))
    if isinstance(value, list | tuple):
        return ("seq", tuple(_fingerprint(v) for v in value))
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
        return (type(value).__qualname__, _fingerprint(fields))
    return ("value", repr(value))


def _sha(data: bytes) -> str:
    return hashlib.sha1(data, usedforsecurity=False).hexdigest()


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
    fig = Figure(figsize=(7.5, 4))
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
        _note(ax, "no break-even in this range")
    ax.set_xscale("log")
    ax.set_yscale("log")
    _log_axis(ax.xaxis, _axis_count)
    _log_axis(ax.yaxis, _axis_usd)
    ax.set_xlabel("requests per month")
    ax.set_ylabel("monthly cost")
    ax.set_title("Monthly cost against volume (lines stop where capacity runs out)", fontsize=10)
    ax.grid(which="major", alpha=0.25)
    ax.legend(fontsize=7, loc="upper left")
    _margins(fig, left_chars=8)
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
    fig = Figure(figsize=(7.5, 0.32 * len(shown) + 1.5))
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
    ax.set_yticks(range(len(labels)), labels, fontsize=7)
    ax.axvline(base, color="black", linewidth=1)
    ax.xaxis.set_major_formatter(_UsdTicks())
    ax.set_xlabel("monthly cost; inputs moved down (blue) and up (orange)", fontsize=8)
    ax.set_title(
        sensitivity_table.attrs.get("metric", "Sensitivity of the monthly cost"), fontsize=10
    )
    ax.grid(axis="x", alpha=0.3)
    _margins(fig, left_chars=max((len(label) for label in labels), default=8))
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
    fig = Figure(figsize=(6.5, 3.6))
    ax = fig.subplots()
    names = list(samples_by_option)
    data = [np.asarray(samples_by_option[n], dtype=float) for n in names]
    ax.boxplot(data, tick_labels=names, showfliers=True)
    if objective_ms is not None:
        ax.axhline(
            objective_ms,
            color=_PARETO_COLOR,
            linestyle="--",
            label=f"objective {duration_ms(objective_ms)}",
        )
        ax.legend(fontsize=8)
    ax.set_yscale("log")
    _log_axis(ax.yaxis, _axis_ms)
    ax.set_ylabel("latency per request")
    ax.set_title("Latency per request: local against cloud", fontsize=10)
    ax.grid(axis="y", alpha=0.3)
    _margins(fig, left_chars=7)
    return fig


def _overloaded(table: pd.DataFrame) -> pd.Series:
    """Which rows are overloaded (the ``overloaded`` column; none when the table has none)."""
    if "overloaded" not in table.columns:
        return pd.Series(False, index=table.index)
    return table["overloaded"].fillna(False).astype(bool)


def pareto(
    policy_table: pd.DataFrame, latency_column: str = "p95_ms", cost_column: str = "monthly_cost"
) -> Figure:
    """p95 latency against monthly cost, one point per policy, the Pareto front labelled.

    Overloaded policies (an ``overloaded`` column, when the table has one) and policies without
    a cost or a latency are left out, and a note in the figure names them: their percentiles
    measure how long the simulation ran, not a latency.

    Parameters
    ----------
    policy_table
        From :func:`workbench.decision.hybrid_setup.simulate_scenario`: ``policy``, the two columns
        and a boolean ``pareto`` column.
    """
    fig = Figure(figsize=(6.5, 3.8))
    ax = fig.subplots()
    overloaded = _overloaded(policy_table)
    unpriced = policy_table[[cost_column, latency_column]].isna().any(axis=1) & ~overloaded
    table = policy_table[~overloaded & ~unpriced]
    front = table["pareto"].fillna(False).astype(bool)
    ax.scatter(
        table.loc[~front, cost_column],
        table.loc[~front, latency_column],
        color=_OTHER_COLOR,
        label="dominated",
    )
    best = table[front].sort_values(cost_column)
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
    notes = []
    if overloaded.any():
        names = ", ".join(map(str, policy_table.loc[overloaded, "policy"]))
        notes.append(f"not drawn, overloaded: {names}")
    if unpriced.any():
        names = ", ".join(map(str, policy_table.loc[unpriced, "policy"]))
        notes.append(f"not drawn, no cost or latency: {names}")
    if notes:
        _note(ax, "\n".join(notes))
    _scale(ax, "y", table[latency_column], _axis_ms)
    ax.xaxis.set_major_formatter(_UsdTicks())
    ax.set_xlabel("monthly cost")
    ax.set_ylabel(f"{latency_column.removesuffix('_ms')} latency")
    ax.set_title("Routing policies: cost against tail latency", fontsize=10)
    ax.grid(which="major", alpha=0.25)
    ax.legend(fontsize=7, loc="best")
    _margins(fig, left_chars=7)
    return fig


def cost_latency_quality(
    options: pd.DataFrame,
    *,
    cost_column: str = "usd_per_1k_requests",
    latency_column: str = "p95_ms",
    quality_column: str = "quality",
) -> Figure:
    """Cost per 1,000 requests against p95 latency, one labelled point per option, coloured by
    quality; options of unknown quality are hollow grey points.

    The trade at a glance: down and to the left is cheaper and faster, the colour bar gives
    quality. Axes are logarithmic when the points spread over more than a factor of 20. Options
    the decision rules out (a non-empty ``ruled_out`` column) are drawn as faded crosses and
    labelled "(ruled out)"; options without a cost or a latency are named in a note instead.

    Parameters
    ----------
    options
        The decision's options table: ``option`` and the three columns. A table without
        ``p95_ms`` falls back to ``p50_ms`` (and says so on the axis); one without ``quality``
        draws every point as quality unknown.
    cost_column, latency_column, quality_column
        The columns to read.
    """
    if latency_column not in options.columns and "p50_ms" in options.columns:
        latency_column = "p50_ms"
    frame = options.copy()
    for column in (cost_column, latency_column, quality_column):
        if column not in frame.columns:
            frame[column] = np.nan
        frame[column] = pd.to_numeric(frame[column], errors="coerce")
    ruled = frame.get("ruled_out", pd.Series("", index=frame.index)).fillna("").astype(str) != ""
    drawable = frame[cost_column].gt(0) & frame[latency_column].gt(0)
    shown = frame[drawable]

    fig = Figure(figsize=(7.5, 4.2))
    ax = fig.subplots()
    low, high = _quality_range(shown[quality_column])
    points = None
    for faded in (False, True):
        rows = shown[ruled[shown.index] == faded]
        marker, alpha = ("X", 0.5) if faded else ("o", 0.95)
        known = rows[rows[quality_column].notna()]
        if not known.empty:
            points = ax.scatter(
                known[cost_column], known[latency_column], c=known[quality_column],
                cmap="viridis", vmin=low, vmax=high, s=70, marker=marker, alpha=alpha,
                edgecolors="black", linewidths=0.5, zorder=3,
            )  # fmt: skip
        unknown = rows[rows[quality_column].isna()]
        if not unknown.empty:
            ax.scatter(
                unknown[cost_column], unknown[latency_column], s=70, marker=marker,
                alpha=alpha, facecolors=_UNKNOWN_COLOR if faded else "white",
                edgecolors=_UNKNOWN_COLOR, linewidths=1.5, zorder=3,
                label=None if faded else "quality unknown",
            )  # fmt: skip
    if points is not None:
        bar = fig.colorbar(points, ax=ax, pad=0.01, fraction=0.04)
        bar.set_label("quality", fontsize=8)
        bar.ax.tick_params(labelsize=7)
        bar.ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: percent(v, digits=0)))
    if shown[quality_column].isna().any():
        ax.legend(fontsize=7, loc="upper right")
    _scale(ax, "x", shown[cost_column], _axis_usd, linear=_UsdTicks())
    _scale(ax, "y", shown[latency_column], _axis_ms)
    left_out = frame.loc[~drawable, "option"] if "option" in frame else pd.Series(dtype=str)
    if not left_out.empty:
        _note(ax, "not drawn, no cost or latency: " + ", ".join(map(str, left_out)))
    if shown.empty:
        _note(ax, "no option has both a cost and a latency")
    ax.margins(x=0.12, y=0.15)
    ax.set_xlabel("cost per 1,000 requests")
    ax.set_ylabel(f"{latency_column.removesuffix('_ms')} latency")
    ax.set_title("Cost, latency and quality of each option", fontsize=10)
    ax.grid(which="major", alpha=0.25)
    _margins(fig, left_chars=7)
    fig.subplots_adjust(right=0.9 if points is not None else 0.97)
    labels = [
        (
            row[cost_column],
            row[latency_column],
            str(row["option"]) + (" (ruled out)" if ruled[i] else ""),
        )
        for i, row in shown.iterrows()
    ]
    _label_points(ax, labels)
    return fig


def _label_points(ax: Any, points: list[tuple[float, float, str]], fontsize: float = 7) -> None:
    """Label each point beside it, to its right unless that leaves the axes, moving a label
    down (or up) until it overlaps no earlier one; a moved label gets a thin leader line.

    Text sizes are estimated from the character count, which is quick and close enough for a
    7-point sans-serif label.
    """
    ax.autoscale_view()
    scale = ax.figure.dpi / 72.0
    height = fontsize * 1.35 * scale
    frame = ax.bbox
    placed: list[tuple[float, float, float, float]] = []
    spots = [(ax.transData.transform((x, y)), text) for x, y, text in points]
    for (px, py), text in sorted(spots, key=lambda s: (-s[0][1], s[0][0])):
        width = len(text) * fontsize * 0.58 * scale
        x0 = px + 6 if px + 6 + width <= frame.x1 else px - 6 - width
        y0 = py + 2
        for step in range(40):
            shift = (step + 1) // 2 * height * (-1 if step % 2 else 1)
            box = (x0, y0 + shift, x0 + width, y0 + shift + height)
            if (
                box[1] >= frame.y0
                and box[3] <= frame.y1 + height
                and not any(_overlap(box, other) for other in placed)
            ):
                break
        placed.append(box)
        moved = abs(box[1] - y0) > height / 2 or box[0] < px
        ax.annotate(
            text, ax.transData.inverted().transform((px, py)),
            xytext=((box[0] - px) / scale, (box[1] - py) / scale), textcoords="offset points",
            ha="left", va="bottom", fontsize=fontsize,
            arrowprops={"arrowstyle": "-", "color": "#999", "lw": 0.5} if moved else None,
        )  # fmt: skip


def _overlap(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _quality_range(quality: pd.Series) -> tuple[float, float]:
    """The colour scale's ends: the known qualities, widened when they are all one value."""
    known = quality.dropna()
    if known.empty:
        return 0.0, 1.0
    low, high = float(known.min()), float(known.max())
    return (low - 0.01, high + 0.01) if high - low < 1e-9 else (low, high)


__all__ = [
    "IMAGE_CACHE_SIZE",
    "IMAGE_FORMATS",
    "cost_latency_quality",
    "cost_vs_volume",
    "image",
    "latency_distributions",
    "pareto",
    "to_png",
    "tornado",
]
