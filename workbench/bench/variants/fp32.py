"""fp32 eager: the model as loaded, the reference every other variant is compared with."""

from __future__ import annotations

from workbench.bench.variants.base import Variant
from workbench.models.runners import ModelRunner


class Fp32(Variant):
    name = "fp32"
    help = "float32 weights, eager PyTorch: the quality reference"

    def apply(self, runner: ModelRunner) -> ModelRunner:
        return runner
