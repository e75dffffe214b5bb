"""ipywidgets panels over the headless ``workbench`` core.

The panels are imported when first asked for (``from widgets import DecisionPanel``), not with
the package: a published dashboard that shows one panel then does not import torch and the
model stack for the others (about 5 s of every kernel's start on 2 cores).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import ipywidgets as w

    from widgets.benchmark_panel import BenchmarkPanel
    from widgets.decision_panel import DecisionPanel
    from widgets.eval_panel import EvalPanel
    from widgets.federated_panel import FederatedPanel
    from widgets.model_explorer import ModelExplorer

#: Each panel and the module it lives in.
_PANELS = {
    "BenchmarkPanel": "widgets.benchmark_panel",
    "DecisionPanel": "widgets.decision_panel",
    "EvalPanel": "widgets.eval_panel",
    "FederatedPanel": "widgets.federated_panel",
    "ModelExplorer": "widgets.model_explorer",
}


def __getattr__(name: str) -> Any:
    if name in _PANELS:
        return getattr(importlib.import_module(_PANELS[name]), name)
    raise AttributeError(f"module 'widgets' has no attribute {name!r}")


def workbench_dashboard(default_model: str = "minilm", load_now: bool = True) -> w.Tab:
    """The main dashboard: the model explorer, the benchmark, quality on a task, the decision
    and the federated panel, a tab each.

    The decision and federated panels build in about 0.1 s (they read their catalogs; nothing runs
    until their button is pressed), so they are built with the others rather than when their tab
    is first opened.
    """
    import ipywidgets as w

    from widgets.benchmark_panel import BenchmarkPanel
    from widgets.decision_panel import DecisionPanel
    from widgets.eval_panel import EvalPanel
    from widgets.federated_panel import FederatedPanel
    from widgets.model_explorer import ModelExplorer

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
