"""Benchmark variants, one module each, selected by name."""

from __future__ import annotations

from workbench.bench.variants.base import Variant, VariantError, lookup
from workbench.bench.variants.bf16 import Bf16
from workbench.bench.variants.fp32 import Fp32
from workbench.bench.variants.int8 import Int8, Int8Mlp
from workbench.bench.variants.int8_weight_only import Int8WeightOnly
from workbench.bench.variants.static_cache import StaticCache

VARIANTS: dict[str, Variant] = {
    v.name: v for v in (Fp32(), Bf16(), Int8(), Int8Mlp(), StaticCache(), Int8WeightOnly())
}


def get_variant(name: str) -> Variant:
    """The variant called ``name`` (see :data:`VARIANTS`), or an error listing the known ones."""
    return lookup(name, VARIANTS)


__all__ = ["VARIANTS", "Variant", "VariantError", "get_variant"]
