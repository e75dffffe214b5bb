"""`workbench report`: a notebook run with papermill, written executed and as a page without code."""

from __future__ import annotations

import json
import re

import nbformat
import pytest
from conftest import REPO_ROOT

from workbench.cli import main

QUICKSTART = REPO_ROOT / "notebooks" / "00_quickstart.ipynb"
# The quickstart's smallest run: 4 simulated clients, one federated round.
SMALL = ["-p", "FED_NUM_CLIENTS", "4", "-p", "FED_ROUNDS", "1"]
# Tags and attributes through which a page would fetch something.
LOADING = re.compile(r"<(?:script|link|img|iframe)\b[^>]*\b(?:src|href)\s*=\s*[\"']?([^\"'\s>]+)")


@pytest.fixture(scope="module")
def quickstart_report(tmp_path_factory):
    """The quickstart run once through the CLI: (exit status, folder, its --json record)."""
    out = tmp_path_factory.mktemp("report")
    record = out.parent / f"{out.name}.json"
    status = main(["report", str(QUICKSTART), *SMALL, "--out", str(out), "--json", str(record)])
    return status, out, json.loads(record.read_text()) if record.exists() else None


def _failing_notebook(folder):
    """A notebook whose third code cell raises; its parameters cell sets N."""
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {"name": "python3", "language": "python"}
    parameters = nbformat.v4.new_code_cell("N = 1")
    parameters.metadata["tags"] = ["parameters"]
    notebook.cells = [
        parameters,
        nbformat.v4.new_code_cell("doubled = N * 2\nprint('before the failure', doubled)"),
        nbformat.v4.new_code_cell("raise ValueError(f'no answer for {doubled}')"),
        nbformat.v4.new_code_cell("print('never reached')"),
    ]
    path = folder / "fails.ipynb"
    nbformat.write(notebook, path)
    return path


@pytest.mark.integration
def test_quickstart_report_writes_executed_notebook_with_parameters(quickstart_report):
    """The executed quickstart has outputs in every code cell and the parameters given."""
    status, out, record = quickstart_report
    assert status == 0

    executed = nbformat.read(out / "00_quickstart.ipynb", as_version=4)

    code = [c for c in executed.cells if c.cell_type == "code"]
    injected = [c for c in code if "injected-parameters" in c.metadata.get("tags", [])]
    assert len(injected) == 1
    assert "FED_NUM_CLIENTS = 4" in injected[0].source and "FED_ROUNDS = 1" in injected[0].source
    assert executed.metadata.papermill.parameters == {"FED_NUM_CLIENTS": 4, "FED_ROUNDS": 1}
    assert all(c.execution_count for c in code)
    knobs = {"parameters", "injected-parameters"}
    assert all(c.outputs for c in code if not knobs & set(c.metadata.get("tags", [])))
    errors = [o for c in code for o in c.outputs if o.output_type == "error"]
    assert errors == []
    assert record["parameters"] == {"FED_NUM_CLIENTS": 4, "FED_ROUNDS": 1}
    assert record["notebook"] == str(out / "00_quickstart.ipynb")
    assert record["seconds"] > 0


@pytest.mark.integration
def test_quickstart_page_shows_outputs_but_no_code(quickstart_report):
    """The page has the Markdown and the outputs, and none of the code or its prompts."""
    status, out, record = quickstart_report
    assert status == 0
    assert record["html"] == str(out / "00_quickstart.html")

    page = (out / "00_quickstart.html").read_text()

    assert "Quickstart: where should this AI run?" in page  # Markdown
    assert "projected_p50_ms" in page and "central baseline on pooled data" in page  # outputs
    assert "from workbench.models import load_model" not in page
    assert "FED_NUM_CLIENTS = 4" not in page  # the injected cell is code too
    shown = r'class="[^"]*\bjp-(InputArea-editor|InputPrompt|OutputPrompt)\b'
    assert re.search(shown, page) is None  # no code editor, no In [n] / Out [n]


@pytest.mark.integration
def test_quickstart_page_loads_nothing_from_the_network(quickstart_report):
    """No script, stylesheet or image of the page comes from an http(s) address."""
    status, out, _ = quickstart_report
    assert status == 0

    page = (out / "00_quickstart.html").read_text()

    loaded = LOADING.findall(page)
    assert [url for url in loaded if re.match(r"(?i)(https?:)?//", url)] == []
    assert "require.min.js" not in page and "MathJax.js" not in page


def test_failing_cell_names_the_cell_and_keeps_the_partial_notebook(tmp_path, capsys):
    """A cell that raises exits 2 naming the cell and the error, and keeps the partial notebook."""
    # Prepare
    notebook = _failing_notebook(tmp_path)
    out = tmp_path / "out"

    # Execute
    status = main(["report", str(notebook), "-p", "N", "3", "--out", str(out)])

    # Assert
    message = capsys.readouterr().err
    assert status == 2
    # In [1] the parameters cell, In [2] the injected one, In [3] the print, In [4] the raise
    assert "In [4]" in message and "ValueError: no answer for 6" in message
    assert str(out / "fails.ipynb") in message
    partial = nbformat.read(out / "fails.ipynb", as_version=4)
    outputs = [o for c in partial.cells if c.cell_type == "code" for o in c.outputs]
    assert any("before the failure 6" in o.get("text", "") for o in outputs)
    assert any(o.output_type == "error" and o.ename == "ValueError" for o in outputs)
    assert not any("never reached" in o.get("text", "") for o in outputs)
    assert sorted(p.name for p in out.iterdir()) == ["fails.ipynb"]  # no page, no temporary file


def test_unknown_parameter_is_refused_before_running(tmp_path, capsys):
    """A name the parameters cell does not hold exits 2, listing the accepted names, and writes
    nothing."""
    out = tmp_path / "out"

    status = main(["report", str(QUICKSTART), "-p", "FED_ROUND", "1", "--out", str(out)])

    message = capsys.readouterr().err
    assert status == 2
    assert "FED_ROUND" in message
    assert "EMBEDDING_MODEL, DEVICE, SCENARIO, FED_NUM_CLIENTS, FED_ROUNDS" in message
    assert not out.exists()


def test_text_for_a_number_parameter_is_refused_before_running(tmp_path, capsys):
    """A number parameter given text exits 2 naming the parameter, and writes nothing."""
    out = tmp_path / "out"

    status = main(["report", str(QUICKSTART), "-p", "FED_ROUNDS", "three", "--out", str(out)])

    message = capsys.readouterr().err
    assert status == 2
    assert "FED_ROUNDS" in message and "give a number" in message
    assert not out.exists()


def test_out_in_the_notebooks_own_folder_is_refused(capsys):
    """--out in the notebook's folder exits 2: the executed notebook would replace the source."""
    status = main(["report", str(QUICKSTART), "--out", str(QUICKSTART.parent)])

    message = capsys.readouterr().err
    assert status == 2
    assert "notebook's own folder" in message
