"""Publish saved runs as a Voilà dashboard folder, serve it offline, or export a static page.

``publish(["20261130-004857-federated-digits-fedavg-10-clients-ebcf"], "fed-demo")`` writes a
folder that holds everything the dashboard reads::

    fed-demo/
      dashboard.ipynb   a dashboard template with its ``parameters`` cell bound to the runs
      runs/<run id>/    a copy of each run's run.json and table CSV files
      voila.json        sources stripped, tracebacks hidden, idle kernels culled, only the runs'
                        files served, and the offline page template
      README.md         what it shows and how to serve it

``workbench serve fed-demo`` (:func:`serve`) serves it with Voilà on 127.0.0.1 from the folder
itself, so it still works after the folder is moved or copied to another machine that has the
workbench installed. :func:`export_static` writes one HTML file of the runs' figures and tables
that needs neither a server nor a network.

Template contract
-----------------
A dashboard template is ``notebooks/dashboards/<name>.ipynb``. Templates are written by several
people; publishing relies only on this:

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

The kind of the runs picks the template when none is named: :data:`KIND_DASHBOARDS`, and
``"runs"`` (the run browser) for runs that would need different dashboards.

Offline
-------
Voilà 0.5's ``lab`` template links Font Awesome from a CDN and nbconvert's adds mermaid.js from
another; the ``workbench-offline`` template (``workbench/share/jupyter/voila/templates/``) drops
both, since Voilà's own bundle already carries the icons. Voilà finds it when
:data:`JUPYTER_DATA_DIR` is on ``JUPYTER_PATH``; :func:`voila_environment` and
:data:`OFFLINE_TEMPLATE` give what any Voilà command line needs.
"""

from __future__ import annotations

import ast
import base64
import errno
import html
import io
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from workbench import runs
from workbench.kit.errors import InvalidInputError, WorkbenchError
from workbench.kit.files import atomic_write_text
from workbench.kit.paths import REPO_ROOT
from workbench.runs.store import _SECRET_NAME  # one definition of what looks like a credential

DASHBOARDS_DIR = Path(__file__).resolve().parent / "dashboards"
JUPYTER_DATA_DIR = Path(__file__).resolve().parent / "share" / "jupyter"
OFFLINE_TEMPLATE = "workbench-offline"
KIND_DASHBOARDS = {
    "federated": "federated",
    "bench": "decision",
    "cloud": "decision",
    "hybrid": "decision",
    "cost": "decision",
}
FALLBACK_DASHBOARD = "runs"
NOTEBOOK = "dashboard.ipynb"
CONFIG_FILE = "voila.json"
RUNS_FOLDER = "runs"
DEFAULT_PORT = 8866
HOST = "127.0.0.1"
CULL_INTERVAL_S = 60
CULL_IDLE_TIMEOUT_S = 900
STATIC_ROWS = 50  # rows per table in a static export
# Only the runs' own files may be fetched from the page; notebooks, code and config never.
FILE_ALLOWLIST = [r"runs/[^/]+/run\.json", r"runs/[^/]+/[a-z0-9_]+\.csv"]
FILE_DENYLIST = [r".*\.(ipynb|py)", r"(.*/)?\..*"]
_PATH_END = r"(?![\w.~-])"  # a path ends where a name character cannot follow


class PublishError(WorkbenchError):
    """A dashboard that cannot be published as asked: bad runs, template or output folder."""


class ServeError(WorkbenchError):
    """A published folder that cannot be served: not an app, or a port in use."""


# ---------------------------------------------------------------------------------------------
# Publishing


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
    ids = _id_list(run_ids)
    out = Path(out_dir).expanduser().absolute()
    root = runs.resolve_runs_dir(runs_dir)
    _check_out_dir(out, root, force)
    chosen = _complete_runs(ids, root)
    name = dashboard or dashboard_for_kinds(run.kind for run in chosen)
    template = _template(name, explicit=dashboard is not None, kinds=[r.kind for r in chosen])
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.publishing-", dir=out.parent))
    except OSError as exc:
        raise PublishError(
            f"Cannot create the output folder {out}: {exc.strerror or exc} in {out.parent}. "
            "Choose an --out in a folder you can write to."
        ) from exc
    try:
        _write_app(staging, chosen, root, template, name)
        _clean_files(staging, root)
        for run in chosen:  # what was copied and rewritten still loads
            runs.load_run(run.id, staging / RUNS_FOLDER)
        staging.chmod(0o755)  # mkdtemp makes it private; a published folder is for sharing
        _swap_in(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return out


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


def _id_list(run_ids: Sequence[str] | str) -> list[str]:
    ids = [run_ids] if isinstance(run_ids, str) else list(run_ids)
    if not ids or not all(isinstance(i, str) and i.strip() for i in ids):
        raise InvalidInputError(
            f"Name at least one run to publish, as run ids (or unique prefixes); got {run_ids!r}. "
            "`workbench runs list` shows them."
        )
    return ids


def _complete_runs(ids: list[str], root: Path) -> list[runs.Run]:
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
    if re.fullmatch(r"[A-Za-z0-9_-]+", name) and path.is_file():
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
    (folder / "README.md").write_text(_readme(chosen, name), encoding="utf-8")


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

For a copy to e-mail or archive (figures and tables in one HTML file, no server needed):

    workbench export . --out report.html

## What is inside

- `{NOTEBOOK}`: the dashboard. Its first cell says which runs it shows (`RUN_IDS`) and where
  they are (`RUNS_DIR = "runs"`, relative to this folder).
- `runs/`: a copy of each run's `run.json` (settings, environment, summary) and result tables.
  Paths of the machine that published it are written as `<repo>` (the workbench's folder),
  `~` (the home folder) or `runs`.
- `{CONFIG_FILE}`: Voilà's settings: code hidden, error details hidden, idle sessions closed
  after {CULL_IDLE_TIMEOUT_S // 60} minutes, only the runs' files downloadable, and the
  `{OFFLINE_TEMPLATE}` page template that the workbench ships.
"""


def _clean_files(folder: Path, root: Path) -> None:
    """Rewrite the build machine's paths in every file; refuse a file holding a credential."""
    for file in sorted(p for p in folder.rglob("*") if p.is_file()):
        text = file.read_text(encoding="utf-8")
        _refuse_secrets(text, file.relative_to(folder).as_posix())
        cleaned = scrub_paths(text, root)
        if cleaned != text:
            file.write_text(cleaned, encoding="utf-8")


def _refuse_secrets(text: str, where: str) -> None:
    for name, value in _secret_values():
        if value in text or json.dumps(value)[1:-1] in text:
            run = where.split("/")[1] if where.startswith(f"{RUNS_FOLDER}/") else None
            owner = f"run {run} ({where})" if run else where
            raise PublishError(
                f"Refusing to publish: {owner} contains the value of the environment variable "
                f"{name}, which looks like a credential, and a published folder is shared. "
                + (
                    "Leave that run out, or make it again without the credential in its tables "
                    if run
                    else "Remove it from the dashboard template "
                )
                + f"(if {name} is not a credential, unset it in this shell and publish again)."
            )


def _secret_values() -> list[tuple[str, str]]:
    return [
        (name, value)
        for name, value in os.environ.items()
        if _SECRET_NAME.search(name) and len(value) >= 8
    ]


def machine_paths(runs_dir: str | os.PathLike[str] | None = None) -> list[tuple[str, str]]:
    """Absolute paths of this machine that must not leave it, each with what replaces it.

    The runs directory becomes ``runs`` (where a published folder keeps its copies), the
    repository ``<repo>`` and the home folder ``~``; longest first, so the most precise wins.
    """
    pairs: dict[str, str] = {}
    for path, replacement in (
        (Path.home(), "~"),
        (REPO_ROOT, "<repo>"),
        (runs.resolve_runs_dir(runs_dir), RUNS_FOLDER),
    ):
        for form in {str(path), str(path.resolve())}:
            if form.count("/") >= 1 and len(form) > 1:
                pairs[form.rstrip("/")] = replacement
    return sorted(pairs.items(), key=lambda pair: len(pair[0]), reverse=True)


def scrub_paths(text: str, runs_dir: str | os.PathLike[str] | None = None) -> str:
    """``text`` with this machine's paths (:func:`machine_paths`) replaced."""
    for path, replacement in machine_paths(runs_dir):
        text = re.sub(rf"(?<![\w.~-]){re.escape(path)}{_PATH_END}", replacement, text)
    return text


# ---------------------------------------------------------------------------------------------
# Serving


def voila_environment(base: dict[str, str] | None = None) -> dict[str, str]:
    """``base`` (default: this process's environment) with the offline template findable.

    Voilà looks for page templates under every ``JUPYTER_PATH`` entry; this puts
    :data:`JUPYTER_DATA_DIR` first.
    """
    env = dict(os.environ if base is None else base)
    env["JUPYTER_PATH"] = os.pathsep.join(
        p for p in (str(JUPYTER_DATA_DIR), env.get("JUPYTER_PATH", "")) if p
    )
    return env


def voila_command(
    app_dir: str | os.PathLike[str],
    *,
    port: int = DEFAULT_PORT,
    open_browser: bool = False,
    config_dir: str | os.PathLike[str] | None = None,
    preheat: bool = False,
) -> list[str]:
    """The Voilà command line that serves a published folder (run it with the folder as cwd).

    ``config_dir`` is an extra folder searched first for ``voila.json``: :func:`serve` puts a
    token there, so that it does not show on Voilà's command line. ``preheat`` keeps one kernel
    that has already run the notebook waiting for the next visitor (a published notebook's
    parameters are bound in the file, so a preheated kernel shows the same page).
    """
    command = [
        sys.executable,
        "-m",
        "voila",
        NOTEBOOK,
        f"--Voila.ip={HOST}",
        f"--port={port}",
        "--Voila.port_retries=0",
        f"--template={OFFLINE_TEMPLATE}",
    ]
    command.append("--Voila.open_browser=True" if open_browser else "--no-browser")
    if preheat:
        command += ["--preheat_kernel=True", "--pool_size=1"]
    if config_dir is not None:
        from jupyter_core.paths import jupyter_config_path

        folders = [str(config_dir), str(Path(app_dir).absolute()), *jupyter_config_path()]
        command += [arg for folder in folders for arg in ("--Voila.config_file_paths", folder)]
    return command


def serve(
    app_dir: str | os.PathLike[str],
    *,
    port: int | None = None,
    token: str | None = None,
    open_browser: bool = False,
    preheat: bool = False,
) -> int:
    """Serve a published folder with Voilà on 127.0.0.1 until Ctrl-C (or SIGTERM).

    Parameters
    ----------
    app_dir
        A folder written by :func:`publish`.
    port
        The port; ``None`` means 8866.
    token
        When given, every visitor must add ``?token=TOKEN`` to the address.
    open_browser
        Open the page in the default browser.
    preheat
        Run the notebook ahead in a waiting kernel, so the first visitor does not wait for it
        (see ``bench/bench_dashboards.py`` for the difference).

    Returns
    -------
    int
        Voilà's exit status (0 after Ctrl-C).

    Raises
    ------
    ServeError
        When the folder is not a published app, or the port is in use or not allowed.
    """
    app = published_app(app_dir)
    port = DEFAULT_PORT if port is None else port
    check_port(port)
    with tempfile.TemporaryDirectory(prefix="workbench-serve-") as private:
        config_dir = None
        if token:
            config_dir = Path(private)
            (config_dir / CONFIG_FILE).write_text(json.dumps({"Voila": {"token": token}}), "utf-8")
        command = voila_command(
            app, port=port, open_browser=open_browser, config_dir=config_dir, preheat=preheat
        )
        note = " (add ?token=YOUR_TOKEN)" if token else ""
        print(f"Serving {app.name} at http://{HOST}:{port}/{note}; Ctrl-C stops it.", flush=True)
        process = subprocess.Popen(command, cwd=app, env=voila_environment())
        previous = signal.signal(signal.SIGTERM, _raise_interrupt)
        try:
            return process.wait()
        except KeyboardInterrupt:
            process.send_signal(signal.SIGTERM)  # Voilà shuts its kernels down on SIGTERM
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            return 0
        finally:
            signal.signal(signal.SIGTERM, previous)


def _raise_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def published_app(app_dir: str | os.PathLike[str]) -> Path:
    """``app_dir`` as an absolute path, checked to be a folder written by :func:`publish`."""
    app = Path(app_dir).expanduser().absolute()
    missing = [f for f in (NOTEBOOK, CONFIG_FILE, RUNS_FOLDER) if not (app / f).exists()]
    if not app.is_dir() or missing:
        what = "does not exist" if not app.exists() else f"lacks {', '.join(missing)}"
        raise ServeError(
            f"{app} is not a published dashboard: it {what}. Make one with "
            "`workbench publish RUN_ID... --out DIR`, then serve that folder."
        )
    return app


def check_port(port: int) -> None:
    """Refuse a port that is out of range, in use on 127.0.0.1, or not allowed to this user."""
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        raise ServeError(f"--port must be a number from 1 to 65535, got {port!r}.")
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # As Voilà binds: SO_REUSEADDR, so a port that only lingers after a closed server is free.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((HOST, port))
        except OSError as exc:
            reason = (
                "is already in use by another program (perhaps another dashboard)"
                if exc.errno == errno.EADDRINUSE
                else f"cannot be used ({exc.strerror or exc})"
            )
            raise ServeError(
                f"Port {port} on {HOST} {reason}. Serve on another port with --port, e.g. "
                f"--port {port + 1 if port < 65535 else 8867}, or stop what holds port {port}."
            ) from exc


# ---------------------------------------------------------------------------------------------
# Static export


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
        Run ids (or unique prefixes), or the path of a folder written by :func:`publish`.
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
        As :func:`publish` does, for missing runs and runs that are not complete.
    """
    if max_rows < 1:
        raise InvalidInputError(f"`max_rows` must be >= 1, got {max_rows}.")
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
        ids = _id_list(source)  # type: ignore[arg-type]
        title = "Saved runs"
    chosen = _complete_runs(ids, root)
    text = scrub_paths(static_html(chosen, title=title, max_rows=max_rows), root)
    _refuse_secrets(text, out.name)
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


def static_html(chosen: Sequence[runs.Run], *, title: str, max_rows: int = STATIC_ROWS) -> str:
    """The page of :func:`export_static` for runs already loaded."""
    made = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    contents = "".join(
        f'<li><a href="#{_anchor(run.id)}">{html.escape(run.id)}</a></li>' for run in chosen
    )
    sections = "".join(_run_section(run, max_rows) for run in chosen)
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
img {{max-width: 100%;}}
.wide {{overflow-x: auto;}}
section {{border-top: 2px solid #333; margin-top: 2em;}}
</style></head><body>
<h1>{html.escape(title)}</h1>
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
        _pairs_html([(k, _text(v)) for k, v in run.summary.items()]) or _note("No summary."),
        "<h3>Settings</h3>",
        _pairs_html([(k, _text(v)) for k, v in _flat(run.config).items()]) or _note("None."),
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


def _note(text: str) -> str:
    return f'<p class="note">{html.escape(text)}</p>'


def _text(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, dict | list):
        return json.dumps(value)
    return str(value)


def _flat(config: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in config.items():
        if isinstance(value, dict) and value:
            flat.update(_flat(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


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
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", metadata={"Software": None})
    return buffer.getvalue()


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


__all__ = [
    "DASHBOARDS_DIR",
    "JUPYTER_DATA_DIR",
    "KIND_DASHBOARDS",
    "OFFLINE_TEMPLATE",
    "PublishError",
    "ServeError",
    "bind_parameters",
    "check_port",
    "dashboard_for_kinds",
    "export_static",
    "list_dashboards",
    "publish",
    "published_app",
    "serve",
    "voila_command",
    "voila_config",
    "voila_environment",
]
