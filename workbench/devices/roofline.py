"""The roofline model: what one step computes and moves, and how long a machine needs for it.

A :class:`Workload` counts the FLOPs and bytes of one forward step. A machine's roofline time
for it is ``max(FLOPs / peak, bytes / bandwidth)``; the host's roofline time divided by the
measured time is the host *efficiency*, how close the software came to the hardware limit.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

from workbench.devices.catalog import Device, normalize_dtype
from workbench.devices.config import MEMORY_OVERHEAD, PHASES, TASKS
from workbench.devices.peak import HostPeak
from workbench.kit import checks

# Bytes per activation element. int8 variants quantize weights only (dynamic quantization keeps
# activations in float32); their weight bytes come from ``weight_bytes`` as measured.
_ACTIVATION_BYTES = {"float32": 4, "bfloat16": 2, "float16": 2, "int8": 4}

# The whole-number fields of a workload and their minimum; the shape fields may be None.
_COUNTS = {"params": 1, "weight_bytes": 1, "batch": 1, "seq_len": 1, "output_tokens": 0}
_SHAPE = ("num_layers", "hidden_size")


@dataclass(frozen=True)
class Workload:
    """One measured benchmark point in plain numbers: what one forward step computes and moves.

    ``phase`` says which step: ``forward`` for embeddings (one call embeds ``batch`` texts of
    ``seq_len`` tokens), ``prefill`` (the whole prompt of ``seq_len`` tokens, which ends at the
    first token) or ``decode`` (one further token per sequence) for text generation; it
    defaults to ``forward`` and ``decode`` respectively. ``weight_bytes`` is the size of the
    weights in the variant's dtype as loaded. ``num_layers`` and ``hidden_size``, when both
    are known, add attention and activation terms.
    """

    task: str
    params: int
    weight_bytes: int
    dtype: str
    batch: int = 1
    seq_len: int = 1
    output_tokens: int = 0
    phase: str = ""
    num_layers: int | None = None
    hidden_size: int | None = None

    def __post_init__(self) -> None:
        checks.choice("task", self.task, TASKS)
        object.__setattr__(self, "dtype", normalize_dtype(self.dtype))
        phase = self.phase or PHASES[self.task][-1]
        checks.choice("phase", phase, PHASES[self.task], owner=f"task {self.task}")
        object.__setattr__(self, "phase", phase)
        for name, minimum in _COUNTS.items():
            object.__setattr__(self, name, checks.whole(name, getattr(self, name), minimum))
        for name in _SHAPE:
            if getattr(self, name) is not None:
                object.__setattr__(self, name, checks.whole(name, getattr(self, name), 1))

    @property
    def _has_shape(self) -> bool:
        return self.num_layers is not None and self.hidden_size is not None

    @property
    def context_tokens(self) -> float:
        """Tokens a decode step attends to on average: the prompt plus half the output."""
        return self.seq_len + self.output_tokens / 2

    def flops(self) -> float:
        """Floating-point (or int8) operations of one step, counting a multiply-add as two.

        * ``forward`` and ``prefill``: ``2 * params * batch * seq_len``, plus attention
          ``4 * num_layers * batch * seq_len**2 * hidden_size`` when the shape is known
          (scores and weighted sum; causal masking is ignored).
        * ``decode`` (one new token per sequence): ``2 * params * batch``, plus attention
          ``4 * num_layers * batch * context * hidden_size`` with ``context`` the average
          attended length :attr:`context_tokens`.

        ``params`` includes embedding tables, which are looked up rather than multiplied, so
        this overcounts small models; the same count on host and device cancels in a
        compute-bound projection.
        """
        if self.phase == "decode":
            dense = 2.0 * self.params * self.batch
            attention = 4.0 * self.batch * self.context_tokens
        else:
            dense = 2.0 * self.params * self.batch * self.seq_len
            attention = 4.0 * self.batch * self.seq_len**2
        if not self._has_shape:
            return dense
        return dense + attention * self.num_layers * self.hidden_size

    def bytes_moved(self) -> float:
        """Bytes read from or written to memory in one step, roughly.

        The weights are read once per step (``weight_bytes``). When the shape is known:

        * ``forward`` and ``prefill`` add the hidden state written and read once per layer,
          ``2 * num_layers * batch * seq_len * hidden_size * a``;
        * ``decode`` adds reading the KV cache, ``2 * num_layers * batch * context *
          hidden_size * a`` (keys and values as wide as the hidden state, so grouped-query
          attention is overcounted).

        ``a`` is the activation element size: 2 bytes for bfloat16/float16, else 4 (int8
        variants quantize weights, not activations).
        """
        if not self._has_shape:
            return float(self.weight_bytes)
        tokens = self.context_tokens if self.phase == "decode" else self.seq_len
        element = _ACTIVATION_BYTES[self.dtype]
        activations = 2.0 * self.num_layers * self.batch * tokens * self.hidden_size * element
        return self.weight_bytes + activations

    def to_dict(self) -> dict[str, Any]:
        """Plain values."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Workload:
        """The inverse of :meth:`to_dict`; unknown keys are ignored."""
        return cls(**{f.name: data[f.name] for f in fields(cls) if f.name in data})


def roofline_seconds(
    flops: float, bytes_moved: float, peak_flops: float, bandwidth_bytes_per_s: float
) -> tuple[float, str]:
    """The roofline time of a step and what bounds it.

    Returns
    -------
    tuple[float, str]
        ``max(flops / peak_flops, bytes_moved / bandwidth)`` in seconds, and ``"compute"`` or
        ``"memory"`` for the larger term (``"compute"`` on a tie).
    """
    compute = flops / peak_flops
    memory = bytes_moved / bandwidth_bytes_per_s
    return (compute, "compute") if compute >= memory else (memory, "memory")


def host_roofline_seconds(workload: Workload, host: HostPeak) -> tuple[float, str]:
    """:func:`roofline_seconds` of ``workload`` on the host; its fp32 peak stands for every dtype."""
    return roofline_seconds(
        workload.flops(), workload.bytes_moved(), host.peak_flops, host.bandwidth_bytes_per_s
    )


def device_roofline_seconds(workload: Workload, device: Device) -> tuple[float, str]:
    """:func:`roofline_seconds` of ``workload`` on a catalog device, at its peak for the dtype."""
    return roofline_seconds(
        workload.flops(),
        workload.bytes_moved(),
        device.peak_flops(workload.dtype),
        device.bandwidth_bytes_per_s,
    )


def host_efficiency(workload: Workload, measured_seconds: float, host: HostPeak) -> float:
    """The fraction of the host's roofline the measurement reached, clipped into (0, 1].

    ``host roofline time / measured time``; the host's fp32 peak stands for every dtype.

    Raises
    ------
    InvalidInputError
        If ``measured_seconds`` is not a positive finite number.
    """
    checks.number("measured_seconds", measured_seconds, low=0, low_open=True)
    roof, _ = host_roofline_seconds(workload, host)
    return min(1.0, roof / measured_seconds)


def memory_needed_bytes(workload: Workload, memory_overhead: float = MEMORY_OVERHEAD) -> float:
    """Bytes a device must hold to run the workload: weights plus ``memory_overhead`` of them."""
    return workload.weight_bytes * (1.0 + memory_overhead)


__all__ = [
    "Workload",
    "device_roofline_seconds",
    "host_efficiency",
    "host_roofline_seconds",
    "memory_needed_bytes",
    "roofline_seconds",
]
