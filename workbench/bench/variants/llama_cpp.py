"""llama.cpp's quantisation types as benchmark variants of a GGUF chat model.

Applying one loads the model's GGUF file (or the copy of that type made from it and cached) into
llama.cpp; the runner it gives has the generation interface, so the sweep measures and compares
it like any other variant.
"""

from __future__ import annotations

from pathlib import Path

from workbench.bench.variants.base import Variant
from workbench.models.engines import ENGINES, LLAMA_CPP
from workbench.models.runners import ModelRunner

_ENGINE = ENGINES[LLAMA_CPP]


class LlamaCppVariant(Variant):
    """One llama.cpp quantisation type (``q4_1``, ``q8_0``, ``f16``) of a GGUF chat model."""

    tasks = ("text-generation",)
    engine = LLAMA_CPP

    def __init__(self, name: str) -> None:
        self.name = name  # type: ignore[misc]  # one class, one instance per type
        self.help = _ENGINE.variants[name]  # type: ignore[misc]

    def unsupported(self, runner: ModelRunner) -> str | None:
        reason = super().unsupported(runner)
        if reason:
            return reason
        if not runner.info.path.endswith(".gguf") or not Path(runner.info.path).is_file():
            return (
                f"llama.cpp runs GGUF files and {runner.info.name} was loaded from "
                f"{runner.info.path or 'a config'}"
            )
        return None

    def apply(self, runner: ModelRunner) -> ModelRunner:
        from workbench.models.engines.llama_cpp import load_llama_cpp

        return load_llama_cpp(runner.info.path, self.name, info=runner.info)


LLAMA_CPP_VARIANTS: dict[str, Variant] = {name: LlamaCppVariant(name) for name in _ENGINE.variants}

__all__ = ["LLAMA_CPP_VARIANTS", "LlamaCppVariant"]
