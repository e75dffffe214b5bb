"""Publish saved runs as a Voilà dashboard folder (served by :mod:`workbench.publish.serve`,
exported as a static page by :mod:`workbench.publish.export`).

``publish(["20261130-004857-federated-digits-fedavg-10-clients-ebcf"], "fed-demo")`` writes a
folder that holds everything the dashboard reads::

    fed-demo/
      dashboard.ipynb   a dashboard template with its ``parameters`` cell bound to the runs
      runs/<run id>/    a copy of each run's run.json and table CSV files
      voila.json        sources stripped, tracebacks hidden, idle kernels culled, only the runs'
                        files served, and the offline page template
      README.md         what it shows and how to serve it

``workbench serve fed-demo`` (:func:`workbench.publish.serve`) serves it with Voilà on 127.0.0.1
from the folder itself, so it still works after the folder is moved or copied to another machine
that has the workbench installed; the offline page template it names is described there.
:func:`workbench.publish.export_static` writes one HTML file of the runs' figures and tables that
needs neither a server nor a network.

Template contract
-----------------
A dashboard template is ``workbench/publish/dashboards/<name>.ipynb`` (linked from
``notebooks/dashboards/``). Templates are written by several people; publishing relies only on
this:

* Its first code cell is tagged ``parameters`` and assigns, each in a statement of its own::

      RUNS_DIR = None  # the folder of runs; None: $WORKBENCH_RUNS_DIR, else ./runs
      RUN_IDS = None  # the runs to show, in order; None: the template's choice (e.g. all)

  Publishing rewrites exactly these two statements to ``RUNS_DIR = "runs"`` and
  ``RUN_IDS = ["<id>", ...]`` (full ids); any other parameter in the cell is kept as written.
* The notebook reads runs only through ``workbench.runs`` with ``RUNS_DIR``
  (``load_run(run_id, runs_dir=RUNS_DIR)``, ``list_runs(RUNS_DIR)``). A relative ``RUNS_DIR`` is
  relative to the notebook's folder, where Voilà starts the kernel. It reads no other file of
  the folder; code comes from the installed ``workbench`` and ``widgets`` packages.
* When ``RUN_IDS`` names runs that are missing, or no run at all, the page says so and explains
  how to make one (e.g. ``workbench bench minilm``), instead of failing.
* Callback errors are shown in the page (``widgets.common.error_html``), and no cell prints
  paths, environment variables or code: Voilà strips the sources, not what cells print.

The kind of the runs picks the template when none is named:
:data:`~workbench.publish.config.KIND_DASHBOARDS`, and ``"runs"`` (the run browser) for runs that
would need different dashboards.
"""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from workbench import runs
from workbench.kit.errors import InvalidInputError
from workbench.publish.clean import clean_files
from workbench.publish.config import (
    CONFIG_FILE,
    CULL_IDLE_TIMEOUT_S,
    CULL_INTERVAL_S,
    DASHBOARDS_DIR,
    DEFAULT_PORT,
    FALLBACK_DASHBOARD,
    FILE_ALLOWLIST,
    FILE_DENYLIST,
    HOST,
    KIND_DASHBOARDS,
    NOTEBOOK,
    OFFLINE_TEMPLATE,
    README_FILE,
    RUNS_FOLDER,
    TEMPLATE_NAME,
)
from workbench.publish.errors import PublishError


def dashboard_for_kinds(kinds: Iterable[str]) -> str:
    """The dashboard template for runs of these kinds.

    Returns
    -------
    str
        ``"federated"`` for federated runs, ``"decision"`` for bench, cloud, hybrid and cost runs,
        and ``"runs"`` (the run browser) for any other kind or a mix that needs both.
    """
    names = {KIND_DASHBOARDS.get(kind, FALLBACK_DASHBOARD) for kind in kinds}
    return names.pop() if len(names) == 1 else FALLBACK_DASHBOARD


def list_dashboards() -> list[str]:
    """Names of the dashboard templates in ``notebooks/dashboards/``."""
    return sorted(p.stem for p in DASHBOARDS_DIR.glob("*.ipynb")) if DASHBOARDS_DIR.is_dir() else []


def publish(
    run_ids: Sequence[str] | str,
    out_dir: str | os.PathLike[str],
    *,
    dashboard: str | None = None,
    force: bool = False,
    runs_dir: str | os.PathLike[str] | None = None,
) -> Path:
    """Write a self-contained Voilà app folder that shows these runs.

    Parameters
    ----------
    run_ids
        Run ids or unique prefixes; each must be a complete run.
    out_dir
        The folder to create. It must not exist, unless ``force``.
    dashboard
        A template name from ``notebooks/dashboards/``; ``None`` picks one from the runs' kinds
        (:func:`dashboard_for_kinds`).
    force
        Replace ``out_dir`` when it is an earlier published folder (or empty). The new folder is
        built beside it and swapped in, so a failure leaves the old one as it was.
    runs_dir
        Where the runs are; ``None`` means ``$WORKBENCH_RUNS_DIR`` or ``./runs``.

    Returns
    -------
    Path
        The absolute path of the published folder.

    Raises
    ------
    RunNotFoundError
        For a run id that names no run.
    PublishError
        For a run that is not complete, a missing template, an output folder that exists, or a
        run holding the value of a credential environment variable.
    """
    out = Path(out_dir).expanduser().absolute()
    root = runs.resolve_runs_dir(runs_dir)
    _check_out_dir(out, root, force)
    chosen = complete_runs(id_list(run_ids), root)
    name = dashboard or dashboard_for_kinds(run.kind for run in chosen)
    template = _template(name, explicit=dashboard is not None, kinds=[r.kind for r in chosen])
    staging = _staging_folder(out)
    try:
        _build_app(staging, chosen, root, template, name)
        _swap_in(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return out


def _staging_folder(out: Path) -> Path:
    """A new private folder beside ``out`` to build the app in, so a failure leaves ``out`` be."""
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(prefix=f".{out.name}.publishing-", dir=out.parent))
    except OSError as exc:
        raise PublishError(
            f"Cannot create the output folder {out}: {exc.strerror or exc} in {out.parent}. "
            "Choose an --out in a folder you can write to."
        ) from exc


def _build_app(folder: Path, chosen: list[runs.Run], root: Path, template: Path, name: str) -> None:
    """Write the app into ``folder``, clean it, and check that its runs still load."""
    _write_app(folder, chosen, root, template, name)
    clean_files(folder, root)
    for run in chosen:  # what was copied and rewritten still loads
        runs.load_run(run.id, folder / RUNS_FOLDER)
    folder.chmod(0o755)  # mkdtemp makes it private; a published folder is for sharing


def bind_parameters(source: str, values: dict[str, Any]) -> str:
    """A ``parameters`` cell's source with the statements assigning ``values`` rewritten.

    Parameters
    ----------
    source
        The cell's Python source.
    values
        Variable name to its new value (strings, numbers, None, lists of those).

    Raises
    ------
    PublishError
        When the cell is not valid Python or does not assign one of the names.
    """
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        raise PublishError(
            f"The parameters cell is not valid Python ({exc.msg}, line {exc.lineno}); fix the "
            "template so that it runs."
        ) from exc
    lines = source.splitlines(keepends=True)
    found: dict[str, list[ast.stmt]] = {name: [] for name in values}
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else []
        if isinstance(node, ast.AnnAssign):
            targets = [node.target]
        names = [t.id for t in targets if isinstance(t, ast.Name) and t.id in values]
        if names and len(targets) > 1:
            raise PublishError(
                f"The parameters cell assigns {names[0]} together with another name; assign it "
                f"in a statement of its own, e.g. `{names[0]} = None`, so publishing can bind it."
            )
        for name in names:
            found[name].append(node)
    missing = [name for name, nodes in found.items() if not nodes]
    if missing:
        raise PublishError(
            f"The parameters cell does not assign {', '.join(missing)}. A dashboard template must "
            "define `RUNS_DIR = None` and `RUN_IDS = None` in its first code cell, tagged "
            "`parameters` (see notebooks/dashboards/README.md)."
        )
    edits = sorted(
        ((node, name) for name, nodes in found.items() for node in nodes),
        key=lambda pair: pair[0].lineno,
        reverse=True,
    )
    for node, name in edits:
        first, last = node.lineno - 1, (node.end_lineno or node.lineno) - 1
        rest = lines[last][node.end_col_offset :] if node.end_col_offset is not None else "\n"
        if rest.lstrip().startswith("#"):  # the template's comment describes its own default
            rest = "  # set by workbench publish" + ("\n" if rest.endswith("\n") else "")
        statement = f"{name} = {_literal(values[name])}"
        lines[first : last + 1] = [lines[first][: node.col_offset] + statement + rest]
    return "".join(lines)


def _literal(value: Any) -> str:
    if isinstance(value, list | tuple) and len(value) > 1:
        return "[\n" + "".join(f"    {_literal(v)},\n" for v in value) + "]"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_literal(v) for v in value) + "]"
    return json.dumps(value) if isinstance(value, str) else repr(value)


def id_list(run_ids: Sequence[str] | str) -> list[str]:
    """Run ids given as one id or a list, checked to name at least one run."""
    ids = [run_ids] if isinstance(run_ids, str) else list(run_ids)
    if not ids or not all(isinstance(i, str) and i.strip() for i in ids):
        raise InvalidInputError(
            f"Name at least one run to publish, as run ids (or unique prefixes); got {run_ids!r}. "
            "`workbench runs list` shows them."
        )
    return ids


def complete_runs(ids: list[str], root: Path) -> list[runs.Run]:
    """The runs ``ids`` names in ``root``, once each; refuses any that is not complete."""
    chosen: dict[str, runs.Run] = {}
    for run_id in ids:
        run = runs.load_run(run_id, root)
        if run.status != "complete":
            why = (
                f"it failed ({run.error})"
                if run.status == "failed"
                else "it is still running, or was stopped before it ended"
            )
            raise PublishError(
                f"Run {run.id} is {run.status}: {why}, so its results are partial and a "
                "dashboard would present them as final. Publish complete runs only: run it again "
                "(or wait for it to end) and publish the new run; `workbench runs list` shows "
                "each run's status."
            )
        chosen.setdefault(run.id, run)
    return list(chosen.values())


def _template(name: str, *, explicit: bool, kinds: list[str]) -> Path:
    path = DASHBOARDS_DIR / f"{name}.ipynb"
    if re.fullmatch(TEMPLATE_NAME, name) and path.is_file():
        return path
    have = ", ".join(list_dashboards()) or "none"
    reason = "" if explicit else f" (chosen for runs of kind {', '.join(sorted(set(kinds)))})"
    fallback = "" if name == FALLBACK_DASHBOARD else f", or --dashboard {FALLBACK_DASHBOARD}"
    raise PublishError(
        f"There is no dashboard template {name!r}{reason}: "
        f"notebooks/dashboards/{name}.ipynb does not exist. The templates are: {have}. "
        f"Choose one with --dashboard NAME (dashboard=NAME in Python){fallback}."
    )


def _check_out_dir(out: Path, root: Path, force: bool) -> None:
    if out == root or root in out.parents or out in root.parents:
        raise PublishError(
            f"The output folder {out} overlaps the runs directory {root}; a published folder "
            "inside it would be read as a run, and one around it would copy every run. Choose "
            "an --out outside the runs directory."
        )
    if not out.exists() and not out.is_symlink():
        return
    if not force:
        raise PublishError(
            f"The output folder {out} already exists, and publishing never writes into an "
            "existing folder. Choose another --out, or pass --force to replace it (force=True in "
            "Python) when it is an earlier published dashboard."
        )
    if not _replaceable(out):
        raise PublishError(
            f"The output folder {out} exists and is not a published dashboard (it lacks "
            f"{NOTEBOOK} and {CONFIG_FILE}), so --force will not delete it. Choose another --out, "
            "or move that folder away yourself."
        )


def _replaceable(out: Path) -> bool:
    if out.is_symlink() or not out.is_dir():
        return False
    return not any(out.iterdir()) or ((out / NOTEBOOK).is_file() and (out / CONFIG_FILE).is_file())


def _swap_in(staging: Path, out: Path) -> None:
    """Put the built folder at ``out``; an earlier folder there is moved aside, then deleted."""
    old = None
    if out.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{out.name}.replaced-", dir=out.parent))
        os.replace(out, old / out.name)
    try:
        os.replace(staging, out)
    except BaseException:
        if old is not None:
            os.replace(old / out.name, out)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _write_app(folder: Path, chosen: list[runs.Run], root: Path, template: Path, name: str) -> None:
    for run in chosen:
        target = folder / RUNS_FOLDER / run.id
        target.mkdir(parents=True)
        for file_name in [runs.RUN_FILE, *(f"{table}.csv" for table in run.tables)]:
            shutil.copyfile(root / run.id / file_name, target / file_name)
    ids = [run.id for run in chosen]
    (folder / NOTEBOOK).write_text(_bound_notebook(template, ids), encoding="utf-8")
    (folder / CONFIG_FILE).write_text(json.dumps(voila_config(), indent=2) + "\n", "utf-8")
    (folder / README_FILE).write_text(_readme(chosen, name), encoding="utf-8")


def _bound_notebook(template: Path, run_ids: list[str]) -> str:
    import nbformat

    notebook = nbformat.read(template, as_version=4)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    if not code or "parameters" not in code[0].get("metadata", {}).get("tags", []):
        raise PublishError(
            f"The dashboard template {template.name} has no `parameters` cell: its first code "
            "cell must be tagged `parameters` and define RUNS_DIR and RUN_IDS (see "
            "notebooks/dashboards/README.md)."
        )
    try:
        code[0].source = bind_parameters(
            code[0].source, {"RUNS_DIR": RUNS_FOLDER, "RUN_IDS": run_ids}
        )
    except PublishError as exc:
        raise PublishError(f"Dashboard template {template.name}: {exc}") from None
    for cell in code:
        cell.outputs = []
        cell.execution_count = None
    for cell in notebook.cells:
        cell.get("metadata", {}).pop("execution", None)
    for key in ("widgets", "papermill"):  # saved widget state and run records are not the app
        notebook.metadata.pop(key, None)
    return nbformat.writes(notebook)


def voila_config() -> dict[str, Any]:
    """The ``voila.json`` of a published folder: what Voilà reads from its working directory."""
    return {
        "VoilaConfiguration": {
            "template": OFFLINE_TEMPLATE,
            "strip_sources": True,
            "show_tracebacks": False,
            "file_allowlist": FILE_ALLOWLIST,
            "file_denylist": FILE_DENYLIST,
        },
        "MappingKernelManager": {
            "cull_interval": CULL_INTERVAL_S,
            "cull_idle_timeout": CULL_IDLE_TIMEOUT_S,
            "cull_connected": False,
        },
        "Voila": {"ip": HOST, "open_browser": False},
    }


def _readme(chosen: list[runs.Run], name: str) -> str:
    rows = "\n".join(
        f"| `{run.id}` | {run.kind} | {run.label or '–'} | {run.ended_at or '–'} |"
        for run in chosen
    )
    made = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"""# Dashboard: {len(chosen)} saved run{"s" if len(chosen) != 1 else ""}

Published with the AI deployment workbench on {made}, with the `{name}` dashboard.

| run | kind | label | ended |
|---|---|---|---|
{rows}

## Serve it

From this folder, in an environment where the workbench is installed (`make install` or
`pip install -e .` in the workbench's repository):

    workbench serve .

then open <http://127.0.0.1:{DEFAULT_PORT}/>. `--port P` picks another port; `--token T` asks
every visitor for `?token=T` in the address. The server listens on this machine only
(127.0.0.1) and the page fetches nothing from the internet. The folder can be moved or copied
to another machine with the same environment and served there the same way.

For a copy to e-mail or archive (figures and tables in one HTML file, no server needed;
benchmark and cloud runs open with the decision they give, the same recommendation as the
dashboard and `workbench decide`):

    workbench export . --out report.html

## What is inside

- `{NOTEBOOK}`: the dashboard. Its first cell says which runs it shows (`RUN_IDS`) and where
  they are (`RUNS_DIR = "runs"`, relative to this folder).
- `runs/`: a copy of each run's `run.json` (settings, environment, summary) and result tables.
  Paths of the machine that published it are written as `<repo>` (the workbench's folder),
  `~` (the home folder) or `runs`.
- `{CONFIG_FILE}`: Voilà's settings: code hidden, error details hidden, idle sessions closed
  after {CULL_IDLE_TIMEOUT_S} s without a connected page, only the runs' files downloadable, and the
  `{OFFLINE_TEMPLATE}` page template that the workbench ships.
"""


__all__ = [
    "bind_parameters",
    "complete_runs",
    "dashboard_for_kinds",
    "id_list",
    "list_dashboards",
    "publish",
    "voila_config",
]
