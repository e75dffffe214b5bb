"""The devices room's settings: the vocabulary of the catalog and the workloads, the modelling
constants of the projection, and the typed settings of the host peak measurement."""

from __future__ import annotations

from dataclasses import dataclass

from workbench.kit.fields import check_fields, spec

#: The kinds of device the catalog's ``kind`` column accepts.
KINDS = ("phone-soc", "sbc", "embedded-gpu", "laptop-cpu", "server-cpu", "datacenter-gpu")
#: The dtypes the catalog has peaks for (see :func:`workbench.devices.normalize_dtype`).
DTYPES = ("float32", "bfloat16", "float16", "int8")
#: The benchmark tasks a workload can describe.
TASKS = ("embeddings", "text-generation")
#: The steps of each task; the last is a workload's default phase.
PHASES = {"embeddings": ("forward",), "text-generation": ("prefill", "decode")}

#: Memory a model needs beyond its weights (activations, KV cache, runtime), as a fraction of
#: the weights. A modelling choice, not a published figure, so it lives here and not in the CSV.
MEMORY_OVERHEAD = 0.2


@dataclass(frozen=True)
class PeakMeasurement:
    """How :func:`workbench.devices.measure_host_peak` measures this host's peaks."""

    seconds: float = spec(
        1.0,
        help="time budget for the matmul and copy measurements together",
        unit="s",
        low=0,
        low_open=True,
    )
    threads: int | None = spec(
        None,
        help="torch CPU threads to measure with (None keeps torch's setting)",
        low=1,
        whole=True,
        optional=True,
        fix="Use the thread count the benchmark ran with.",
    )
    matrix_size: int = spec(
        1024, help="side of the square fp32 matrices multiplied", low=1, whole=True
    )
    copy_megabytes: int = spec(
        256, help="size of the tensor copied to measure bandwidth", unit="MiB", low=1, whole=True
    )

    def __post_init__(self) -> None:
        check_fields(self, owner="the host peak measurement")


__all__ = ["DTYPES", "KINDS", "MEMORY_OVERHEAD", "PHASES", "TASKS", "PeakMeasurement"]
