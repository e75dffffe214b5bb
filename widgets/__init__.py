"""ipywidgets panels over the headless ``workbench`` core."""

from __future__ import annotations

import ipywidgets as w

from widgets.benchmark_panel import BenchmarkPanel
from widgets.decision_panel import DecisionPanel
from widgets.eval_panel import EvalPanel
from widgets.federated_panel import FederatedPanel
from widgets.model_explorer import ModelExplorer


def workbench_dashboard(default_model: str = "minilm", load_now: bool = True) -> w.Tab:
    """The main dashboard: the model explorer, the benchmark, quality on a task, the decision
    and the federated panel, a tab each.

    The decision and federated panels build in about 0.1 s (they read their catalogs; nothing runs
    until their button is pressed), so they are built with the others rather than when their tab
    is first opened.
    """
    return w.Tab(
        children=[
            ModelExplorer(default_model=default_model, load_now=load_now),
            BenchmarkPanel(default_model=default_model),
            EvalPanel(),
            DecisionPanel(),
            FederatedPanel(),
        ],
        titles=("Models", "Benchmark", "Quality", "Local vs cloud", "Federated"),
    )


__all__ = [
    "BenchmarkPanel",
    "DecisionPanel",
    "EvalPanel",
    "FederatedPanel",
    "ModelExplorer",
    "workbench_dashboard",
]
