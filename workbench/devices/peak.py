"""What this host's hardware reaches, measured: the host side of every projection."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from typing import Any

from workbench.devices.config import PeakMeasurement
from workbench.kit import checks
from workbench.kit.errors import WorkbenchError


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
        checks.number("fp32_gflops", self.fp32_gflops, low=0, low_open=True)
        checks.number("bandwidth_gbs", self.bandwidth_gbs, low=0, low_open=True)
        if self.threads is not None:
            fix = "Leave it None when unknown."
            object.__setattr__(self, "threads", checks.whole("threads", self.threads, 1, fix=fix))

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
        If an argument is out of range (see :class:`~workbench.devices.config.PeakMeasurement`).
    """
    settings = PeakMeasurement(
        seconds=seconds, threads=threads, matrix_size=matrix_size, copy_megabytes=copy_megabytes
    )
    torch = _import_torch()
    previous = torch.get_num_threads()
    if settings.threads is not None:
        torch.set_num_threads(settings.threads)
    try:
        with torch.inference_mode():
            gflops = _matmul_gflops(torch, settings.matrix_size, settings.seconds / 2)
            bandwidth = _copy_gbs(torch, settings.copy_megabytes, settings.seconds / 2)
        used = torch.get_num_threads()
    finally:
        torch.set_num_threads(previous)
    return HostPeak(fp32_gflops=gflops, bandwidth_gbs=bandwidth, threads=used)


def _import_torch() -> Any:
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a core dependency
        raise WorkbenchError(
            "Measuring the host needs PyTorch, which is not installed; install it with "
            "`pip install torch` (or run `make install`)."
        ) from None
    return torch


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


__all__ = ["HostPeak", "measure_host_peak"]
