"""ipywidgets panels over the headless ``workbench`` core."""

from __future__ import annotations

import ipywidgets as w

from widgets.benchmark_panel import BenchmarkPanel
from widgets.model_explorer import ModelExplorer


def workbench_dashboard(default_model: str = "minilm", load_now: bool = True) -> w.Tab:
    """The main dashboard: the model explorer and the benchmark panel, one tab each."""
    return w.Tab(
        children=[
            ModelExplorer(default_model=default_model, load_now=load_now),
            BenchmarkPanel(default_model=default_model),
        ],
        titles=("Models", "Benchmark"),
    )


__all__ = ["BenchmarkPanel", "ModelExplorer", "workbench_dashboard"]
