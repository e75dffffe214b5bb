"""A notebook run as a report: executed with papermill, then written as an HTML page without code.

``workbench report NOTEBOOK [-p NAME VALUE ...] --out DIR`` runs the notebook top to bottom in a
fresh kernel of this Python (the one the workbench runs in, whatever other ``python3`` kernels
are installed), in the notebook's own folder and offline, with the values given replacing those
of its cell tagged ``parameters``. ``DIR`` receives the executed notebook and a page of its
Markdown and outputs that loads nothing from the network.

A cell that fails stops the run: the error names the cell and the partial notebook, which is
kept in ``DIR`` with the outputs up to that cell and its traceback.
"""

from __future__ import annotations

import ast
import os
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbench.kit.errors import InvalidInputError, WorkbenchError
from workbench.kit.files import atomic_write_text

#: The tag of the cell whose assignments ``-p NAME VALUE`` replaces (papermill's convention).
PARAMETERS_TAG = "parameters"
#: How long a kernel may take to start; cold imports on a busy 2-core machine take a while.
KERNEL_START_TIMEOUT_S = 180
#: A notebook larger than this is refused before it is read (committed notebooks carry no
#: outputs and weigh kilobytes; this bounds what a mistaken path can make us parse).
MAX_NOTEBOOK_BYTES = 50 * 1024 * 1024
#: The page: nbconvert's ``lab`` template without the blocks that load scripts from CDNs
#: (require.js, MathJax, Mermaid, the widget renderer), so it opens the same with no network.
#: Maths shows as its TeX source; widgets are left out (see :func:`notebook_html`).
_OFFLINE_TEMPLATE = "workbench_report.html.j2"
_OFFLINE_TEMPLATE_TEXT = """{%- extends 'lab/index.html.j2' -%}
{%- block html_head_js -%}{%- endblock html_head_js -%}
{%- block jupyter_widgets -%}{%- endblock jupyter_widgets -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
"""


#: The output type of a widget, which a page without the widget renderer cannot show.
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


class ReportError(WorkbenchError):
    """A notebook that stopped with an error while it ran; its partial notebook is kept."""


@dataclass(frozen=True)
class Report:
    """What ``workbench report`` wrote: the executed notebook, its page, the parameters given
    and the seconds it took (kernel start, every cell and the page)."""

    notebook: Path
    html: Path
    parameters: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "notebook": str(self.notebook),
            "html": str(self.html),
            "parameters": dict(self.parameters),
            "seconds": round(self.seconds, 3),
        }

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> Report:
        return cls(
            notebook=Path(values["notebook"]),
            html=Path(values["html"]),
            parameters=dict(values.get("parameters", {})),
            seconds=float(values.get("seconds", 0.0)),
        )


def notebook_parameters(notebook: Any) -> dict[str, str]:
    """The names assigned in ``notebook``'s first cell tagged ``parameters``, each with its
    default as written (``'"minilm"'``, ``'30'``); empty when no cell is tagged."""
    from papermill.translators import papermill_translators

    tagged = [c for c in notebook.cells if PARAMETERS_TAG in c.get("metadata", {}).get("tags", [])]
    if not tagged:
        return {}
    translator = papermill_translators.find_translator("python3", "python")
    return {p.name: p.default for p in translator.inspect(tagged[0])}


def run_report(
    notebook: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    parameters: Mapping[str, Any] | None = None,
    *,
    progress: bool = True,
) -> Report:
    """Execute ``notebook`` with ``parameters`` and write ``<name>.ipynb`` and ``<name>.html``
    into ``out_dir``.

    Parameters
    ----------
    notebook
        A Python notebook (``.ipynb``). It runs in its own folder, in a kernel of this Python,
        with ``HF_HUB_OFFLINE=1`` unless the environment says otherwise.
    out_dir
        The folder to write into (created when missing). Earlier files of the same name are
        replaced only once the new ones are complete.
    parameters
        Values for names of the notebook's cell tagged ``parameters``. Text values, as typed
        after ``-p NAME``, are read as papermill's ``-p`` reads them and matched to the kind of
        the name's default: ``-p FED_ROUNDS 1`` is the number 1, ``-p DEVICE 5`` the text "5".
    progress
        Show papermill's progress bar (one step per cell) on stderr.

    Returns
    -------
    Report
        The paths written, the parameters as injected and the seconds taken.

    Raises
    ------
    InvalidInputError
        Before anything runs: a notebook that is missing or not a notebook, a folder that cannot
        be written, a parameter the notebook does not declare or of the wrong kind.
    ReportError
        A cell that raised: the message names the cell and the partial notebook kept in
        ``out_dir``.
    """
    source = _check_notebook(Path(notebook))
    loaded = _read_notebook(source)
    values = _check_parameters(source, loaded, dict(parameters or {}))
    folder = _check_out_dir(Path(out_dir), source)

    executed = folder / f"{source.stem}.ipynb"
    page = folder / f"{source.stem}.html"
    started = time.perf_counter()
    _execute(source, executed, values, progress=progress, stale_page=page)
    atomic_write_text(page, notebook_html(executed))
    return Report(executed, page, values, time.perf_counter() - started)


def notebook_html(path: str | os.PathLike[str]) -> str:
    """The executed notebook at ``path`` as one HTML page of its Markdown and outputs: no code,
    no ``In [n]`` prompts, and nothing loaded from the network (images are inside the page).

    Widgets are left out: a page without the widget renderer, which comes from a CDN, would
    show them blank, and their text form is the state they started in (a progress bar at 0%).
    """
    import jinja2
    import nbformat
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(
        template_name="lab",
        template_file=_OFFLINE_TEMPLATE,
        extra_loaders=[jinja2.DictLoader({_OFFLINE_TEMPLATE: _OFFLINE_TEMPLATE_TEXT})],
        exclude_input=True,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
    )
    notebook = nbformat.read(Path(path), as_version=4)
    notebook.metadata.pop("widgets", None)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.outputs = [o for o in cell.outputs if WIDGET_VIEW not in o.get("data", {})]
    body, _ = exporter.from_notebook_node(notebook)
    return body


# --- checks before anything runs


def _check_notebook(path: Path) -> Path:
    path = path.expanduser()
    if not path.exists():
        raise InvalidInputError(
            f"The notebook {path} does not exist; give the path of an .ipynb file, e.g. "
            "notebooks/00_quickstart.ipynb."
        )
    if not path.is_file() or path.suffix != ".ipynb":
        raise InvalidInputError(
            f"{path} is not a notebook; give the path of an .ipynb file, e.g. "
            "notebooks/00_quickstart.ipynb."
        )
    size = path.stat().st_size
    if size > MAX_NOTEBOOK_BYTES:
        raise InvalidInputError(
            f"The notebook {path} weighs {size / 1e6:,.0f} MB, more than the "
            f"{MAX_NOTEBOOK_BYTES / 1e6:,.0f} MB a report reads; clear its outputs "
            "(Edit > Clear Outputs of All Cells) and save it again."
        )
    return path.resolve()


def _read_notebook(path: Path) -> Any:
    import nbformat

    try:
        notebook = nbformat.read(path, as_version=4)
    except (ValueError, nbformat.ValidationError, AttributeError, KeyError, TypeError) as exc:
        # nbformat raises NotJSONError (a ValueError) for text that is not JSON, and assorted
        # errors for JSON that is not a notebook.
        raise InvalidInputError(
            f"The notebook {path} cannot be read as a Jupyter notebook ({type(exc).__name__}: "
            f"{str(exc).splitlines()[0] if str(exc) else 'no details'}); open it in Jupyter and "
            "save it again, or give another file."
        ) from None
    language = notebook.metadata.get("kernelspec", {}).get("language", "python")
    if language != "python":
        raise InvalidInputError(
            f"The notebook {path} is written for a {language} kernel; a report runs Python "
            "notebooks only."
        )
    return notebook


def _check_parameters(path: Path, notebook: Any, values: dict[str, Any]) -> dict[str, Any]:
    declared = notebook_parameters(notebook)
    unknown = [name for name in values if name not in declared]
    if unknown:
        names = ", ".join(unknown)
        if declared:
            accepted = f"it accepts {', '.join(declared)}"
        else:
            accepted = f"it has no cell tagged `{PARAMETERS_TAG}`, so it accepts none"
        raise InvalidInputError(
            f"The notebook {path.name} has no parameter{'s' if len(unknown) > 1 else ''} "
            f"{names}: {accepted}. Check the spelling "
            "(names are case-sensitive) or add the name to its parameters cell."
        )
    return {name: _as_default_kind(name, value, declared[name]) for name, value in values.items()}


def _as_default_kind(name: str, value: Any, default_text: str) -> Any:
    """``value`` of the kind of its default in the notebook. Text (from ``-p NAME VALUE``) is
    read as papermill's ``-p`` reads it (whole numbers, other numbers, ``True``/``False``/``None``,
    else text), except that a text default keeps the text as typed and a ``True``/``False``
    default also takes ``true``/``false``."""
    from papermill.cli import _resolve_type  # papermill's own reading of `-p NAME VALUE`

    try:
        default = ast.literal_eval(default_text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        default = None  # an expression (a call, a name): papermill's reading stands
    if not isinstance(value, str):
        typed = value
    elif isinstance(default, str):
        return value  # `-p DEVICE 5` means the text "5" where the default is text
    elif isinstance(default, bool) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    else:
        typed = _resolve_type(value)
    if isinstance(default, bool) and not isinstance(typed, bool):
        raise InvalidInputError(
            f"`-p {name} {value}`: {name} is True or False in the notebook (default "
            f"{default_text}); give true or false."
        )
    number_default = isinstance(default, int | float) and not isinstance(default, bool)
    if number_default and (isinstance(typed, bool) or not isinstance(typed, int | float)):
        raise InvalidInputError(
            f"`-p {name} {value}`: {name} is a number in the notebook (default "
            f"{default_text}); give a number, e.g. `-p {name} {default_text}`."
        )
    return typed


def _check_out_dir(folder: Path, source: Path) -> Path:
    folder = folder.expanduser()
    if folder.exists() and not folder.is_dir():
        raise InvalidInputError(
            f"--out {folder} is a file; give a folder for the report (it is created if missing)."
        )
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InvalidInputError(
            f"--out {folder}: the folder cannot be created ({exc.strerror}); choose another folder."
        ) from None
    folder = folder.resolve()
    if not os.access(folder, os.W_OK | os.X_OK):
        raise InvalidInputError(
            f"--out {folder}: this user cannot write there; choose another folder."
        )
    if folder == source.parent:
        raise InvalidInputError(
            f"--out {folder} is the notebook's own folder, where the executed notebook would "
            f"replace {source.name}; choose another folder, e.g. --out reports/{source.stem}."
        )
    return folder


# --- the run


def _execute(
    source: Path, executed: Path, values: dict[str, Any], *, progress: bool, stale_page: Path
) -> None:
    """Run ``source`` into ``executed``: papermill saves after every cell into a hidden file
    beside it, which replaces ``executed`` once the run ends, complete or stopped by an error.
    Ctrl-C leaves nothing behind."""
    import papermill
    from nbclient.exceptions import DeadKernelError

    partial = executed.with_name(f".{executed.stem}.partial.ipynb")
    try:
        papermill.execute_notebook(
            str(source),
            str(partial),
            parameters=values,
            kernel_name="python3",
            language="python",
            progress_bar={"file": sys.stderr} if progress else False,
            start_timeout=KERNEL_START_TIMEOUT_S,
            # the kernel starts in the notebook's folder without moving this process there
            resources={"metadata": {"path": str(source.parent)}},
            kernel_manager_class=_this_python_kernel_manager(),
        )
    except papermill.PapermillExecutionError as exc:
        _keep_partial(partial, executed, stale_page)
        last_line = (str(exc.evalue).strip().splitlines() or [""])[-1]
        first_line = (str(exc.source).strip().splitlines() or [""])[0]
        raise ReportError(
            f"The notebook {source.name} stopped at cell In [{exc.exec_count}] "
            f"(`{first_line[:60]}`) with {exc.ename}"
            f"{': ' + last_line if last_line else ''}. The partial notebook, with the outputs up "
            f"to that cell and its traceback, is kept in {executed}; fix the cell or the "
            "parameters and run the report again."
        ) from None
    except DeadKernelError:
        _keep_partial(partial, executed, stale_page)
        raise ReportError(
            f"The kernel running {source.name} died (most often it ran out of memory). The "
            f"partial notebook is kept in {executed}; try smaller parameters or close other "
            "programs and run the report again."
        ) from None
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    _move_into_place(partial, executed)


def _keep_partial(partial: Path, executed: Path, stale_page: Path) -> None:
    """Put the partial notebook where the executed one goes, and remove an earlier page, so
    the folder never pairs this run's notebook with another run's page."""
    if partial.exists():
        _move_into_place(partial, executed)
    stale_page.unlink(missing_ok=True)


def _move_into_place(partial: Path, executed: Path) -> None:
    """Replace ``executed`` with ``partial`` at once, recording its final path in the notebook
    (papermill recorded the hidden one it wrote to)."""
    import nbformat

    notebook = nbformat.read(partial, as_version=4)
    notebook.metadata.get("papermill", {})["output_path"] = str(executed)
    atomic_write_text(executed, nbformat.writes(notebook) + "\n")
    partial.unlink()


def _this_python_kernel_manager() -> type:
    """A kernel manager whose ``python3`` is ipykernel in this interpreter, whatever other
    ``python3`` kernels are installed, started offline unless the environment says otherwise."""
    from jupyter_client import AsyncKernelManager
    from jupyter_client.kernelspec import KernelSpecManager
    from traitlets import default

    class ThisPythonKernelSpecs(KernelSpecManager):
        @default("kernel_dirs")
        def _no_installed_specs(self) -> list[str]:
            return []  # so only ipykernel's own spec for sys.executable is found

        def get_kernel_spec(self, kernel_name: str) -> Any:
            spec = super().get_kernel_spec(kernel_name)
            spec.env = {**spec.env, "HF_HUB_OFFLINE": os.environ.get("HF_HUB_OFFLINE", "1")}
            return spec

    class ThisPythonKernelManager(AsyncKernelManager):
        @default("kernel_spec_manager")
        def _this_python(self) -> KernelSpecManager:
            return ThisPythonKernelSpecs(data_dir=self.data_dir)

    return ThisPythonKernelManager


__all__ = [
    "PARAMETERS_TAG",
    "Report",
    "ReportError",
    "notebook_html",
    "notebook_parameters",
    "run_report",
]
