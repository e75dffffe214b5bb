"""A static (pre-allocated) KV cache for generation: fixed shapes, no cache growth per token."""

from __future__ import annotations

from typing import Any

from workbench.bench.variants.base import Variant
from workbench.models.runners import ModelRunner


class StaticCache(Variant):
    name = "static-cache"
    help = "fp32 with a pre-allocated KV cache (generation only)"
    tasks = ("text-generation",)

    def apply(self, runner: ModelRunner) -> ModelRunner:
        clone = runner.with_model(runner.model)
        clone.generate_options = self.generate_kwargs()  # quality drift decodes this way too
        return clone

    def generate_kwargs(self) -> dict[str, Any]:
        return {"cache_implementation": "static"}
