"""Devices: the sourced device catalog, this host's measured peak, and roofline projections of a
measured benchmark onto other hardware."""

from __future__ import annotations

from workbench.devices.catalog import (
    CALIBRATION_COLUMNS,
    COLUMNS,
    DTYPES,
    KINDS,
    PROJECTION_COLUMNS,
    Device,
    HostPeak,
    Projection,
    Workload,
    calibration_table,
    devices_table,
    get_device,
    host_efficiency,
    load_devices,
    measure_host_peak,
    memory_needed_bytes,
    normalize_dtype,
    project,
    project_points,
    roofline_seconds,
)

__all__ = [
    "CALIBRATION_COLUMNS",
    "COLUMNS",
    "DTYPES",
    "KINDS",
    "PROJECTION_COLUMNS",
    "Device",
    "HostPeak",
    "Projection",
    "Workload",
    "calibration_table",
    "devices_table",
    "get_device",
    "host_efficiency",
    "load_devices",
    "measure_host_peak",
    "memory_needed_bytes",
    "normalize_dtype",
    "project",
    "project_points",
    "roofline_seconds",
]
