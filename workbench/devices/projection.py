"""The roofline projection of a host measurement onto other devices, and the tables of it.

A benchmark measured on this host becomes an estimate for another device in three steps, all
pure functions of plain numbers:

1. A :class:`~workbench.devices.roofline.Workload` counts the FLOPs and bytes of one step.
2. The host's roofline time divided by the measured time gives the host *efficiency*: how
   close the software came to the hardware limit.
3. The device's roofline time divided by that efficiency is the projection: the same software
   is assumed to reach the same fraction of the device's limit.

Every projection is an estimate (``estimate=True``): real kernels, runtimes and drivers differ
between devices, and peak figures are vendor maxima.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from typing import Any

import pandas as pd

from workbench.devices.catalog import Device
from workbench.devices.config import MEMORY_OVERHEAD, PHASES, TASKS
from workbench.devices.peak import HostPeak
from workbench.devices.roofline import (
    Workload,
    device_roofline_seconds,
    host_efficiency,
    host_roofline_seconds,
    memory_needed_bytes,
)
from workbench.kit import checks
from workbench.kit.errors import InvalidInputError, WorkbenchError

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

_CLIPPED_REASON = (
    "measured faster than the host roofline, so efficiency is clipped to 1: the FLOP or byte "
    "count overestimates this step (params include embedding tables) or the host peak was "
    "measured low."
)


# ---------------------------------------------------------------------------------------------
# One step onto one device
# ---------------------------------------------------------------------------------------------


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
        if self.fits:
            checks.choice("bound", self.bound, ("compute", "memory"))
        if self.fits == (self.seconds is None):
            raise InvalidInputError("`seconds` must be set exactly when the model fits.")

    def to_dict(self) -> dict[str, Any]:
        """Plain values."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Projection:
        """The inverse of :meth:`to_dict`; unknown keys are ignored."""
        return cls(**{f.name: data[f.name] for f in fields(cls) if f.name in data})


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
    checks.number("memory_overhead", memory_overhead, low=0)
    efficiency = host_efficiency(workload, measured_seconds, host)
    shortfall = _memory_shortfall(workload, device, memory_overhead)
    device_roof, bound = (None, "") if shortfall else device_roofline_seconds(workload, device)
    return Projection(
        device=device.name,
        bound=bound,
        seconds=None if device_roof is None else device_roof / efficiency,
        efficiency=efficiency,
        host_roofline_seconds=host_roofline_seconds(workload, host)[0],
        device_roofline_seconds=device_roof,
        fits=not shortfall,
        reason=shortfall,
        peak_fallback=not device.has_peak(workload.dtype),
    )


def _memory_shortfall(workload: Workload, device: Device, memory_overhead: float) -> str:
    """Why ``device`` cannot hold the model, in one line; empty when it can."""
    needed = memory_needed_bytes(workload, memory_overhead)
    if needed <= device.memory_bytes:
        return ""
    return (
        f"{device.name} cannot hold the model: needs {_gb(needed)} GB "
        f"({_gb(workload.weight_bytes)} GB of weights + {memory_overhead:.0%} for activations "
        f"and runtime), has {_gb(device.memory_bytes)} GB."
    )


def _gb(count: float) -> str:
    value = count / 1e9
    if value >= 0.01:
        return f"{value:.2f}".rstrip("0").rstrip(".")
    return f"{value:.2g}"


# ---------------------------------------------------------------------------------------------
# Benchmark rows as steps
# ---------------------------------------------------------------------------------------------


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
        reason = str(checks.invalid("task", task, "one of " + ", ".join(TASKS))).rstrip(".")
        return [_Step(phase="forward", workload=None, measured_ms=math.nan, reason=reason)]
    steps = []
    for phase in phases:
        measured = _float_or_nan(row.get(_MEASURED[phase]))
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


def _float_or_nan(value: Any) -> float:
    """A table cell as a float; NaN where it holds no number (a missing measurement)."""
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


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


# ---------------------------------------------------------------------------------------------
# Every benchmark point onto every device
# ---------------------------------------------------------------------------------------------


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
    checks.number("memory_overhead", memory_overhead, low=0)
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
    """The :data:`PROJECTION_COLUMNS` of one benchmark row on one device."""
    out = _blank_projection(host, device)
    reasons: list[str] = []
    projected: dict[str, Projection] = {}
    for phase, step in steps.items():
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
    built = [step.workload for step in steps.values() if step.workload is not None]
    out["peak_fallback"] = any(not device.has_peak(w.dtype) for w in built)
    # A row fits only when at least one step's memory need could be compared with the device.
    out["fits"] = bool(built) and all(
        memory_needed_bytes(w, memory_overhead) <= device.memory_bytes for w in built
    )
    out.update(_projected_figures(projected))
    if "decode" in steps:
        _add_request_time(out, record, reasons)
    out["reason"] = "; ".join(reasons) + ("." if reasons else "")
    return out


def _blank_projection(host: HostPeak, device: Device) -> dict[str, Any]:
    """A row of :data:`PROJECTION_COLUMNS` with every figure NaN, before any step is projected."""
    nan = math.nan
    return {
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


def _projected_figures(projected: dict[str, Projection]) -> dict[str, Any]:
    """The figures of the projected steps: the forward or decode step describes the row's
    ``bound`` and ``efficiency``, the prefill step its ``ttft_*``."""
    figures: dict[str, Any] = {}
    main = projected.get("forward") or projected.get("decode")
    if main is not None:
        figures["efficiency"] = main.efficiency
        figures["host_roofline_ms"] = main.host_roofline_seconds * 1000.0
        if main.fits:
            figures["bound"] = main.bound
            figures["device_roofline_ms"] = main.device_roofline_seconds * 1000.0
    prefill = projected.get("prefill")
    if prefill is not None:
        figures["ttft_efficiency"] = prefill.efficiency
        figures["ttft_bound"] = prefill.bound
        if prefill.fits:
            figures["projected_ttft_ms"] = prefill.seconds * 1000.0
    forward = projected.get("forward")
    if forward is not None and forward.fits:
        figures["projected_p50_ms"] = forward.seconds * 1000.0
    decode = projected.get("decode")
    if decode is not None and decode.fits:
        figures["projected_tpot_ms"] = decode.seconds * 1000.0
        figures["projected_tokens_per_s"] = 1000.0 / figures["projected_tpot_ms"]
    return figures


def _add_request_time(out: dict[str, Any], record: dict[str, Any], reasons: list[str]) -> None:
    """Set a generation row's ``projected_p50_ms``: the first token, then every further one."""
    output_tokens = _float_or_nan(record.get("output_tokens"))
    if math.isfinite(output_tokens) and output_tokens >= 1:
        out["projected_p50_ms"] = (
            out["projected_ttft_ms"] + (output_tokens - 1) * out["projected_tpot_ms"]
        )
    else:
        _add(reasons, "no `output_tokens` to add up a whole request for projected_p50_ms")


def _add(reasons: list[str], reason: str) -> None:
    if reason not in reasons:
        reasons.append(reason)


# ---------------------------------------------------------------------------------------------
# The host calibration
# ---------------------------------------------------------------------------------------------


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
    rows = [
        _calibration_row(label, record, step, host)
        for label, record in zip(points.index, records, strict=True)
        for step in _steps(record)
    ]
    return pd.DataFrame(rows, columns=list(CALIBRATION_COLUMNS))


def _calibration_row(
    label: Any, record: dict[str, Any], step: _Step, host: HostPeak
) -> dict[str, Any]:
    """One row of :data:`CALIBRATION_COLUMNS`: one step of one benchmark point."""
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
    workload = step.workload
    if workload is None:
        return row
    roof, bound = host_roofline_seconds(workload, host)
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
            row["reason"] = _CLIPPED_REASON
    return row


__all__ = [
    "CALIBRATION_COLUMNS",
    "POINT_COLUMNS",
    "PROJECTION_COLUMNS",
    "Projection",
    "calibration_table",
    "project",
    "project_points",
]
