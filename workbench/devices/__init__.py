"""Devices: the sourced device catalog, this host's measured peak, and roofline projections of a
measured benchmark onto other hardware.

``catalog`` reads ``data/devices.csv``; ``peak`` measures this host; ``roofline`` counts what a
step computes and moves; ``projection`` turns a host measurement into estimates for other
devices; ``config`` holds the room's vocabulary and settings.
"""

from __future__ import annotations

from workbench.devices.catalog import (
    COLUMNS,
    Device,
    devices_table,
    get_device,
    load_devices,
    normalize_dtype,
)
from workbench.devices.config import DTYPES, KINDS, MEMORY_OVERHEAD, PeakMeasurement
from workbench.devices.peak import HostPeak, measure_host_peak
from workbench.devices.projection import (
    CALIBRATION_COLUMNS,
    PROJECTION_COLUMNS,
    Projection,
    calibration_table,
    project,
    project_points,
)
from workbench.devices.roofline import (
    Workload,
    host_efficiency,
    memory_needed_bytes,
    roofline_seconds,
)

__all__ = [
    "CALIBRATION_COLUMNS",
    "COLUMNS",
    "DTYPES",
    "KINDS",
    "MEMORY_OVERHEAD",
    "PROJECTION_COLUMNS",
    "Device",
    "HostPeak",
    "PeakMeasurement",
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
