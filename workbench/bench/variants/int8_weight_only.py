"""int8 weight-only: int8 weights with one scale per output channel, bfloat16 activations.

Decoding one token at a time is limited by reading the weights, not by arithmetic, so storing
each linear layer's weights in one byte (a quarter of fp32, half of bf16) speeds it up. Unlike
``int8`` (dynamic quantization), activations are never quantized: they stay bfloat16, and
PyTorch's ``_weight_int8pack_mm`` kernel converts the weights on the fly.
"""

from __future__ import annotations

import copy

import torch

from workbench.bench.variants.base import Variant
from workbench.models.runners import ModelRunner

# PyTorch's AVX-512 kernel reads 16 values of a row at a time with aligned loads (AVX2: 8), so
# rows must hold a multiple of 16 values and start on a 32-byte boundary; other shapes give
# wrong numbers or crash, so those layers stay bfloat16 ``Linear``.
K_MULTIPLE = 16
ALIGN_BYTES = 32


class Int8WeightOnlyLinear(torch.nn.Module):
    """A ``Linear`` whose weight is int8 with one scale per output channel (symmetric, round to
    nearest); inputs and outputs keep the activation dtype."""

    def __init__(self, linear: torch.nn.Linear, dtype: torch.dtype = torch.bfloat16) -> None:
        super().__init__()
        if linear.in_features % K_MULTIPLE:
            raise ValueError(
                f"`in_features` must be a multiple of {K_MULTIPLE} for the int8 kernel, "
                f"got {linear.in_features}."
            )
        self.in_features = linear.in_features
        self.out_features = linear.out_features
        weight = linear.weight.detach().float()
        scales = weight.abs().amax(dim=1).clamp(min=1e-12) / 127.0
        quantized = torch.round(weight / scales[:, None]).clamp(-127, 127).to(torch.int8)
        self.register_buffer("weight_int8", quantized)
        self.register_buffer("scales", scales.to(dtype))
        bias = linear.bias
        self.register_buffer("bias", None if bias is None else bias.detach().to(dtype).clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        flat = x.reshape(-1, self.in_features).to(self.scales.dtype).contiguous()
        # The kernel's vector loads need aligned rows. A compiled graph cannot read addresses;
        # inductor allocates its buffers aligned (64 bytes) and lowers the kernel itself.
        if not torch.compiler.is_compiling() and flat.data_ptr() % ALIGN_BYTES:
            flat = flat.clone()
        out = torch.ops.aten._weight_int8pack_mm(flat, self.weight_int8, self.scales)
        if self.bias is not None:
            out = out + self.bias
        return out.reshape(*x.shape[:-1], self.out_features)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, int8 weights"


def int8_weight_only(
    model: torch.nn.Module, dtype: torch.dtype = torch.bfloat16
) -> torch.nn.Module:
    """A copy of ``model`` in ``dtype`` with its ``nn.Linear`` layers as int8 weight-only ones.

    Layers whose input size is not a multiple of 16 stay ``nn.Linear`` in ``dtype``.
    """
    copied = copy.deepcopy(model).to(dtype)
    for parent in list(copied.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, torch.nn.Linear) and child.in_features % K_MULTIPLE == 0:
                # A tied output layer gets its own int8 matrix: the embedding lookup stays bf16.
                setattr(parent, name, Int8WeightOnlyLinear(child, dtype))
    return copied


class Int8WeightOnly(Variant):
    name = "int8-weight-only"
    help = (
        "int8 weights (one scale per output channel) with bfloat16 activations: a quarter of "
        "fp32's weight bytes for token-by-token decoding (generation only)"
    )
    # For embeddings, which run whole batches at once, the kernel is slower than plain bf16.
    tasks = ("text-generation",)

    def unsupported(self, runner: ModelRunner) -> str | None:
        reason = super().unsupported(runner)
        if reason:
            return reason
        if not hasattr(torch.ops.aten, "_weight_int8pack_mm"):
            return f"this PyTorch ({torch.__version__}) has no _weight_int8pack_mm kernel"
        if not any(
            isinstance(m, torch.nn.Linear) and m.in_features % K_MULTIPLE == 0
            for m in runner.model.modules()
        ):
            return f"it has no linear layers whose input size is a multiple of {K_MULTIPLE}"
        return None

    def apply(self, runner: ModelRunner) -> ModelRunner:
        return runner.with_model(int8_weight_only(runner.model), dtype="int8")
