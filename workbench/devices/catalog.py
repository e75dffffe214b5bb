"""The device catalog: published peak figures of the devices a model could run on.

The catalog (``data/devices.csv``) holds one row per device, each with its ``source`` and
``as_of``. :func:`load_devices` reads it and refuses a bad row with an error naming the file,
the row and the column; :class:`Device` answers the peak a dtype reaches on it.
"""

from __future__ import annotations

import csv
import datetime
import difflib
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import pandas as pd

from workbench.devices.config import DTYPES, KINDS
from workbench.kit import checks
from workbench.kit.errors import DeviceNotFoundError, InvalidInputError
from workbench.kit.paths import data_dir

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
    # llama.cpp's block-quantised weight types (a benchmark point's dtype on that engine): their
    # bytes come from the point's own ``weight_bytes`` (the GGUF file), and the CPU kernels
    # multiply them as integer dot products (the weights unpacked to 8 bits, activations
    # quantised to 8 bits), so the int8 peak bounds their compute.
    "q4_0": "int8",
    "q4_1": "int8",
    "q5_0": "int8",
    "q5_1": "int8",
    "q8_0": "int8",
}
# Which catalog column holds each dtype's peak.
_PEAK_COLUMN = {
    "float32": "fp32_tflops",
    "bfloat16": "fp16_tflops",
    "float16": "fp16_tflops",
    "int8": "int8_tops",
}


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
        _check_device(self)

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


# ---------------------------------------------------------------------------------------------
# Catalog checks: what every row must hold (the loader adds the file, row and column)
# ---------------------------------------------------------------------------------------------


def _check_device(device: Device) -> None:
    if not _NAME_PATTERN.match(device.name or ""):
        raise checks.invalid(
            "name",
            device.name,
            "a short slug of lowercase letters, digits and dashes such as 'jetson-orin-nano'",
        )
    checks.choice("kind", device.kind, KINDS)
    for column in _REQUIRED_NUMBERS:
        checks.number(column, getattr(device, column), low=0, low_open=True)
    for column in _OPTIONAL_NUMBERS:
        if getattr(device, column) is not None:
            checks.number(
                column,
                getattr(device, column),
                low=0,
                low_open=True,
                fix="Leave it empty when no figure is published.",
            )
    checks.text(
        "display_name",
        device.display_name,
        fix="Every device needs a readable name such as 'Jetson Orin Nano'.",
    )
    checks.text(
        "source",
        device.source,
        fix="Every device needs the vendor data sheet or spec page its figures come from.",
    )
    _check_date("as_of", device.as_of)


def _check_date(column: str, value: Any) -> None:
    try:
        valid = len(str(value)) == 10 and datetime.date.fromisoformat(str(value))
    except ValueError:
        valid = False
    if not valid:
        raise checks.invalid(column, value, "the date the figures were checked, as YYYY-MM-DD")


# ---------------------------------------------------------------------------------------------
# Reading the catalog
# ---------------------------------------------------------------------------------------------


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
    header, rows = _read_csv(path)
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


def _read_csv(path: Path) -> tuple[list[str], list[dict[str, Any]]]:
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            return list(reader.fieldnames or []), list(reader)
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise InvalidInputError(f"Cannot read the device catalog {path}: {exc}.") from exc


def _device_from_row(path: Path, number: int, row: dict[str, Any]) -> Device:
    where = f"{path} row {number} (line {number + 1}, device {(row.get('name') or '?')!r})"
    values: dict[str, Any] = {}
    for column in COLUMNS:
        text = (row.get(column) or "").strip()
        if column in _REQUIRED_NUMBERS or column in _OPTIONAL_NUMBERS:
            values[column] = _figure(where, column, text)
        else:
            values[column] = text
    try:
        return Device(**values)
    except InvalidInputError as exc:
        raise InvalidInputError(f"{where}: {exc} Fix that column in the file.") from exc


def _figure(where: str, column: str, text: str) -> float | None:
    """The number in one figure cell; ``None`` for an empty optional one."""
    if not text:
        if column in _REQUIRED_NUMBERS:
            raise InvalidInputError(
                f"{where}, column `{column}`: empty, but every device needs it. Fill in "
                "the vendor's published figure."
            )
        return None
    try:
        return float(text)
    except ValueError:
        raise InvalidInputError(
            f"{where}, column `{column}`: {text!r} is not a number. Write a plain "
            "number such as 17.1, without units."
        ) from None


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


__all__ = ["COLUMNS", "Device", "devices_table", "get_device", "load_devices", "normalize_dtype"]
