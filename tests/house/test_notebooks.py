"""The notebooks run top to bottom in a real kernel and are committed without outputs."""

from __future__ import annotations

import json

import nbformat
import pytest
from nbclient import NotebookClient

pytestmark = pytest.mark.integration

NOTEBOOKS = [
    "00_quickstart.ipynb",
    "01_open_models.ipynb",
    "02_local_benchmark.ipynb",
    "03_local_vs_cloud.ipynb",
    "04_federated_edge.ipynb",
    "05_quality.ipynb",
    "dashboard.ipynb",
]


def _text_outputs(notebook) -> str:
    parts = []
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            parts.append(output.get("text", ""))
            parts.append(output.get("data", {}).get("text/plain", ""))
    return "\n".join(parts)


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_is_committed_without_outputs(repo_root, name):
    """A committed notebook carries no outputs or execution counts."""
    notebook = json.loads((repo_root / "notebooks" / name).read_text())
    code = [c for c in notebook["cells"] if c["cell_type"] == "code"]
    assert code
    assert all(not c["outputs"] and c["execution_count"] is None for c in code)
    assert "parameters" in code[0]["metadata"].get("tags", [])


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_executes_top_to_bottom(repo_root, name, smollm2):
    """Every cell runs without error (the smollm2 fixture has filled the GGUF cache)."""
    path = repo_root / "notebooks" / name
    notebook = nbformat.read(path, as_version=4)

    NotebookClient(
        notebook,
        timeout=600,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
    ).execute()

    errors = [
        o for c in notebook.cells for o in c.get("outputs", []) if o["output_type"] == "error"
    ]
    assert errors == []
    if name == "00_quickstart.ipynb":
        text = _text_outputs(notebook)
        assert "projected_p50_ms" in text and "monthly_usd" in text  # projected, then priced
        assert "central baseline on pooled data" in text  # and a federated run finished
    if name == "01_open_models.ipynb":
        text = _text_outputs(notebook)
        assert "allow_pickle=True" in text  # the pickle refusal is shown, then the opt-in works
        assert "1011360" in text
        assert "Did you mean 'minilm'" in text
    if name == "02_local_benchmark.ipynb":
        text = _text_outputs(notebook)
        assert "cosine_min" in text and "tpot_ms" in text and "projected_tokens_per_s" in text
    if name == "03_local_vs_cloud.ipynb":
        text = _text_outputs(notebook)
        assert "local-only" in text and "cloud-only" in text  # the routing policies were compared
    if name == "04_federated_edge.ipynb":
        text = _text_outputs(notebook)
        assert "fedmedian" in text and "epsilon" in text  # strategies and privacy were compared
    if name == "05_quality.ipynb":
        text = _text_outputs(notebook)
        assert "width (points)" in text  # the interval widths were tabulated
        assert "Wilson interval" in text and "reference" in text  # an eval ran, wrong items shown
