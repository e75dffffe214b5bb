"""A decision as a one-page report a manager can read without a server: HTML with its charts
inside the file, or Markdown with its charts beside it.

Both render a :class:`workbench.decision.result.Decision` and nothing else, so the report says
what the CLI, the panel and the dashboard say for the same runs. Nothing is fetched: no script,
no font, no style sheet from the network. :func:`decision_section` is the decision itself as one
HTML section (the answer, the options, the charts, the routing, the assumptions): the HTML report
and the static export (``workbench export``) both show it, so they format a decision the same way.
"""

from __future__ import annotations

import base64
import html
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from workbench.decision.compare import charts
from workbench.decision.result import Decision
from workbench.kit import formats
from workbench.kit.errors import InvalidInputError
from workbench.kit.files import atomic_write_bytes, atomic_write_text

#: Report formats by file suffix.
REPORT_SUFFIXES = (".html", ".md")

#: The options table as the report shows it: column, heading, how to format a value.
OPTION_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("option", "Option", "text"),
    ("model", "Model", "text"),
    ("variant", "Engine + variant", "text"),
    ("data_location", "Data stays", "text"),
    ("monthly_usd", "Per month", "usd"),
    ("usd_per_1k_requests", "Per 1k requests", "usd"),
    ("p95_ms", "p95 latency", "ms"),
    ("quality", "Quality", "quality"),
    ("quality_kind", "Quality is", "text"),
    ("verdict", "Verdict", "text"),
)
#: The routing table as the report shows it.
POLICY_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("policy", "Policy", "text"),
    ("status", "Status", "text"),
    ("p50_ms", "p50", "ms"),
    ("p95_ms", "p95", "ms"),
    ("offloaded_share", "Sent to cloud", "percent"),
    ("goodput_share", "Within objective", "percent"),
    ("monthly_cost", "Per month", "usd"),
    ("cost_note", "Why no cost", "text"),
)
#: Chart captions, in the order the report shows them.
CHART_CAPTIONS = {
    "quality": "Cost per 1,000 requests against p95 latency; colour is quality (grey: unknown).",
    "cost": "Monthly cost against volume, with where each option crosses the recommended one.",
    "tornado": "What the recommended option's cost is most sensitive to.",
    "pareto": "Hybrid routing policies: cost against latency (overloaded policies left out).",
    "latency": "Per-request latency without queueing, local and cloud.",
}

RULES = (
    "An option is ruled out when it cannot serve the peak or cannot be priced, keeps data where "
    "the scenario forbids, misses the latency objective at p50, or has a known quality below the "
    "scenario's floor.",
    "With a quality floor, options of known quality at or above it come first and the cheapest "
    "of them is recommended; a cheaper option of unknown quality is named, not recommended over "
    "it.",
    "Without a floor the cheapest allowed option is recommended; when its quality is unknown, or "
    "no quality is known and the options serve different models, the report says the ranking is "
    "on cost and latency only.",
    "Local and owned options use the fastest measured engine and variant (transformers int8, "
    "llama.cpp q4_1...) whose drift from transformers fp32 stays within the scenario's "
    "tolerance (token agreement for generation, worst cosine for embeddings); a projection "
    "onto another device uses that path's own weight bytes.",
)


def write_report(decision: Decision, path: str | os.PathLike[str]) -> Path:
    """Write ``decision`` as an HTML or Markdown report (by ``path``'s suffix).

    Markdown charts are written beside it in ``<stem>_charts/``. Files are written atomically.

    Raises
    ------
    InvalidInputError
        For a suffix other than ``.html`` or ``.md``, or a folder that does not exist.
    """
    target = Path(path).expanduser()
    check_report_path(target)
    images = charts(decision)
    if target.suffix.lower() == ".html":
        atomic_write_text(target, to_html(decision, images))
        return target
    folder = target.with_name(f"{target.stem}_charts")
    folder.mkdir(exist_ok=True)
    links = {}
    for name, png in images.items():
        atomic_write_bytes(folder / f"{name}.png", png)
        links[name] = f"{folder.name}/{name}.png"
    atomic_write_text(target, to_markdown(decision, links))
    return target


def check_report_path(path: str | os.PathLike[str]) -> None:
    """Refuse a report file with an unknown suffix or in a folder that does not exist."""
    target = Path(path).expanduser()
    if target.suffix.lower() not in REPORT_SUFFIXES:
        raise InvalidInputError(
            f"--report {target}: the report is HTML or Markdown, so the file must end in .html "
            f"or .md (got {target.suffix or 'no suffix'!r}); e.g. --report decision.html."
        )
    if not target.resolve().parent.is_dir():
        raise InvalidInputError(
            f"--report {target}: the folder {target.resolve().parent} does not exist; create it "
            "or choose another file."
        )


def to_html(decision: Decision, images: Mapping[str, bytes] | None = None) -> str:
    """The report as one self-contained HTML page (charts as inline PNG)."""
    images = charts(decision) if images is None else images
    esc = html.escape
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        "<meta name='viewport' content='width=device-width, initial-scale=1'>",
        f"<title>{esc(decision.title)}</title><style>{_CSS}</style></head><body><main>",
        f"<h1>{esc(decision.title)}</h1>",
        f"<p class='meta'>{esc(_meta(decision))}</p>",
        decision_section(decision, images),
        "<h2>Where the figures come from</h2>",
    ]
    for name, frame in decision.sources.items():
        parts.append(f"<h3>{esc(name.capitalize())}</h3>")
        parts.append(_html_table(_plain_rows(frame)))
    parts.append("<h2>The rules</h2><ol>")
    parts.extend(f"<li>{esc(rule)}</li>" for rule in RULES)
    parts.append("</ol></main></body></html>\n")
    return "".join(parts)


def decision_section(decision: Decision, images: Mapping[str, bytes]) -> str:
    """A decision as one HTML section, ``<section class="decision">``: the recommendation in one
    sentence with its caveats, the options table, the charts (inline PNG with captions), the
    simulated routing table and the assumptions.

    The HTML report (:func:`to_html`) and the static export
    (:func:`workbench.publish.export_static`) both show this section, so a decision reads the
    same on either page.

    Parameters
    ----------
    decision
        The decision to show.
    images
        PNG charts by name, as :func:`workbench.decision.charts` draws them; shown in the order
        of :data:`CHART_CAPTIONS` (a chart not named there comes last, captioned by its name).
    """
    rec = decision.recommendation
    esc = html.escape
    parts = ['<section class="decision">', f'<div class="answer"><p>{esc(rec.sentence)}</p>']
    if rec.caveats:
        parts.append("<ul>" + "".join(f"<li>{esc(c)}</li>" for c in rec.caveats) + "</ul>")
    parts.append("</div><h2>Options</h2>")
    parts.append(_html_table(_rows(decision.options, OPTION_COLUMNS)))
    order = [name for name in CHART_CAPTIONS if name in images]
    for name in [*order, *(n for n in images if n not in order)]:
        caption = CHART_CAPTIONS.get(name, name)
        data = base64.b64encode(images[name]).decode("ascii")
        parts.append(
            f'<figure><img alt="{esc(caption)}" src="data:image/png;base64,{data}">'
            f"<figcaption>{esc(caption)}</figcaption></figure>"
        )
    parts.append("<h2>Hybrid routing (simulated)</h2>")
    parts.append(_html_table(_rows(decision.policies, POLICY_COLUMNS)))
    notes = [*decision.setup.notes, *decision.warnings]
    items = "".join(f"<li>{esc(n)}</li>" for n in notes)
    parts.append(
        f"<h2>Assumptions</h2><ul>{items}</ul>" if notes else "<h2>Assumptions</h2><p>None.</p>"
    )
    parts.append("</section>")
    return "".join(parts)


def to_markdown(decision: Decision, chart_links: dict[str, str] | None = None) -> str:
    """The report as Markdown; ``chart_links`` maps chart names to image paths."""
    rec = decision.recommendation
    lines = [f"# {decision.title}", "", f"_{_meta(decision)}_", "", f"**{rec.sentence}**", ""]
    lines += [f"- {c}" for c in rec.caveats]
    lines += ["", "## Options", "", _md_table(_rows(decision.options, OPTION_COLUMNS)), ""]
    for name, caption in CHART_CAPTIONS.items():
        if chart_links and name in chart_links:
            lines += [f"![{caption}]({chart_links[name]})", ""]
    policies = _md_table(_rows(decision.policies, POLICY_COLUMNS))
    lines += ["## Hybrid routing (simulated)", "", policies, "", "## Assumptions", ""]
    lines += [f"- {n}" for n in [*decision.setup.notes, *decision.warnings]] or ["None."]
    lines += ["", "## Where the figures come from", ""]
    for name, frame in decision.sources.items():
        lines += [f"### {name.capitalize()}", "", _md_table(_plain_rows(frame)), ""]
    lines += ["## The rules", ""]
    lines += [f"{i}. {rule}" for i, rule in enumerate(RULES, start=1)]
    return "\n".join(lines) + "\n"


def _meta(decision: Decision) -> str:
    workload = decision.scenario.workload
    return (
        f"{decision.scenario.name}: {formats.count(workload.requests_per_month)} requests a "
        f"month, latency objective {formats.duration_ms(workload.latency_objective_ms)}. "
        f"Decided on {decision.decided_on}"
        + (f", run {decision.run_id}" if decision.run_id else "")
        + "."
    )


def format_value(value: Any, how: str) -> str:
    """One table cell as people read it."""
    if how == "usd":
        return formats.usd(value)
    if how == "ms":
        return formats.duration_ms(value)
    if how == "percent":
        return formats.percent(value)
    if how == "quality":
        return formats.percent(value, missing="unknown")
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return str(value)


def _rows(frame: pd.DataFrame, columns: tuple[tuple[str, str, str], ...]) -> list[list[str]]:
    """The header and one formatted row per record; columns with nothing to show are left out."""
    present = [
        c
        for c in columns
        if c[0] in frame.columns
        and not frame[c[0]].map(lambda v: formats.is_missing(v) or v == "").all()
    ]
    rows = [[heading for _, heading, _ in present]]
    for record in frame.to_dict(orient="records"):
        rows.append([format_value(record.get(name), how) for name, _, how in present])
    return rows


def _plain_rows(frame: pd.DataFrame) -> list[list[str]]:
    rows = [[str(c) for c in frame.columns]]
    for record in frame.to_dict(orient="records"):
        rows.append([format_value(v, "text") for v in record.values()])
    return rows


def _html_table(rows: list[list[str]]) -> str:
    if len(rows) < 2:
        return "<p>None.</p>"
    head = "".join(f"<th>{html.escape(c)}</th>" for c in rows[0])
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows[1:]
    )
    return f'<div class="wide"><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'


def _md_table(rows: list[list[str]]) -> str:
    if len(rows) < 2:
        return "None."

    def cell(text: str) -> str:
        return text.replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(cell(c) for c in rows[0]) + " |"]
    lines.append("|" + "---|" * len(rows[0]))
    lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in rows[1:]]
    return "\n".join(lines)


_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#1f2328}
main{max-width:1100px;margin:0 auto;padding:1.5rem}
h1{font-size:1.6rem;margin:.2rem 0}.meta{color:#57606a}
.answer{background:#eef6ee;border-left:6px solid #2da44e;padding:.8rem 1rem;margin:1rem 0}
.answer p{font-size:1.15rem;font-weight:600;margin:.2rem 0}
.wide{overflow-x:auto}table{border-collapse:collapse;width:100%;font-size:.9rem}
th,td{border-bottom:1px solid #d0d7de;padding:.3rem .5rem;text-align:left;vertical-align:top}
figure{margin:1rem 0}img{max-width:100%;height:auto}figcaption{color:#57606a;font-size:.9rem}
"""

__all__ = [
    "CHART_CAPTIONS",
    "OPTION_COLUMNS",
    "POLICY_COLUMNS",
    "REPORT_SUFFIXES",
    "RULES",
    "check_report_path",
    "decision_section",
    "format_value",
    "to_html",
    "to_markdown",
    "write_report",
]
