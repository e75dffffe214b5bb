"""Benchmark variants, one module each, selected by name."""

from __future__ import annotations

from workbench.bench.variants.base import Variant, VariantError, lookup
from workbench.bench.variants.bf16 import Bf16
from workbench.bench.variants.compiled import Compiled, Int8Compiled
from workbench.bench.variants.fp32 import Fp32
from workbench.bench.variants.int8 import Int8, Int8Mlp
from workbench.bench.variants.int8_weight_only import Int8WeightOnly
from workbench.bench.variants.llama_cpp import LLAMA_CPP_VARIANTS
from workbench.bench.variants.onnx_runtime import ONNX_VARIANTS
from workbench.bench.variants.static_cache import StaticCache

# The transformers engine's variants; other engines' variants are in ENGINE_VARIANTS.
VARIANTS: dict[str, Variant] = {
    v.name: v
    for v in (
        Fp32(),
        Bf16(),
        Int8(),
        Int8Mlp(),
        StaticCache(),
        Int8WeightOnly(),
        Compiled(),
        Int8Compiled(),
    )
}
ENGINE_VARIANTS: dict[str, dict[str, Variant]] = {
    "transformers": VARIANTS,
    "llama.cpp": LLAMA_CPP_VARIANTS,
    "onnxruntime": ONNX_VARIANTS,
}


def get_variant(name: str) -> Variant:
    """The variant called ``name`` of any engine (see :data:`ENGINE_VARIANTS`), or an error
    listing the known ones."""
    return lookup(
        name, {k: v for variants in ENGINE_VARIANTS.values() for k, v in variants.items()}
    )


__all__ = ["ENGINE_VARIANTS", "VARIANTS", "Variant", "VariantError", "get_variant"]
