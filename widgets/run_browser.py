"""The run browser: list, filter and compare saved runs side by side.

It reads runs only through ``workbench.runs`` with the ``runs_dir`` it is given, so a published
dashboard (``workbench publish``) shows the copies in its own ``runs/`` folder.
"""

from __future__ import annotations

import functools
import html
import json
import threading
from collections.abc import Callable, Sequence
from typing import Any

import ipywidgets as w
import pandas as pd

from widgets.common import STYLE, error_html, status_html
from workbench import runs
from workbench.kit.checks import is_number
from workbench.kit.errors import RunNotFoundError

_DIFFERS = ' class="wb-differs"'
TABLE_ROWS = 30  # rows of a compared table shown in the page
HOW_TO_MAKE_RUNS = (
    "<div class='wb-empty'><b>No saved runs yet.</b> Every benchmark, cloud comparison and "
    "simulation of the workbench saves a run. Make one from a terminal, for example:<ul>"
    "<li><code>workbench bench minilm</code>: latency and throughput of the bundled embedding "
    "model on this machine (about a minute);</li>"
    "<li><code>workbench fed run --clients 10 --rounds 3</code>: a small federated training "
    "simulation (seconds);</li></ul>"
    "or run the notebooks in <code>notebooks/</code>. Runs are saved in the runs folder "
    "(<code>--runs-dir</code>, else <code>$WORKBENCH_RUNS_DIR</code>, else <code>./runs</code>); "
    "press <i>Refresh</i> when one is done.</div>"
)
BROWSER_STYLE = """
<style>
.wb-runs, .wb-compare {border-collapse: collapse; font-size: 12px;}
.wb-runs th, .wb-runs td, .wb-compare th, .wb-compare td
  {padding: 2px 8px; border-bottom: 1px solid #e0e0e0; text-align: left; vertical-align: top;}
.wb-runs th, .wb-compare th {background: #f5f5f5;}
.wb-differs td {background: #fff8e1;}
.wb-empty {border-left: 4px solid #1565c0; background: #e3f2fd; padding: 6px 10px;}
</style>
"""


def _shows_errors(area: str) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Run a callback with its errors shown in the page area ``area``: in Voilà an exception that
    nobody shows is a blank panel."""

    def decorate(method: Callable[..., None]) -> Callable[..., None]:
        @functools.wraps(method)
        def wrapper(self: RunBrowser, *args: Any, **kwargs: Any) -> None:
            try:
                method(self, *args, **kwargs)
            except Exception as exc:
                getattr(self, area).value = error_html(exc)

        return wrapper

    return decorate


class RunBrowser(w.AppLayout):
    """Saved runs as a table with filters, and two runs compared side by side.

    Parameters
    ----------
    runs_dir
        The folder of runs; ``None`` means ``$WORKBENCH_RUNS_DIR`` or ``./runs``.
    run_ids
        Show exactly these runs, in this order; ``None`` shows every run in ``runs_dir``.
    load_now
        Read the runs at once; otherwise call :meth:`load` (or press Refresh).
    """

    def __init__(
        self,
        runs_dir: str | None = None,
        run_ids: Sequence[str] | None = None,
        load_now: bool = True,
        **kwargs: Any,
    ):
        self.runs_dir = runs_dir
        self.run_ids = None if run_ids is None else list(run_ids)
        self.summaries: list[runs.RunSummary] = []
        self.compared: pd.DataFrame | None = None

        self.kind = w.Dropdown(options=[("every kind", "")], value="", description="Kind")
        self.search = w.Text(
            description="Find", placeholder="part of an id or label", continuous_update=False
        )
        self.refresh_button = w.Button(description="Refresh", icon="refresh")
        self.status = w.HTML(status_html("Loading runs …"))
        self.errors = w.HTML()
        self.listing = w.HTML()
        self.first = w.Dropdown(description="Run A", layout=w.Layout(width="520px"))
        self.second = w.Dropdown(description="Run B", layout=w.Layout(width="520px"))
        self.table_name = w.Dropdown(description="Table", layout=w.Layout(width="260px"))
        self.comparison = w.HTML()
        self.table_view = w.HTML()

        self._syncing = False  # set while options change, so observers do not fire per change
        self.kind.observe(lambda _: self._filter(), names="value")
        self.search.observe(lambda _: self._filter(), names="value")
        self.refresh_button.on_click(lambda _: self.load())
        self._build_resume()
        self.first.observe(lambda _: self._synced(self.compare), names="value")
        self.second.observe(lambda _: self._synced(self.compare), names="value")
        self.table_name.observe(lambda _: self._synced(self.show_table), names="value")

        self.compare_box = w.VBox(
            [
                w.HTML("<h4>Compare two runs</h4>"),
                w.HBox([self.first, self.second]),
                self.comparison,
                self.table_name,
                self.table_view,
            ]
        )
        super().__init__(
            header=w.VBox([w.HTML(STYLE + BROWSER_STYLE), self.status, self.errors]),
            left_sidebar=w.VBox([self.kind, self.search, self.refresh_button, self.resume_box]),
            center=self.listing,
            footer=self.compare_box,
            pane_widths=["320px", "1fr", "0px"],
            **kwargs,
        )
        self.add_class("wb-run-browser")
        if load_now:
            self.load()

    def _build_resume(self) -> None:
        """Interrupted runs, and a button that continues the chosen one where it can be."""
        self.resume_run = w.Dropdown(description="Run", layout=w.Layout(width="300px"))
        self.resume_button = w.Button(description="Resume", icon="play", disabled=True)
        self.resume_status = w.HTML()
        self.resume_thread: threading.Thread | None = None
        self.resume_run.observe(lambda _: self._synced(self._check_resume), names="value")
        self.resume_button.on_click(lambda _: self.resume())
        self.resume_box = w.VBox(
            [
                w.HTML("<h4>Interrupted runs</h4>"),
                self.resume_run,
                self.resume_button,
                self.resume_status,
            ]
        )
        self.resume_box.layout.display = "none"  # until there is an interrupted run

    def __repr__(self) -> str:
        # Voilà puts the text form beside the widget in the page: keep it short.
        return f"<run browser: {len(self.summaries)} runs>"

    def _update_layout(self) -> None:
        super()._update_layout()
        # Rows as tall as their content: AppLayout only offers fixed or fractional heights, and
        # fractions of a page with no set height leave gaps under short tables.
        self.layout.grid_template_rows = "auto auto auto"

    # -- reading --------------------------------------------------------------------------------

    @_shows_errors("errors")
    def load(self) -> None:
        """Read the runs again; a missing requested run is named in the error box."""
        self.status.value = status_html("Loading runs …")
        self.errors.value = ""
        found = runs.list_runs(self.runs_dir)
        if self.run_ids is not None:
            by_id = {s.id: s for s in found}
            missing = [i for i in self.run_ids if i not in by_id]
            found = [by_id[i] for i in self.run_ids if i in by_id]
            if missing:
                self.errors.value = error_html(_missing_runs_error(missing))
        self.summaries = found
        kinds = sorted({s.kind for s in found if s.kind})
        self._syncing = True
        try:
            self.kind.options = [("every kind", ""), *((k, k) for k in kinds)]
        finally:
            self._syncing = False
        self._filter()

    def _synced(self, callback: Callable[[], None]) -> None:
        if not self._syncing:
            callback()

    @property
    def shown(self) -> list[runs.RunSummary]:
        """The runs that pass the kind and text filters, in listing order."""
        text = self.search.value.strip().lower()
        return [
            s
            for s in self.summaries
            if (not self.kind.value or s.kind == self.kind.value)
            and (not text or text in s.id.lower() or text in s.label.lower())
        ]

    def _filter(self) -> None:
        if self._syncing:
            return
        shown = self.shown
        if not self.summaries:
            self.status.value = status_html("No runs to show.")
            self.listing.value = HOW_TO_MAKE_RUNS
            self.compare_box.layout.display = "none"
            self.resume_box.layout.display = "none"
            return
        total = len(self.summaries)
        self.status.value = status_html(
            f"{total} run{'s' if total != 1 else ''}"
            + (f", {len(shown)} shown with these filters" if len(shown) != total else "")
            + (". Pick two below to compare them." if len(shown) > 1 else ".")
        )
        self.listing.value = _runs_html(shown)
        self.compare_box.layout.display = None
        self._list_interrupted()
        comparable = [s for s in shown if s.status != "corrupt"]
        options = [(_option_label(s), s.id) for s in comparable]
        keep = (self.first.value, self.second.value)
        ids = [s.id for s in comparable]
        self._syncing = True
        try:
            self.first.options = options
            self.second.options = options
            self.first.value = keep[0] if keep[0] in ids else (ids[0] if ids else None)
            fallback = ids[1] if len(ids) > 1 else self.first.value
            self.second.value = keep[1] if keep[1] in ids else fallback
        finally:
            self._syncing = False
        self.compare()

    # -- resuming -------------------------------------------------------------------------------

    def _list_interrupted(self) -> None:
        """The interrupted runs among those shown, newest first, for the resume section."""
        interrupted = [s for s in self.shown if s.status == "interrupted"]
        keep = self.resume_run.value
        ids = [s.id for s in interrupted]
        self._syncing = True
        try:
            self.resume_run.options = [(_option_label(s), s.id) for s in interrupted]
            self.resume_run.value = keep if keep in ids else (ids[0] if ids else None)
        finally:
            self._syncing = False
        self.resume_box.layout.display = None if interrupted else "none"
        self._check_resume()

    def _check_resume(self) -> None:
        """Offer Resume only for a run that can be continued; otherwise say why not."""
        run_id = self.resume_run.value
        busy = self.resume_thread is not None and self.resume_thread.is_alive()
        refusal = None
        if run_id is not None:  # Flower is imported only when there is a run to resume
            from workbench.federated.runner import resume_refusal

            refusal = resume_refusal(run_id, runs_dir=self.runs_dir)
        self.resume_button.disabled = run_id is None or refusal is not None or busy
        if refusal is not None and not busy:
            self.resume_status.value = status_html(refusal)
        elif run_id is not None and not busy:
            self.resume_status.value = status_html(
                "Continues from its last finished round, with the same results as a run that "
                "was never stopped."
            )

    def resume(self, background: bool = True) -> None:
        """Continue the chosen interrupted run (on a thread, so the page stays responsive)."""
        run_id = self.resume_run.value
        if run_id is None:
            return
        self.resume_button.disabled = True
        self.resume_status.value = status_html(f"Resuming {run_id} …")
        if not background:
            self._resume(run_id)
            return
        self.resume_thread = threading.Thread(
            target=self._resume, args=(run_id,), name="resume-run", daemon=True
        )
        self.resume_thread.start()

    def _resume(self, run_id: str) -> None:
        from workbench.federated.runner import resume_federated

        try:
            result = resume_federated(run_id, runs_dir=self.runs_dir)
        except Exception as exc:  # shown in the page, never as a traceback
            self.resume_status.value = error_html(exc)
            return
        finally:
            self.resume_thread = None
        self.resume_status.value = ""
        self.load()
        self.status.value += status_html(
            f"Resumed {run_id}: complete, {len(result.rounds)} rounds."
        )

    # -- comparing ------------------------------------------------------------------------------

    @_shows_errors("comparison")
    def compare(self) -> None:
        """Summaries and differing settings of runs A and B, side by side."""
        a, b = self.first.value, self.second.value
        if a is None or b is None:
            self.comparison.value = status_html("Pick two runs to compare.")
            self.table_name.options = []
            self.table_view.value = ""
            return
        self.comparison.value = status_html("Comparing …")
        left, right = runs.load_run(a, self.runs_dir), runs.load_run(b, self.runs_dir)
        self.comparison.value = _comparison_html(left, right)
        common = [t for t in left.tables if t in right.tables]
        keep = self.table_name.value
        self._syncing = True
        try:
            self.table_name.options = common
            self.table_name.value = keep if keep in common else (common[0] if common else None)
        finally:
            self._syncing = False
        self.show_table()

    @_shows_errors("table_view")
    def show_table(self) -> None:
        """The chosen table of both runs, stacked, with the settings that tell them apart."""
        a, b, table = self.first.value, self.second.value, self.table_name.value
        if a is None or b is None or table is None:
            self.compared = None
            self.table_view.value = status_html("The two runs have no table in common.")
            return
        ids = [a] if a == b else [a, b]
        self.compared = runs.compare_runs(ids, table=table, runs_dir=self.runs_dir)
        rows = len(self.compared)
        note = f"first {TABLE_ROWS} of {rows} rows" if rows > TABLE_ROWS else f"{rows} rows"
        self.table_view.value = status_html(f"Table {table!r}: {note}.") + _frame_html(
            self.compared.head(TABLE_ROWS)
        )


# -- HTML ---------------------------------------------------------------------------------------


def _missing_runs_error(missing: list[str]) -> RunNotFoundError:
    return RunNotFoundError(
        f"This dashboard was made for runs that are not in its runs folder: {', '.join(missing)}. "
        "They may have been deleted or moved; publish the dashboard again from the runs you have "
        "(`workbench runs list` shows them)."
    )


def _option_label(summary: runs.RunSummary) -> str:
    label = f", {summary.label}" if summary.label else ""
    return f"{summary.id} ({summary.kind}{label}, {summary.status})"


def _runs_html(shown: list[runs.RunSummary]) -> str:
    if not shown:
        return status_html("No run matches these filters.")
    head = "".join(
        f"<th>{h}</th>" for h in ("run", "kind", "label", "status", "started", "summary")
    )
    body = "".join(
        "<tr>"
        + "".join(
            f"<td>{html.escape(v)}</td>"
            for v in (
                s.id,
                s.kind,
                s.label,
                s.status + (f": {s.error}" if s.error else ""),
                (s.started_at or "")[:19].replace("T", " "),
                ", ".join(f"{k}={runs.format_value(v)}" for k, v in list(s.summary.items())[:6]),
            )
        )
        + "</tr>"
        for s in shown
    )
    return f'<table class="wb-runs"><tr>{head}</tr>{body}</table>'


def _comparison_html(left: runs.Run, right: runs.Run) -> str:
    rows = [("kind", left.kind, right.kind), ("status", left.status, right.status)]
    rows += [("label", left.label, right.label), ("started", left.started_at, right.started_at)]
    for key in dict.fromkeys([*left.summary, *right.summary]):
        rows.append((key, left.summary.get(key), right.summary.get(key)))
    flat_left, flat_right = runs.flat_config(left.config), runs.flat_config(right.config)
    for key in dict.fromkeys([*flat_left, *flat_right]):
        if flat_left.get(key) != flat_right.get(key):
            rows.append((f"config {key}", flat_left.get(key), flat_right.get(key)))
    head = (
        f"<tr><th></th><th>A: {html.escape(left.id)}</th><th>B: {html.escape(right.id)}</th>"
        "<th>B − A</th></tr>"
    )
    body = "".join(
        f"<tr{_DIFFERS if _differ(x, y) else ''}><td>{html.escape(name)}</td>"
        f"<td>{html.escape(runs.format_value(x))}</td><td>{html.escape(runs.format_value(y))}</td>"
        f"<td>{html.escape(_difference(x, y))}</td></tr>"
        for name, x, y in rows
    )
    return f'<table class="wb-compare">{head}{body}</table>'


def _frame_html(frame: pd.DataFrame) -> str:
    shown = frame.copy()
    for column in shown.columns:
        if pd.api.types.is_float_dtype(shown[column]):
            shown[column] = shown[column].map(runs.format_value)
    return shown.to_html(index=False, classes="wb-compare", border=0, na_rep="–", escape=True)


def _differ(x: Any, y: Any) -> bool:
    return json.dumps(x, sort_keys=True, default=str) != json.dumps(y, sort_keys=True, default=str)


def _difference(x: Any, y: Any) -> str:
    if is_number(x) and is_number(y):
        return "0" if x == y else f"{y - x:+.4g}"
    return ""


__all__ = ["RunBrowser"]
