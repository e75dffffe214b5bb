"""Target devices and the roofline projection of a host measurement onto them.

The device catalog (``data/devices.csv``) holds published peak figures, each row with its
``source`` and ``as_of``. A benchmark measured on this host becomes an estimate for another
device in three steps, all pure functions of plain numbers:

1. A :class:`Workload` counts the FLOPs and bytes of one forward step.
2. The host's roofline time, ``max(FLOPs / host peak, bytes / host bandwidth)``, divided by the
   measured time gives the host *efficiency*: how close the software came to the hardware limit.
3. The device's roofline time divided by that efficiency is the projection: the same software
   is assumed to reach the same fraction of the device's limit.

Every projection is an estimate (``estimate=True``): real kernels, runtimes and drivers differ
between devices, and peak figures are vendor maxima.
"""

from __future__ import annotations

import csv
import datetime
import difflib
import math
import numbers
import re
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import pandas as pd

from workbench.kit.errors import DeviceNotFoundError, InvalidInputError, WorkbenchError
from workbench.kit.paths import data_dir

KINDS = ("phone-soc", "sbc", "embedded-gpu", "laptop-cpu", "server-cpu", "datacenter-gpu")
DTYPES = ("float32", "bfloat16", "float16", "int8")
TASKS = ("embeddings", "text-generation")
PHASES = {"embeddings": ("forward",), "text-generation": ("prefill", "decode")}

#: Memory a model needs beyond its weights (activations, KV cache, runtime), as a fraction of
#: the weights. A modelling choice, not a published figure, so it lives here and not in the CSV.
MEMORY_OVERHEAD = 0.2

COLUMNS = (
    "name",
    "display_name",
    "kind",
    "fp32_tflops",
    "fp16_tflops",
    "int8_tops",
    "memory_gb",
    "memory_bandwidth_gbs",
    "power_w",
    "price_usd",
    "source",
    "as_of",
    "notes",
)
_REQUIRED_NUMBERS = ("fp32_tflops", "memory_gb", "memory_bandwidth_gbs")
_OPTIONAL_NUMBERS = ("fp16_tflops", "int8_tops", "power_w", "price_usd")
_NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]*$")

_DTYPE_ALIASES = {
    "float32": "float32",
    "fp32": "float32",
    "f32": "float32",
    "float": "float32",
    "bfloat16": "bfloat16",
    "bf16": "bfloat16",
    "float16": "float16",
    "fp16": "float16",
    "f16": "float16",
    "half": "float16",
    "int8": "int8",
    "qint8": "int8",
    "i8": "int8",
}
# Which catalog column holds each dtype's peak.
_PEAK_COLUMN = {
    "float32": "fp32_tflops",
    "bfloat16": "fp16_tflops",
    "float16": "fp16_tflops",
    "int8": "int8_tops",
}
# Bytes per activation element. int8 variants quantize weights only (dynamic quantization keeps
# activations in float32); their weight bytes come from ``weight_bytes`` as measured.
_ACTIVATION_BYTES = {"float32": 4, "bfloat16": 2, "float16": 2, "int8": 4}


def normalize_dtype(dtype: str) -> str:
    """The canonical dtype name for ``dtype`` (``"fp32"``, ``"torch.qint8"``, ``"bf16"``...).

    Parameters
    ----------
    dtype
        A dtype as a benchmark table or a variant names it; case and a ``torch.`` prefix are
        ignored.

    Returns
    -------
    str
        One of ``float32``, ``bfloat16``, ``float16``, ``int8``.

    Raises
    ------
    InvalidInputError
        If the name is none of those or their usual aliases.
    """
    key = str(dtype).strip().lower().removeprefix("torch.")
    if key not in _DTYPE_ALIASES:
        raise InvalidInputError(
            f"`dtype` {dtype!r} is not one the device catalog has peaks for; use one of "
            f"{', '.join(DTYPES)} (aliases such as fp32, bf16, fp16, qint8 are accepted)."
        )
    return _DTYPE_ALIASES[key]


# ---------------------------------------------------------------------------------------------
# Devices
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Device:
    """One row of the device catalog: published peak figures of a device a model could run on.

    ``fp16_tflops`` and ``int8_tops`` are dense (Tensor Core figures where they exist);
    ``memory_gb`` is the memory a model can use (shared with the OS on unified-memory devices,
    which ``notes`` says). Optional figures (``fp16_tflops``, ``int8_tops``, ``power_w``,
    ``price_usd``) are ``None`` where no figure is published.
    """

    name: str
    display_name: str
    kind: str
    fp32_tflops: float
    fp16_tflops: float | None
    int8_tops: float | None
    memory_gb: float
    memory_bandwidth_gbs: float
    power_w: float | None
    price_usd: float | None
    source: str
    as_of: str
    notes: str = ""

    def __post_init__(self) -> None:
        if not _NAME_PATTERN.match(self.name or ""):
            raise InvalidInputError(
                f"`name` must be a short slug of lowercase letters, digits and dashes such as "
                f"'jetson-orin-nano', got {self.name!r}."
            )
        if self.kind not in KINDS:
            raise InvalidInputError(f"`kind` must be one of {', '.join(KINDS)}, got {self.kind!r}.")
        for column in _REQUIRED_NUMBERS:
            _check_positive(column, getattr(self, column), optional=False)
        for column in _OPTIONAL_NUMBERS:
            _check_positive(column, getattr(self, column), optional=True)
        for column in ("display_name", "source"):
            if not str(getattr(self, column) or "").strip():
                raise InvalidInputError(
                    f"`{column}` is empty; every device needs a {column.replace('_', ' ')} "
                    "(for `source`, the vendor data sheet or spec page the figures come from)."
                )
        _check_date("as_of", self.as_of)

    def has_peak(self, dtype: str) -> bool:
        """Whether the catalog has this device's own peak for ``dtype`` (else fp32 stands in)."""
        return getattr(self, _PEAK_COLUMN[normalize_dtype(dtype)]) is not None

    def peak_flops(self, dtype: str) -> float:
        """Peak operations per second for ``dtype``: FLOP/s, or OP/s for int8.

        ``bfloat16`` and ``float16`` read ``fp16_tflops``; ``int8`` reads ``int8_tops``. A
        device without a figure for that dtype falls back to ``fp32_tflops``, a conservative
        choice (low-precision math is rarely slower than fp32); :meth:`has_peak` says when that
        happened and projections carry it as ``peak_fallback``.

        Parameters
        ----------
        dtype
            ``float32``, ``bfloat16``, ``float16`` or ``int8`` (or an alias, see
            :func:`normalize_dtype`).

        Raises
        ------
        InvalidInputError
            If ``dtype`` is not one of those.
        """
        value = getattr(self, _PEAK_COLUMN[normalize_dtype(dtype)])
        return (self.fp32_tflops if value is None else value) * 1e12

    @property
    def memory_bytes(self) -> float:
        """``memory_gb`` in bytes (decimal gigabytes, as vendors quote them)."""
        return self.memory_gb * 1e9

    @property
    def bandwidth_bytes_per_s(self) -> float:
        """``memory_bandwidth_gbs`` in bytes per second."""
        return self.memory_bandwidth_gbs * 1e9

    def to_dict(self) -> dict[str, Any]:
        """The row as plain values, in the CSV's column order."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Device:
        """The inverse of :meth:`to_dict`; unknown keys are ignored."""
        return cls(**{f.name: data[f.name] for f in fields(cls) if f.name in data})


def _check_positive(column: str, value: Any, *, optional: bool) -> None:
    if value is None and optional:
        return
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Real)
        or not math.isfinite(value)
        or value <= 0
    ):
        allowed = "a positive number, or empty when unknown" if optional else "a positive number"
        raise InvalidInputError(f"`{column}` must be {allowed}, got {value!r}.")


def _check_date(column: str, value: Any) -> None:
    try:
        valid = len(str(value)) == 10 and datetime.date.fromisoformat(str(value))
    except ValueError:
        valid = False
    if not valid:
        raise InvalidInputError(
            f"`{column}` must be the date the figures were checked, as YYYY-MM-DD, got {value!r}."
        )


def load_devices(path: Path | str | None = None) -> dict[str, Device]:
    """Read the device catalog, keyed by device name, in file order.

    Parameters
    ----------
    path
        A CSV file with the columns of :data:`COLUMNS`; defaults to ``data/devices.csv``.
        Extra columns are ignored.

    Returns
    -------
    dict[str, Device]

    Raises
    ------
    InvalidInputError
        If the file cannot be read, lacks a column, or a row has a missing, non-numeric or
        non-positive figure, no ``source``, a bad ``as_of`` or a repeated name. The message
        names the file, the row and the column.
    """
    path = Path(path) if path is not None else data_dir() / "devices.csv"
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            header = list(reader.fieldnames or [])
            rows = list(reader)
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise InvalidInputError(f"Cannot read the device catalog {path}: {exc}.") from exc
    missing = [column for column in COLUMNS if column not in header]
    if missing:
        raise InvalidInputError(
            f"{path}: the header lacks the column(s) {', '.join(missing)}; a device catalog "
            f"needs {', '.join(COLUMNS)}. Add the missing column(s) to the first line."
        )
    devices: dict[str, Device] = {}
    for number, row in enumerate(rows, start=1):
        device = _device_from_row(path, number, row)
        if device.name in devices:
            raise InvalidInputError(
                f"{path} row {number} (line {number + 1}): the device name {device.name!r} "
                "appears twice; give each row its own name."
            )
        devices[device.name] = device
    return devices


def _device_from_row(path: Path, number: int, row: dict[str, Any]) -> Device:
    where = f"{path} row {number} (line {number + 1}, device {(row.get('name') or '?')!r})"
    values: dict[str, Any] = {}
    for column in COLUMNS:
        text = (row.get(column) or "").strip()
        if column in _REQUIRED_NUMBERS or column in _OPTIONAL_NUMBERS:
            if not text:
                if column in _REQUIRED_NUMBERS:
                    raise InvalidInputError(
                        f"{where}, column `{column}`: empty, but every device needs it. Fill in "
                        "the vendor's published figure."
                    )
                values[column] = None
                continue
            try:
                values[column] = float(text)
            except ValueError:
                raise InvalidInputError(
                    f"{where}, column `{column}`: {text!r} is not a number. Write a plain "
                    "number such as 17.1, without units."
                ) from None
        else:
            values[column] = text
    try:
        return Device(**values)
    except InvalidInputError as exc:
        raise InvalidInputError(f"{where}: {exc} Fix that column in the file.") from exc


def get_device(name: str, devices: dict[str, Device] | None = None) -> Device:
    """The catalog device called ``name``.

    Parameters
    ----------
    name
        A device name such as ``"jetson-orin-nano"``.
    devices
        A catalog from :func:`load_devices`; defaults to the shipped one.

    Raises
    ------
    DeviceNotFoundError
        If there is no such device; the message suggests the closest names and lists all.
    """
    devices = load_devices() if devices is None else devices
    if name in devices:
        return devices[name]
    close = difflib.get_close_matches(str(name), list(devices), n=3, cutoff=0.5)
    hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    raise DeviceNotFoundError(
        f"Unknown device {name!r}: it is not in the device catalog.{hint} Known devices: "
        f"{', '.join(sorted(devices))}. To add one, append a row with its source and as_of to "
        "data/devices.csv."
    )


def devices_table(devices: dict[str, Device] | Iterable[Device] | None = None) -> pd.DataFrame:
    """The catalog as a DataFrame, one row per device, columns as in the CSV (units in names).

    Parameters
    ----------
    devices
        Devices to show; defaults to the shipped catalog.
    """
    devices = load_devices() if devices is None else devices
    items = devices.values() if isinstance(devices, dict) else devices
    return pd.DataFrame([d.to_dict() for d in items], columns=list(COLUMNS))


# ---------------------------------------------------------------------------------------------
# The host's measured peaks
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HostPeak:
    """What this machine's hardware reached, measured: the host side of every projection.

    ``fp32_gflops`` is the best fp32 matrix-multiply throughput; ``bandwidth_gbs`` the best
    memory copy bandwidth, counting bytes read and bytes written. ``threads`` is the torch
    thread count they were measured with (``None`` when unknown).
    """

    fp32_gflops: float
    bandwidth_gbs: float
    threads: int | None = None

    def __post_init__(self) -> None:
        _check_positive("fp32_gflops", self.fp32_gflops, optional=False)
        _check_positive("bandwidth_gbs", self.bandwidth_gbs, optional=False)
        if self.threads is not None and (
            isinstance(self.threads, bool) or not isinstance(self.threads, int) or self.threads < 1
        ):
            raise InvalidInputError(
                f"`threads` must be a whole number >= 1 or None, got {self.threads!r}."
            )

    @property
    def peak_flops(self) -> float:
        """``fp32_gflops`` in FLOP/s; used for every dtype, since only fp32 is measured."""
        return self.fp32_gflops * 1e9

    @property
    def bandwidth_bytes_per_s(self) -> float:
        """``bandwidth_gbs`` in bytes per second."""
        return self.bandwidth_gbs * 1e9

    def to_dict(self) -> dict[str, Any]:
        """Plain values."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> HostPeak:
        """The inverse of :meth:`to_dict`; unknown keys are ignored."""
        return cls(**{f.name: data[f.name] for f in fields(cls) if f.name in data})


def measure_host_peak(
    seconds: float = 1.0,
    threads: int | None = None,
    *,
    matrix_size: int = 1024,
    copy_megabytes: int = 256,
) -> HostPeak:
    """Measure this machine's fp32 matmul throughput and memory bandwidth with torch.

    Half of ``seconds`` goes to repeated ``matrix_size`` x ``matrix_size`` fp32 matmuls
    (``2 n^3`` FLOPs each), half to copying a ``copy_megabytes`` MiB tensor into another
    (read plus write bytes). Each keeps the fastest of at least three repeats, the closest a
    call came to the hardware's limit. The torch thread count is restored afterwards.

    Parameters
    ----------
    seconds
        Time budget for both measurements together (each runs at least three repeats, so a
        very slow machine can take longer).
    threads
        Torch CPU threads to measure with; ``None`` keeps torch's current setting. Use the
        thread count the benchmark ran with.
    matrix_size, copy_megabytes
        Sizes of the matmul and of the copied tensor.

    Returns
    -------
    HostPeak

    Raises
    ------
    InvalidInputError
        If an argument is out of range.
    """
    if not (isinstance(seconds, numbers.Real) and math.isfinite(seconds) and seconds > 0):
        raise InvalidInputError(f"`seconds` must be > 0, got {seconds!r}.")
    for label, value in (
        ("threads", threads),
        ("matrix_size", matrix_size),
        ("copy_megabytes", copy_megabytes),
    ):
        if value is None and label == "threads":
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise InvalidInputError(f"`{label}` must be a whole number >= 1, got {value!r}.")
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a core dependency
        raise WorkbenchError(
            "Measuring the host needs PyTorch, which is not installed; install it with "
            "`pip install torch` (or run `make install`)."
        ) from None

    previous = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        with torch.inference_mode():
            gflops = _matmul_gflops(torch, matrix_size, seconds / 2)
            bandwidth = _copy_gbs(torch, copy_megabytes, seconds / 2)
        used = torch.get_num_threads()
    finally:
        torch.set_num_threads(previous)
    return HostPeak(fp32_gflops=gflops, bandwidth_gbs=bandwidth, threads=used)


def _matmul_gflops(torch: Any, n: int, budget: float) -> float:
    a, b = torch.randn(n, n), torch.randn(n, n)
    product = torch.empty(n, n)
    torch.mm(a, b, out=product)  # warm-up: thread pool and allocator
    best = _best_seconds(lambda: torch.mm(a, b, out=product), budget)
    return 2.0 * n**3 / best / 1e9


def _copy_gbs(torch: Any, megabytes: int, budget: float) -> float:
    elements = megabytes * 2**20 // 4
    source = torch.ones(elements, dtype=torch.float32)
    target = torch.empty_like(source)
    target.copy_(source)  # warm-up: touches every page of the target
    best = _best_seconds(lambda: target.copy_(source), budget)
    return 2.0 * elements * 4 / best / 1e9


def _best_seconds(call: Callable[[], Any], budget: float, min_repeats: int = 3) -> float:
    best = math.inf
    start = time.perf_counter()
    repeats = 0
    while repeats < min_repeats or time.perf_counter() - start < budget:
        begin = time.perf_counter()
        call()
        best = min(best, time.perf_counter() - begin)
        repeats += 1
    return max(best, 1e-9)


# ---------------------------------------------------------------------------------------------
# Workloads: FLOPs and bytes of one step
# ---------------------------------------------------------------------------------------------


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
        if self.task not in TASKS:
            raise InvalidInputError(f"`task` must be one of {', '.join(TASKS)}, got {self.task!r}.")
        object.__setattr__(self, "dtype", normalize_dtype(self.dtype))
        phase = self.phase or PHASES[self.task][-1]
        if phase not in PHASES[self.task]:
            raise InvalidInputError(
                f"`phase` for {self.task} must be one of {', '.join(PHASES[self.task])}, "
                f"got {self.phase!r}."
            )
        object.__setattr__(self, "phase", phase)
        for name, minimum in (
            ("params", 1),
            ("weight_bytes", 1),
            ("batch", 1),
            ("seq_len", 1),
            ("output_tokens", 0),
        ):
            object.__setattr__(self, name, _whole_number(name, getattr(self, name), minimum))
        for name in ("num_layers", "hidden_size"):
            if getattr(self, name) is not None:
                object.__setattr__(self, name, _whole_number(name, getattr(self, name), 1))

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


def _whole_number(name: str, value: Any, minimum: int) -> int:
    whole = (
        isinstance(value, numbers.Real)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and value == int(value)
    )
    if not whole or int(value) < minimum:
        raise InvalidInputError(f"`{name}` must be a whole number >= {minimum}, got {value!r}.")
    return int(value)


# ---------------------------------------------------------------------------------------------
# The roofline projection
# ---------------------------------------------------------------------------------------------


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


def host_efficiency(workload: Workload, measured_seconds: float, host: HostPeak) -> float:
    """The fraction of the host's roofline the measurement reached, clipped into (0, 1].

    ``host roofline time / measured time``; the host's fp32 peak stands for every dtype.

    Raises
    ------
    InvalidInputError
        If ``measured_seconds`` is not a positive finite number.
    """
    _check_positive("measured_seconds", measured_seconds, optional=False)
    roof, _ = roofline_seconds(
        workload.flops(), workload.bytes_moved(), host.peak_flops, host.bandwidth_bytes_per_s
    )
    return min(1.0, roof / measured_seconds)


@dataclass(frozen=True)
class Projection:
    """A host measurement projected onto one device. Always an estimate.

    ``seconds`` is the projected time of the step, ``None`` when the device cannot hold the
    model (``fits`` false, ``reason`` says why). ``bound`` is what limits the device
    (``"compute"`` or ``"memory"``; empty when it does not fit). ``peak_fallback`` is true when
    the device has no peak for the workload's dtype and its fp32 peak was used.
    """

    device: str
    bound: str
    seconds: float | None
    efficiency: float
    host_roofline_seconds: float
    device_roofline_seconds: float | None
    fits: bool
    reason: str = ""
    peak_fallback: bool = False
    estimate: bool = True

    def __post_init__(self) -> None:
        if self.estimate is not True:
            raise InvalidInputError(
                "`estimate` is always True: a projection is never a measurement."
            )
        if self.fits and self.bound not in ("compute", "memory"):
            raise InvalidInputError(f"`bound` must be 'compute' or 'memory', got {self.bound!r}.")
        if self.fits == (self.seconds is None):
            raise InvalidInputError("`seconds` must be set exactly when the model fits.")

    def to_dict(self) -> dict[str, Any]:
        """Plain values."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Projection:
        """The inverse of :meth:`to_dict`; unknown keys are ignored."""
        return cls(**{f.name: data[f.name] for f in fields(cls) if f.name in data})


def memory_needed_bytes(workload: Workload, memory_overhead: float = MEMORY_OVERHEAD) -> float:
    """Bytes a device must hold to run the workload: weights plus ``memory_overhead`` of them."""
    return workload.weight_bytes * (1.0 + memory_overhead)


def project(
    workload: Workload,
    measured_seconds: float,
    host: HostPeak,
    device: Device,
    *,
    memory_overhead: float = MEMORY_OVERHEAD,
) -> Projection:
    """Project a step measured on this host onto ``device`` with the roofline model.

    ``e = host roofline / measured`` (clipped into (0, 1]); the projection is
    ``max(F / device peak(dtype), B / device bandwidth) / e`` with ``F`` and ``B`` from
    :meth:`Workload.flops` and :meth:`Workload.bytes_moved`. A device whose memory cannot hold
    the weights plus ``memory_overhead`` of them is refused: ``fits=False``, ``seconds=None``
    and a one-line ``reason`` with both sizes.

    Parameters
    ----------
    workload
        What one measured step computes and moves.
    measured_seconds
        The time that step took on this host (a p50, or a time per output token).
    host
        This host's measured peaks.
    device
        The target device.
    memory_overhead
        Memory needed beyond the weights, as a fraction of them (default 20%).

    Returns
    -------
    Projection

    Raises
    ------
    InvalidInputError
        If ``measured_seconds`` or ``memory_overhead`` is out of range.
    """
    if not (isinstance(memory_overhead, numbers.Real) and memory_overhead >= 0):
        raise InvalidInputError(f"`memory_overhead` must be >= 0, got {memory_overhead!r}.")
    efficiency = host_efficiency(workload, measured_seconds, host)
    host_roof, _ = roofline_seconds(
        workload.flops(), workload.bytes_moved(), host.peak_flops, host.bandwidth_bytes_per_s
    )
    fallback = not device.has_peak(workload.dtype)
    needed = memory_needed_bytes(workload, memory_overhead)
    if needed > device.memory_bytes:
        reason = (
            f"{device.name} cannot hold the model: needs {_gb(needed)} GB "
            f"({_gb(workload.weight_bytes)} GB of weights + {memory_overhead:.0%} for activations "
            f"and runtime), has {_gb(device.memory_bytes)} GB."
        )
        return Projection(
            device=device.name,
            bound="",
            seconds=None,
            efficiency=efficiency,
            host_roofline_seconds=host_roof,
            device_roofline_seconds=None,
            fits=False,
            reason=reason,
            peak_fallback=fallback,
        )
    device_roof, bound = roofline_seconds(
        workload.flops(),
        workload.bytes_moved(),
        device.peak_flops(workload.dtype),
        device.bandwidth_bytes_per_s,
    )
    return Projection(
        device=device.name,
        bound=bound,
        seconds=device_roof / efficiency,
        efficiency=efficiency,
        host_roofline_seconds=host_roof,
        device_roofline_seconds=device_roof,
        fits=True,
        peak_fallback=fallback,
    )


def _gb(count: float) -> str:
    value = count / 1e9
    if value >= 0.01:
        return f"{value:.2f}".rstrip("0").rstrip(".")
    return f"{value:.2g}"


# ---------------------------------------------------------------------------------------------
# Tables: projections and the host calibration
# ---------------------------------------------------------------------------------------------

POINT_COLUMNS = ("task", "params", "weight_bytes", "dtype", "batch", "seq_len")

PROJECTION_COLUMNS = (
    "device",
    "device_kind",
    "host_fp32_gflops",
    "host_bandwidth_gbs",
    "projected_p50_ms",
    "projected_ttft_ms",
    "projected_tpot_ms",
    "projected_tokens_per_s",
    "bound",
    "efficiency",
    "host_roofline_ms",
    "device_roofline_ms",
    "ttft_bound",
    "ttft_efficiency",
    "peak_fallback",
    "fits",
    "reason",
    "estimate",
)

CALIBRATION_COLUMNS = (
    "point",
    "task",
    "phase",
    "dtype",
    "batch",
    "seq_len",
    "measured_ms",
    "gflop_per_step",
    "mb_moved_per_step",
    "host_roofline_ms",
    "host_bound",
    "efficiency",
    "host_fp32_gflops",
    "host_bandwidth_gbs",
    "reason",
)

# The measured column each phase is projected from.
_MEASURED = {"forward": "p50_ms", "decode": "tpot_ms", "prefill": "ttft_ms"}


@dataclass(frozen=True)
class _Step:
    """One phase of one benchmark row: its workload (``None`` when it cannot be built, see
    ``reason``) and its measurement (NaN when missing, see ``reason``)."""

    phase: str
    workload: Workload | None
    measured_ms: float
    reason: str = ""

    @property
    def measured(self) -> bool:
        return math.isfinite(self.measured_ms) and self.measured_ms > 0


def _steps(row: dict[str, Any]) -> list[_Step]:
    """The projectable steps of one benchmark row (one for embeddings, two for generation)."""
    task = row.get("task")
    phases = PHASES.get(task) if isinstance(task, str) else None
    if phases is None:
        reason = f"`task` must be one of {', '.join(TASKS)}, got {task!r}"
        return [_Step(phase="forward", workload=None, measured_ms=math.nan, reason=reason)]
    steps = []
    for phase in phases:
        measured = _number(row.get(_MEASURED[phase]))
        try:
            workload = _workload(row, task, phase)
        except WorkbenchError as exc:
            steps.append(_Step(phase, None, measured, str(exc).rstrip(".")))
            continue
        step = _Step(phase, workload, measured)
        if not step.measured:
            step = _Step(phase, workload, measured, f"no measured `{_MEASURED[phase]}`")
        steps.append(step)
    return steps


def _workload(row: dict[str, Any], task: str, phase: str) -> Workload:
    seq_len = row.get("seq_len")
    if task == "text-generation" and _is_present(row.get("prompt_tokens")):
        seq_len = row.get("prompt_tokens")
    output_tokens = row.get("output_tokens") if task == "text-generation" else 0
    shape = {
        name: row.get(name) if _is_present(row.get(name)) else None
        for name in ("num_layers", "hidden_size")
    }
    return Workload(
        task=task,
        params=_required(row, "params"),
        weight_bytes=_required(row, "weight_bytes"),
        dtype=str(_required(row, "dtype")),
        batch=_required(row, "batch"),
        seq_len=seq_len if _is_present(seq_len) else _required(row, "seq_len"),
        output_tokens=output_tokens if _is_present(output_tokens) else 0,
        phase=phase,
        **shape,
    )


def _required(row: dict[str, Any], name: str) -> Any:
    value = row.get(name)
    if not _is_present(value):
        raise InvalidInputError(f"`{name}` is missing")
    return value


def _is_present(value: Any) -> bool:
    if value is None:
        return False
    try:
        return not pd.isna(value)
    except (TypeError, ValueError):
        return True


def _number(value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return math.nan
    return number


def _records(points: pd.DataFrame) -> list[dict[str, Any]]:
    if not isinstance(points, pd.DataFrame):
        raise InvalidInputError(
            f"`points` must be a pandas DataFrame (a tidy benchmark table), got "
            f"{type(points).__name__}."
        )
    missing = [column for column in POINT_COLUMNS if column not in points.columns]
    if missing:
        raise InvalidInputError(
            f"The benchmark table lacks the column(s) {', '.join(missing)}; projecting needs "
            f"{', '.join(POINT_COLUMNS)} and the measured p50_ms (embeddings) or tpot_ms and "
            "ttft_ms (text generation)."
        )
    return points.to_dict(orient="records")


def project_points(
    points: pd.DataFrame,
    host: HostPeak,
    devices: Sequence[Device] | dict[str, Device],
    *,
    memory_overhead: float = MEMORY_OVERHEAD,
) -> pd.DataFrame:
    """Project every benchmark point onto every device: one row per (point, device).

    Embedding rows project ``p50_ms`` (one forward step). Text-generation rows project
    ``tpot_ms`` from a decode step and ``ttft_ms`` from a prefill step (``prompt_tokens``, or
    ``seq_len`` when absent); ``projected_tokens_per_s`` is ``1000 / projected_tpot_ms`` (per
    sequence) and ``projected_p50_ms`` is ``projected_ttft_ms + (output_tokens - 1) *
    projected_tpot_ms``, the time of a whole request. A figure that cannot be projected (the
    device cannot hold the model, a measurement or field is missing) is NaN and ``reason``
    says why; no row raises.

    Parameters
    ----------
    points
        A tidy benchmark table with columns task, params, weight_bytes, dtype, batch,
        seq_len, p50_ms, and for generation rows tpot_ms, ttft_ms, output_tokens,
        prompt_tokens; optional num_layers and hidden_size add attention terms. Other columns
        (model, variant, threads...) are carried through.
    host
        This host's measured peaks (:func:`measure_host_peak`).
    devices
        The target devices.
    memory_overhead
        Memory needed beyond the weights, as a fraction of them.

    Returns
    -------
    pandas.DataFrame
        The point's own columns followed by :data:`PROJECTION_COLUMNS` (those replace point
        columns of the same name). ``efficiency``, ``bound``, ``host_roofline_ms`` and
        ``device_roofline_ms`` describe the p50 step (embeddings) or the decode step
        (generation); ``ttft_*`` the prefill step. ``estimate`` is always True.

    Raises
    ------
    InvalidInputError
        If ``points`` is not a DataFrame, lacks one of the columns task, params,
        weight_bytes, dtype, batch, seq_len, or ``memory_overhead`` is negative.
    """
    records = _records(points)
    if not (isinstance(memory_overhead, numbers.Real) and memory_overhead >= 0):
        raise InvalidInputError(f"`memory_overhead` must be >= 0, got {memory_overhead!r}.")
    if isinstance(devices, dict):
        devices = list(devices.values())
    rows = []
    for record in records:
        steps = {step.phase: step for step in _steps(record)}
        for device in devices:
            out = dict(record)
            out.update(_project_record(record, steps, host, device, memory_overhead))
            rows.append(out)
    extra = [c for c in points.columns if c not in PROJECTION_COLUMNS]
    return pd.DataFrame(rows, columns=[*extra, *PROJECTION_COLUMNS])


def _project_record(
    record: dict[str, Any],
    steps: dict[str, _Step],
    host: HostPeak,
    device: Device,
    memory_overhead: float,
) -> dict[str, Any]:
    nan = math.nan
    out: dict[str, Any] = {
        "device": device.name,
        "device_kind": device.kind,
        "host_fp32_gflops": host.fp32_gflops,
        "host_bandwidth_gbs": host.bandwidth_gbs,
        "projected_p50_ms": nan,
        "projected_ttft_ms": nan,
        "projected_tpot_ms": nan,
        "projected_tokens_per_s": nan,
        "bound": "",
        "efficiency": nan,
        "host_roofline_ms": nan,
        "device_roofline_ms": nan,
        "ttft_bound": "",
        "ttft_efficiency": nan,
        "peak_fallback": False,
        "fits": False,
        "reason": "",
        "estimate": True,
    }
    reasons: list[str] = []
    projected: dict[str, Projection] = {}
    checked = False  # whether any step's memory need could be compared with the device
    fits = True
    for phase, step in steps.items():
        if step.workload is not None:
            checked = True
            out["peak_fallback"] = out["peak_fallback"] or not device.has_peak(step.workload.dtype)
            needed = memory_needed_bytes(step.workload, memory_overhead)
            fits = fits and needed <= device.memory_bytes
        if step.reason:
            _add(reasons, step.reason)
        if step.workload is None or not step.measured:
            continue
        result = project(
            step.workload, step.measured_ms / 1000.0, host, device, memory_overhead=memory_overhead
        )
        if not result.fits:
            _add(reasons, result.reason.rstrip("."))
        projected[phase] = result

    main = projected.get("forward") or projected.get("decode")
    if main is not None:
        out["efficiency"] = main.efficiency
        out["host_roofline_ms"] = main.host_roofline_seconds * 1000.0
        if main.fits:
            out["bound"] = main.bound
            out["device_roofline_ms"] = main.device_roofline_seconds * 1000.0
    prefill = projected.get("prefill")
    if prefill is not None:
        out["ttft_efficiency"] = prefill.efficiency
        out["ttft_bound"] = prefill.bound
        if prefill.fits:
            out["projected_ttft_ms"] = prefill.seconds * 1000.0
    forward = projected.get("forward")
    if forward is not None and forward.fits:
        out["projected_p50_ms"] = forward.seconds * 1000.0
    decode = projected.get("decode")
    if decode is not None and decode.fits:
        out["projected_tpot_ms"] = decode.seconds * 1000.0
        out["projected_tokens_per_s"] = 1000.0 / out["projected_tpot_ms"]
    if "decode" in steps:
        output_tokens = _number(record.get("output_tokens"))
        if math.isfinite(output_tokens) and output_tokens >= 1:
            out["projected_p50_ms"] = (
                out["projected_ttft_ms"] + (output_tokens - 1) * out["projected_tpot_ms"]
            )
        else:
            _add(reasons, "no `output_tokens` to add up a whole request for projected_p50_ms")
    out["fits"] = fits and checked
    out["reason"] = "; ".join(reasons) + ("." if reasons else "")
    return out


def _add(reasons: list[str], reason: str) -> None:
    if reason not in reasons:
        reasons.append(reason)


def calibration_table(host: HostPeak, points: pd.DataFrame) -> pd.DataFrame:
    """How close each benchmark point came to this host's roofline: the projection's basis.

    One row per (point, step): the forward step of an embeddings row, the prefill and decode
    steps of a generation row. ``efficiency`` is ``host_roofline_ms / measured_ms`` clipped
    into (0, 1]; the same number divides every device's roofline time in
    :func:`project_points`.

    Parameters
    ----------
    host
        This host's measured peaks.
    points
        The tidy benchmark table given to :func:`project_points`.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`CALIBRATION_COLUMNS`; ``point`` is the row's index label in ``points``.
        Steps that cannot be calibrated have NaN figures and a ``reason``.
    """
    records = _records(points)
    rows = []
    for label, record in zip(points.index, records, strict=True):
        for step in _steps(record):
            row: dict[str, Any] = {
                "point": label,
                "task": record.get("task"),
                "phase": step.phase,
                "dtype": record.get("dtype"),
                "batch": record.get("batch"),
                "seq_len": record.get("seq_len"),
                "measured_ms": step.measured_ms,
                "gflop_per_step": math.nan,
                "mb_moved_per_step": math.nan,
                "host_roofline_ms": math.nan,
                "host_bound": "",
                "efficiency": math.nan,
                "host_fp32_gflops": host.fp32_gflops,
                "host_bandwidth_gbs": host.bandwidth_gbs,
                "reason": step.reason + ("." if step.reason else ""),
            }
            if step.workload is not None:
                workload = step.workload
                roof, bound = roofline_seconds(
                    workload.flops(),
                    workload.bytes_moved(),
                    host.peak_flops,
                    host.bandwidth_bytes_per_s,
                )
                row.update(
                    seq_len=workload.seq_len,
                    gflop_per_step=workload.flops() / 1e9,
                    mb_moved_per_step=workload.bytes_moved() / 1e6,
                    host_roofline_ms=roof * 1000.0,
                    host_bound=bound,
                )
                if step.measured:
                    row["efficiency"] = host_efficiency(workload, step.measured_ms / 1000.0, host)
                    if roof * 1000.0 > step.measured_ms:
                        row["reason"] = (
                            "measured faster than the host roofline, so efficiency is clipped "
                            "to 1: the FLOP or byte count overestimates this step (params "
                            "include embedding tables) or the host peak was measured low."
                        )
            rows.append(row)
    return pd.DataFrame(rows, columns=list(CALIBRATION_COLUMNS))
