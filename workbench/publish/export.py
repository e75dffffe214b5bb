"""One static HTML page of saved runs: each run's summary, settings, tables and charts.

The page needs neither a server nor a network: charts are PNG images inside it, so it reads the
same from an e-mail, an archive or a machine with no network.

Runs that a decision dashboard shows (benchmarks and cloud load tests), or a saved ``decision``
run, are first rendered as the decision itself: the same :class:`workbench.decision.Decision`
that ``workbench decide`` prints and the dashboard shows for those runs, with its one
recommendation, its options table written for people, and its charts.
"""

from __future__ import annotations

import base64
import html
import os
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from workbench import runs
from workbench.kit.errors import InvalidInputError, describe
from workbench.kit.files import atomic_write_text
from workbench.publish.app import complete_runs, dashboard_for_kinds, id_list
from workbench.publish.charts import chart_png
from workbench.publish.clean import refuse_credentials, scrub_paths
from workbench.publish.config import CONFIG_FILE, RUNS_FOLDER, STATIC_ROWS, ExportSettings

#: The kind of a saved decision (``workbench decide`` records one).
DECISION_KIND = "decision"
#: The scenario a decision dashboard opens on when none is written for the runs' model (the
#: dashboard's own default, ``widgets.decision_dashboard.DEFAULT_SCENARIO``).
DEFAULT_DECISION_SCENARIO = "support_chatbot"


def export_static(
    source: Sequence[str] | str | os.PathLike[str],
    out_file: str | os.PathLike[str],
    *,
    runs_dir: str | os.PathLike[str] | None = None,
    max_rows: int = STATIC_ROWS,
) -> Path:
    """One HTML file with each run's summary, settings, tables and charts; no server needed.

    Charts are PNG images inside the file and nothing is fetched from anywhere, so the page
    reads the same from an e-mail, an archive or a machine with no network.

    Parameters
    ----------
    source
        Run ids (or unique prefixes), or the path of a folder written by
        :func:`workbench.publish.publish`.
    out_file
        The HTML file to write (replaced if it exists).
    runs_dir
        Where the run ids are; ignored for a published folder.
    max_rows
        Rows shown per table; a note says how many there are.

    Returns
    -------
    Path
        The absolute path of the file.

    Raises
    ------
    RunNotFoundError, PublishError
        As :func:`workbench.publish.publish` does, for missing runs and runs that are not
        complete.
    """
    max_rows = ExportSettings(max_rows=max_rows).max_rows
    out = Path(out_file).expanduser().absolute()
    if not out.parent.is_dir():
        raise InvalidInputError(
            f"--out {out_file}: the folder {out.parent} does not exist; create it or choose "
            "another file."
        )
    app = _as_published(source)
    if app is not None:
        root = app / RUNS_FOLDER
        ids = [s.id for s in runs.list_runs(root)]
        title = f"Dashboard {app.name}"
    else:
        root = runs.resolve_runs_dir(runs_dir)
        ids = id_list(source)  # type: ignore[arg-type]
        title = "Saved runs"
    chosen = complete_runs(ids, root)
    decision = export_decision(chosen, root)
    text = static_html(chosen, title=title, max_rows=max_rows, decision=decision)
    text = scrub_paths(text, root)
    refuse_credentials(text, out.name)
    atomic_write_text(out, text)
    return out


def _as_published(source: Any) -> Path | None:
    """The published folder ``source`` names, or ``None`` when it is run ids."""
    if not isinstance(source, str | os.PathLike):
        return None
    path = Path(source).expanduser()
    if (path / RUNS_FOLDER).is_dir() and (path / CONFIG_FILE).is_file():
        return path.absolute()
    if isinstance(source, os.PathLike) or path.is_dir():
        raise InvalidInputError(
            f"{source} is not a published dashboard folder (it lacks {CONFIG_FILE} or "
            f"{RUNS_FOLDER}/); give run ids or a folder written by `workbench publish`."
        )
    return None


def export_decision(chosen: Sequence[runs.Run], root: Path) -> Any:
    """The decision these runs show, for the top of the page; ``None`` when they show none.

    A saved ``decision`` run gives the decision it recorded. Runs that all belong on the
    decision dashboard (benchmarks, cloud load tests) are decided from as the dashboard does:
    the scenario written for the newest benchmark's model (else the support chatbot), fed by
    these runs. A decision that cannot be made is returned as the exception, which the page
    shows as a note instead of a recommendation.
    """
    saved = [run for run in chosen if run.kind == DECISION_KIND]
    if saved:
        from workbench.decision import Decision

        return Decision.from_run(saved[-1])
    if not chosen or dashboard_for_kinds(run.kind for run in chosen) != "decision":
        return None
    if not any(run.kind == "bench" for run in chosen):
        return None
    import warnings

    from workbench.decision import RunChoice, decide

    ids = [run.id for run in chosen]
    try:
        choice = RunChoice(root, ids)
        choice.load_given()
        scenario = choice.scenario_for_newest() or DEFAULT_DECISION_SCENARIO
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # stale prices are listed in the decision
            return decide(scenario, root, runs=ids)
    except Exception as exc:  # the runs are still exported; the page says why there is no answer
        return exc


def decision_html(decision: Any) -> str:
    """A decision as the page's first section, formatted as the HTML report formats it
    (:func:`workbench.decision.decision_section`: the recommendation in one sentence with its
    caveats, the options and routing tables written for people, its charts and assumptions);
    for the exception that stopped one, a note saying why there is no decision."""
    if isinstance(decision, BaseException):
        return (
            '<section class="decision"><h2>No decision</h2>'
            + _note(f"These runs could not be decided from: {describe(decision)}")
            + "</section>"
        )
    from workbench.decision import charts, decision_section

    return decision_section(decision, charts(decision))


def static_html(
    chosen: Sequence[runs.Run],
    *,
    title: str,
    max_rows: int = STATIC_ROWS,
    decision: Any = None,
) -> str:
    """The page of :func:`export_static` for runs already loaded.

    ``decision`` (a :class:`workbench.decision.Decision`, or the exception that stopped one)
    is shown first, and its question becomes the page's title.
    """
    made = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    contents = "".join(
        f'<li><a href="#{_anchor(run.id)}">{html.escape(run.id)}</a></li>' for run in chosen
    )
    sections = "".join(_run_section(run, max_rows) for run in chosen)
    answer = ""
    if decision is not None:
        answer = decision_html(decision)
        if not isinstance(decision, BaseException):
            title = decision.title
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)}</title>
<style>
body {{font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222;}}
table {{border-collapse: collapse; font-size: 12px; margin: 0.5em 0 1em;}}
th, td {{padding: 2px 8px; border-bottom: 1px solid #ddd; text-align: left;}}
th {{background: #f5f5f5;}}
.note {{color: #666; font-size: 12px;}}
img {{max-width: 100%; height: auto;}}
.wide {{overflow-x: auto;}}
section {{border-top: 2px solid #333; margin-top: 2em;}}
section.decision {{border-top: none; margin-top: 0;}}
.answer {{border-left: 6px solid #2e7d32; background: #edf7ee; padding: 0.6em 1em;}}
.answer p {{font-size: 1.15em; font-weight: 600; margin: 0.2em 0;}}
figure {{margin: 1em 0;}}
figcaption {{color: #666; font-size: 12px;}}
</style></head><body>
<h1>{html.escape(title)}</h1>
{answer}
<p class="note">{len(chosen)} run{"s" if len(chosen) != 1 else ""}, exported {made} by the AI
deployment workbench. Figures are drawn from the saved tables; every value below comes from a
run's run.json and CSV files.</p>
<ul>{contents}</ul>
{sections}
</body></html>
"""


def _anchor(run_id: str) -> str:
    return "run-" + re.sub(r"[^A-Za-z0-9_-]", "-", run_id)


def _run_section(run: runs.Run, max_rows: int) -> str:
    about = [
        ("kind", run.kind),
        ("label", run.label),
        ("status", run.status),
        ("started", run.started_at),
        ("ended", run.ended_at or ""),
        ("seed", "" if run.seed is None else str(run.seed)),
    ]
    parts = [
        f'<section id="{_anchor(run.id)}"><h2>{html.escape(run.id)}</h2>',
        _pairs_html(about),
        "<h3>Summary</h3>",
        _values_html(run.summary) or _note("No summary."),
        "<h3>Settings</h3>",
        _values_html(runs.flat_config(run.config)) or _note("None."),
    ]
    for name, frame in run.tables.items():
        parts.append(f"<h3>Table {html.escape(name)}</h3>")
        image = chart_png(name, frame)
        if image is not None:
            encoded = base64.b64encode(image).decode("ascii")
            parts.append(f'<img alt="chart of {html.escape(name)}" src="data:image/png;base64,')
            parts.append(f'{encoded}">')
        shown = min(len(frame), max_rows)
        parts.append(
            _note(
                f"{len(frame)} rows" + (f", the first {shown} shown" if shown < len(frame) else "")
            )
        )
        table = frame.head(max_rows).to_html(
            index=False, border=0, na_rep="–", escape=True, float_format=lambda v: f"{v:.6g}"
        )
        parts.append(f'<div class="wide">{table}</div>')
    parts.append("</section>")
    return "\n".join(parts)


def _pairs_html(pairs: list[tuple[str, str]]) -> str:
    if not pairs:
        return ""
    body = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in pairs)
    return f"<table>{body}</table>"


def _values_html(values: dict[str, Any]) -> str:
    return _pairs_html([(k, runs.format_value(v, digits=6)) for k, v in values.items()])


def _note(text: str) -> str:
    return f'<p class="note">{html.escape(text)}</p>'


__all__ = [
    "DECISION_KIND",
    "DEFAULT_DECISION_SCENARIO",
    "decision_html",
    "export_decision",
    "export_static",
    "static_html",
]
