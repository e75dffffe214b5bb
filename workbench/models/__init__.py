"""Open models: the catalog, safe loading from local sources, and one runner interface."""

from workbench.models.catalog import CatalogEntry, get_entry, load_catalog
from workbench.models.config import LoadOptions
from workbench.models.loader import load_model
from workbench.models.runners import (
    EmbeddingRunner,
    Generation,
    GenerationRunner,
    ModelInfo,
    ModelRunner,
)

__all__ = [
    "CatalogEntry",
    "EmbeddingRunner",
    "Generation",
    "GenerationRunner",
    "LoadOptions",
    "ModelInfo",
    "ModelRunner",
    "get_entry",
    "load_catalog",
    "load_model",
]
