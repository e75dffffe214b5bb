"""bf16: weights and activations in bfloat16, half the memory traffic of fp32."""

from __future__ import annotations

import copy

import torch

from workbench.bench.variants.base import Variant
from workbench.models.runners import ModelRunner


class Bf16(Variant):
    name = "bf16"
    help = "bfloat16 weights: half the bytes; fast only on CPUs with bf16 instructions"

    def apply(self, runner: ModelRunner) -> ModelRunner:
        return runner.with_model(copy.deepcopy(runner.model).to(torch.bfloat16))
