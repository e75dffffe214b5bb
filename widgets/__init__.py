"""ipywidgets panels over the headless ``workbench`` core."""

from __future__ import annotations

import ipywidgets as w

from widgets.benchmark_panel import BenchmarkPanel
from widgets.decision_panel import DecisionPanel
from widgets.model_explorer import ModelExplorer


def workbench_dashboard(default_model: str = "minilm", load_now: bool = True) -> w.Tab:
    """The main dashboard: the model explorer, the benchmark and the decision panel, a tab each.

    The decision panel builds in about 0.1 s (it only reads its scenario until Compare is
    pressed), so it is built with the others rather than when its tab is first opened.
    """
    return w.Tab(
        children=[
            ModelExplorer(default_model=default_model, load_now=load_now),
            BenchmarkPanel(default_model=default_model),
            DecisionPanel(),
        ],
        titles=("Models", "Benchmark", "Local vs cloud"),
    )


__all__ = ["BenchmarkPanel", "DecisionPanel", "ModelExplorer", "workbench_dashboard"]
