"""The benchmark panel: choose a model, variants and sizes, measure, and read the results."""

from __future__ import annotations

import html
from typing import Any

import ipywidgets as w
import pandas as pd

from widgets import forms
from widgets.common import STYLE, error_html, status_html
from workbench.bench import plots
from workbench.bench.config import BenchConfig, MeasurePolicy, defaults_for
from workbench.bench.stats import INTERVAL_PERCENTILES, describe_interval
from workbench.bench.variants import VARIANTS
from workbench.kit.cli import parse_list
from workbench.kit.fields import default_of, specs
from workbench.models import load_catalog

_TABLE_COLUMNS = [
    "variant", "dtype", "threads", "batch", "seq_len", "count", "p50_ms", "p50 interval",
    "p95_ms", "p95 interval", "throughput_items_per_s", "tokens_per_s", "ttft_ms", "tpot_ms",
    "peak_rss_mb",
]  # fmt: skip
_DRIFT_COLUMNS = ["variant", "cosine_mean", "cosine_min", "agreement", "first_divergence_min"]
# The sweep's lists, typed as comma-separated text ("1,8"); they start at the config's defaults.
_LIST_FIELDS = ("batch_sizes", "seq_lens", "threads")


class BenchmarkPanel(w.VBox):
    """Measure a model's latency, throughput, memory and quality drift, and project it onto devices.

    Every control behind a :class:`BenchConfig` or :class:`MeasurePolicy` field takes its label,
    tooltip and starting value from the field (:mod:`widgets.forms`), as the CLI's flags do.

    Parameters
    ----------
    default_model
        The catalog alias selected at start.
    runs_dir
        Where runs are saved (default ``$WORKBENCH_RUNS_DIR`` or ``./runs``).
    """

    def __init__(self, default_model: str = "minilm", runs_dir: str | None = None, **kwargs: Any):
        catalog = {a: e for a, e in load_catalog().items() if e.installed()}
        self.catalog = catalog
        self.runs_dir = runs_dir
        fields = specs(BenchConfig)
        self.model = w.Dropdown(
            options=list(catalog),
            value=default_model if default_model in catalog else next(iter(catalog)),
            description=fields["model"].label,
            tooltip=fields["model"].help,
        )
        self.variants = w.SelectMultiple(
            description=fields["variants"].label, tooltip=fields["variants"].help, rows=5
        )
        defaults = defaults_for(None)
        lists = {n: forms.control(BenchConfig, n, value=_listed(defaults[n])) for n in _LIST_FIELDS}
        self.batch_sizes, self.seq_lens, self.threads = lists.values()
        self.max_new_tokens = forms.control(BenchConfig, "max_new_tokens")
        self._policy = forms.form(MeasurePolicy, ["min_iters", "min_seconds"])
        self.min_iters, self.min_seconds = self._policy.values()
        self.run_button = w.Button(description="Measure", button_style="primary", icon="tachometer")
        self.progress = w.Output()
        self.status = w.HTML(status_html("Choose a model, variants and sizes, then press Measure."))
        self.table = w.HTML()
        self.drift = w.HTML()
        self.latency_plot = w.Image(format="png")
        self.throughput_plot = w.Image(format="png")
        self.device_plot = w.Image(format="png")
        self.result = None

        self.model.observe(lambda _: self._sync_model(), names="value")
        self.run_button.on_click(lambda _: self.run())
        self._sync_model()
        super().__init__(self._layout(), **kwargs)

    def _layout(self) -> list[w.Widget]:
        sizes = [self.batch_sizes, self.seq_lens, self.threads, self.max_new_tokens]
        return [
            w.HTML(STYLE + "<h3>Local benchmark</h3>"),
            w.HBox(
                [
                    w.VBox([self.model, self.variants]),
                    w.VBox(sizes),
                    w.VBox([self.min_iters, self.min_seconds, self.run_button]),
                ]
            ),
            self.progress,
            self.status,
            self.table,
            w.HBox([self.latency_plot, self.throughput_plot]),
            w.HTML("<h4>Quality drift against fp32</h4>"),
            self.drift,
            w.HTML("<h4>Projected onto devices (estimates)</h4>"),
            self.device_plot,
        ]

    def _sync_model(self) -> None:
        """Offer the variants that suit the model's task, and the task's default sizes."""
        task = self.catalog[self.model.value].task
        names = [name for name, v in VARIANTS.items() if task in v.tasks]
        self.variants.options = names
        self.variants.value = tuple(n for n in ("fp32", "bf16", "int8") if n in names)
        defaults = defaults_for(task)
        self.seq_lens.value = _listed(defaults["seq_lens"])
        self.batch_sizes.value = _listed(defaults["batch_sizes"])
        self.max_new_tokens.layout.display = None if task == "text-generation" else "none"

    def config(self) -> BenchConfig:
        """The sweep the controls describe (raises with a clear message on bad values)."""
        lists = {
            n: parse_list(getattr(self, n).value, getattr(self, n).description)
            for n in _LIST_FIELDS
        }
        policy = forms.values(self._policy)
        # A long minimum must not be cut short by the default maximum.
        policy["max_seconds"] = max(default_of(MeasurePolicy, "max_seconds"), policy["min_seconds"])
        return BenchConfig(
            model=self.model.value,
            variants=tuple(self.variants.value),
            max_new_tokens=self.max_new_tokens.value,
            policy=MeasurePolicy(**policy),
            **lists,
        )

    def run(self) -> None:
        """Measure the sweep, showing each point as it finishes; errors appear in the panel."""
        from workbench.bench.runner import run_benchmark

        self.run_button.disabled = True
        rows: list[dict[str, Any]] = []

        def show_point(row: dict[str, Any]) -> None:
            rows.append(row)
            self.table.value = _html_table(pd.DataFrame(rows), _TABLE_COLUMNS)
            self.status.value = status_html(f"Measured {len(rows)} point(s) …")

        try:
            config = self.config()
            self.status.value = status_html(f"Loading {config.model} and measuring …")
            with self.progress:
                self.result = run_benchmark(config, runs_dir=self.runs_dir, on_point=show_point)
            self.progress.clear_output()
            self._show(self.result)
        except Exception as exc:  # shown in the panel, never as a traceback
            self.progress.clear_output()
            self.status.value = error_html(exc)
        finally:
            self.run_button.disabled = False

    def _show(self, result: Any) -> None:
        from workbench.devices import HostPeak, load_devices, project_points

        points = result.points
        self.table.value = _html_table(points, _TABLE_COLUMNS)
        self.drift.value = _html_table(points.drop_duplicates("variant"), _DRIFT_COLUMNS, digits=5)
        self.latency_plot.value = plots.to_png(plots.latency_distribution(points, result.samples))
        self.throughput_plot.value = plots.to_png(plots.throughput_by_batch(points))
        fastest = points.loc[points["throughput_items_per_s"].idxmax()]
        chosen = points[
            (points["variant"] == fastest["variant"]) & (points["batch"] == fastest["batch"])
        ]
        host = HostPeak.from_dict(result.environment["host_peak"])
        projected = project_points(chosen.head(1), host, list(load_devices().values()))
        self.device_plot.value = plots.to_png(plots.device_projection(projected))
        saved = f" Saved as run {result.run_id}." if result.run_id else ""
        self.status.value = status_html(
            f"Done: {len(points)} points. Fastest: {fastest['variant']} at batch "
            f"{fastest['batch']} ({fastest['throughput_items_per_s']:.1f} items/s).{saved}"
        )


def _listed(values: tuple[int, ...]) -> str:
    """A tuple as the comma-separated text the list boxes take: (1, 8) -> "1,8"."""
    return ",".join(str(v) for v in values)


def _with_intervals(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with a ``p50 interval`` and a ``p95 interval`` column: each row's bounds, or
    "too few samples …" where the point has too few calls for one."""
    if frame.empty or "count" not in frame.columns:
        return frame
    shown = frame.copy()
    for percentile in INTERVAL_PERCENTILES:
        shown[f"p{percentile} interval"] = [
            describe_interval(row, percentile) for row in frame.to_dict("records")
        ]
    return shown


def _html_table(frame: pd.DataFrame, columns: list[str], digits: int = 3) -> str:
    frame = _with_intervals(frame) if any(c.endswith(" interval") for c in columns) else frame
    shown = frame[[c for c in columns if c in frame.columns]].round(digits)
    head = "".join(f"<th>{html.escape(c)}</th>" for c in shown.columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in row) + "</tr>"
        for row in shown.itertuples(index=False)
    )
    return f'<table class="wb-card"><tr>{head}</tr>{body}</table>'
