"""Engines: the ways the workbench runs a model, chosen by name.

``transformers`` (the default) runs every model the loader knows, in PyTorch;
``llama.cpp`` runs a text-generation model's GGUF file through llama-cpp-python, with llama.cpp's
own quantisation types as variants; ``onnxruntime`` runs an embedding model exported to ONNX, in
float32 or dynamic int8. Every engine's runner has the same interface as the transformers runner
of its task (:class:`~workbench.models.runners.GenerationRunner`'s ``generate``/``stream``,
:class:`~workbench.models.runners.EmbeddingRunner`'s ``embed``). An engine that
is an optional extra fails, when chosen, with the exact install command
(:class:`~workbench.models.engines.base.MissingExtraError`).

This module is light: importing it imports neither torch nor an engine.
"""

from __future__ import annotations

from typing import Any

from workbench.models.engines.base import PACKAGE, Engine, MissingExtraError, lookup

DEFAULT_ENGINE = "transformers"
LLAMA_CPP = "llama.cpp"
ONNXRUNTIME = "onnxruntime"

ENGINES: dict[str, Engine] = {
    DEFAULT_ENGINE: Engine(
        name=DEFAULT_ENGINE,
        help="PyTorch through Hugging Face transformers (every model; the quality reference)",
        tasks=("embeddings", "text-generation"),
    ),
    LLAMA_CPP: Engine(
        name=LLAMA_CPP,
        help="llama.cpp through llama-cpp-python, on a chat model's GGUF file",
        tasks=("text-generation",),
        module="llama_cpp",
        extra="llama-cpp",
        pip_name="llama-cpp-python",
        build_note=(
            "; it compiles llama.cpp from source, about 10 minutes on 2 cores the first time "
            "and seconds after that, from pip's wheel cache"
        ),
        variants={
            "q4_1": "llama.cpp on the GGUF file's 4-bit Q4_1 weights (the file as shipped)",
            "q8_0": "llama.cpp on 8-bit Q8_0 weights, made once from the GGUF file by "
            "llama.cpp's own quantizer and cached (it keeps the Q4_1 file's rounding)",
            "f16": "llama.cpp on float16 weights, made once from the GGUF file and cached",
        },
        default_variant="q4_1",
    ),
    ONNXRUNTIME: Engine(
        name=ONNXRUNTIME,
        help="ONNX Runtime on an embedding model exported to ONNX (exported once and cached)",
        tasks=("embeddings",),
        module="onnxruntime",
        also_modules=("onnx",),
        extra="onnx",
        pip_name="onnxruntime (with onnx)",
        variants={
            "onnx-fp32": "ONNX Runtime on the model exported to ONNX in float32 (torch.onnx)",
            "onnx-int8": "ONNX Runtime on that export with dynamic int8 weights "
            "(onnxruntime.quantization.quantize_dynamic, per channel, weight matrices only)",
        },
        default_variant="onnx-fp32",
    ),
}


def get_engine(name: str, *, flag: str = "--engines") -> Engine:
    """The engine called ``name`` (see :data:`ENGINES`), or an error listing the known ones."""
    return lookup(name, ENGINES, flag=flag)


def engine_of_variant(variant: str) -> str:
    """The engine a variant name belongs to: the one that lists it, else the default engine."""
    for engine in ENGINES.values():
        if variant in engine.variants:
            return engine.name
    return DEFAULT_ENGINE


def require_engine(name: str, *, flag: str = "--engine") -> Engine:
    """The engine called ``name``, its optional dependency imported.

    Raises
    ------
    InvalidInputError
        For an unknown engine.
    MissingExtraError
        When its extra is not installed, with the exact install command.
    """
    engine = get_engine(name, flag=flag)
    engine.require()
    return engine


def load_engine_model(name: str, engine: str = DEFAULT_ENGINE, **options: Any) -> Any:
    """Load ``name`` to run on ``engine``: a runner with the usual interface.

    Parameters
    ----------
    name
        A catalog alias or path, as for :func:`workbench.models.load_model`.
    engine
        ``"transformers"``, ``"llama.cpp"`` or ``"onnxruntime"``.
    **options
        For transformers, :class:`~workbench.models.LoadOptions` fields; for llama.cpp,
        ``variant`` (default ``q4_1``) and ``threads``; for onnxruntime, ``variant`` (default
        ``onnx-fp32``) and ``threads``.

    Raises
    ------
    MissingExtraError
        When the engine's extra is not installed (checked before anything loads).
    """
    chosen = require_engine(engine)
    if chosen.name == DEFAULT_ENGINE:
        from workbench.models.loader import load_model

        return load_model(name, **options)
    if chosen.name == ONNXRUNTIME:
        from workbench.models.engines.onnx_runtime import load_onnxruntime

        return load_onnxruntime(name, **options)
    from workbench.models.engines.llama_cpp import load_llama_cpp

    return load_llama_cpp(name, **options)


__all__ = [
    "DEFAULT_ENGINE",
    "ENGINES",
    "LLAMA_CPP",
    "ONNXRUNTIME",
    "PACKAGE",
    "Engine",
    "MissingExtraError",
    "engine_of_variant",
    "get_engine",
    "load_engine_model",
    "require_engine",
]
