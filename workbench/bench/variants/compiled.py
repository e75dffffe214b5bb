"""A compiled decode: a static (pre-allocated) KV cache and the model's forward pass compiled by
``torch.compile`` (inductor), so each new token runs one fused graph instead of hundreds of
Python-level module calls. On the CPU inductor generates C++ and needs a compiler on the PATH;
without one the variant says so instead of running.

``compiled`` does this to the fp32 model, ``int8-compiled`` to the int8 weight-only one. The
first call compiles (10-40 s on 2 cores), and so does a call whose cache size (prompt plus new
tokens) is new: it pays off in benchmarks and servers that repeat a shape, not for a one-off
prompt.
"""

from __future__ import annotations

import shutil
from typing import Any

from transformers.generation.configuration_utils import CompileConfig

from workbench.bench.variants.base import Variant
from workbench.bench.variants.int8_weight_only import Int8WeightOnly
from workbench.models.runners import ModelRunner

COMPILERS = ("g++", "c++", "clang++")


def compiler_missing() -> str | None:
    """Why inductor cannot compile here (no C++ compiler on the PATH), or None."""
    if any(shutil.which(name) for name in COMPILERS):
        return None
    return (
        "torch.compile on the CPU needs a C++ compiler and none of "
        f"{', '.join(COMPILERS)} is on the PATH (on Debian: sudo apt-get install g++)"
    )


def compile_options() -> dict[str, Any]:
    """The ``generate`` settings of a compiled decode: a static cache, and a compile config that
    transformers honours on the CPU too (by default it compiles only on accelerators)."""
    config = CompileConfig(fullgraph=True, dynamic=False, mode="default")
    config._compile_all_devices = True
    return {"cache_implementation": "static", "compile_config": config}


class Compiled(Variant):
    name = "compiled"
    help = (
        "fp32 with a static KV cache and the forward pass compiled by torch.compile (needs a "
        "C++ compiler; the first call compiles) (generation only)"
    )
    tasks = ("text-generation",)

    def unsupported(self, runner: ModelRunner) -> str | None:
        return super().unsupported(runner) or compiler_missing()

    def apply(self, runner: ModelRunner) -> ModelRunner:
        clone = runner.with_model(runner.model)
        clone.generate_options = self.generate_kwargs()  # quality drift decodes this way too
        return clone

    def generate_kwargs(self) -> dict[str, Any]:
        return compile_options()


class Int8Compiled(Compiled):
    name = "int8-compiled"
    help = (
        "int8 weight-only with a static KV cache and the forward pass compiled by torch.compile "
        "(needs a C++ compiler; the first call compiles) (generation only)"
    )

    def unsupported(self, runner: ModelRunner) -> str | None:
        return super().unsupported(runner) or Int8WeightOnly().unsupported(runner)

    def apply(self, runner: ModelRunner) -> ModelRunner:
        clone = Int8WeightOnly().apply(runner)
        clone.generate_options = self.generate_kwargs()
        return clone
