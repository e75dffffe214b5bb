"""int8 dynamic quantization of linear layers: int8 weights, activations quantized per call."""

from __future__ import annotations

import warnings

import torch

from workbench.bench.variants.base import Variant
from workbench.models.runners import ModelRunner


def quantize_linears(model: torch.nn.Module, names: set[str] | None = None) -> torch.nn.Module:
    """A copy of ``model`` with every ``nn.Linear`` (or those named) as a dynamic int8 layer."""
    spec = names if names is not None else {torch.nn.Linear}
    with warnings.catch_warnings():
        # torch.ao.quantization is deprecated in favour of torchao, which has no CPU wheels here.
        warnings.simplefilter("ignore")
        return torch.ao.quantization.quantize_dynamic(model, spec, dtype=torch.qint8, inplace=False)


class Int8(Variant):
    name = "int8"
    help = "int8 dynamic quantization of every linear layer"

    def apply(self, runner: ModelRunner) -> ModelRunner:
        # An output layer tied to the input embedding stays shared (and fp32): a quantized copy
        # would store that matrix twice.
        tied = runner.model.get_input_embeddings().weight
        names = {
            name
            for name, module in runner.model.named_modules()
            if isinstance(module, torch.nn.Linear) and module.weight is not tied
        }
        return runner.with_model(quantize_linears(runner.model, names), dtype="int8")


class Int8Mlp(Variant):
    name = "int8-mlp"
    help = "int8 dynamic quantization of the feed-forward layers only; attention stays fp32"

    def unsupported(self, runner: ModelRunner) -> str | None:
        if not _mlp_linears(runner.model):
            return "no feed-forward linear layers were recognised in its architecture"
        return super().unsupported(runner)

    def apply(self, runner: ModelRunner) -> ModelRunner:
        model = quantize_linears(runner.model, _mlp_linears(runner.model))
        return runner.with_model(model)  # dtype stays that of most bytes: float32


_MLP_PARTS = ("mlp.", "intermediate.dense", "output.dense", "feed_forward", "ffn")


def _mlp_linears(model: torch.nn.Module) -> set[str]:
    return {
        name
        for name, module in model.named_modules()
        if isinstance(module, torch.nn.Linear)
        and any(part in name for part in _MLP_PARTS)
        and "attention" not in name
    }
