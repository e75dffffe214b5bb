"""ipywidgets panels over the headless ``workbench`` core."""

from widgets.model_explorer import ModelExplorer

__all__ = ["ModelExplorer"]
