"""ONNX Runtime's variants of an embedding model: the ONNX export in float32 and in dynamic int8.

Applying one exports the reference runner's model to ONNX (or finds the export in the cache) and
opens it in onnxruntime; the runner it gives has the embedding interface, so the sweep measures
and compares it like any other variant, against transformers fp32.
"""

from __future__ import annotations

from workbench.bench.variants.base import Variant
from workbench.models.engines import ENGINES, ONNXRUNTIME
from workbench.models.runners import ModelRunner

_ENGINE = ENGINES[ONNXRUNTIME]


class OnnxVariant(Variant):
    """One ONNX Runtime variant (``onnx-fp32``, ``onnx-int8``) of an embedding model."""

    tasks = ("embeddings",)
    engine = ONNXRUNTIME

    def __init__(self, name: str) -> None:
        self.name = name  # type: ignore[misc]  # one class, one instance per variant
        self.help = _ENGINE.variants[name]  # type: ignore[misc]

    def apply(self, runner: ModelRunner) -> ModelRunner:
        from workbench.models.engines.onnx_runtime import load_onnxruntime

        return load_onnxruntime(runner.info.name, self.name, reference=runner)


ONNX_VARIANTS: dict[str, Variant] = {name: OnnxVariant(name) for name in _ENGINE.variants}

__all__ = ["ONNX_VARIANTS", "OnnxVariant"]
