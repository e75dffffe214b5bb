"""Flower array records without the per-message serialisation cost.

A Flower :class:`~flwr.app.Array` holds its array as ``.npy`` bytes: ``Array(ndarray)`` runs
``numpy.save`` and every ``.numpy()`` runs ``numpy.load``, which parses the header with
``ast.literal_eval``. On the inline launcher every client of a round receives the same global
model and the server reads every reply, so a 1,000-client run spent over a quarter of its time
writing and parsing the same few headers (``benchmarks/bench_fed.py``).

:class:`KeptArray` is an ``Array`` like any other (same ``dtype``, ``shape``, ``stype`` and
``.npy`` bytes, byte for byte what ``numpy.save`` writes), so Flower's strategies, message
checks and transports take it unchanged; it also keeps the array it was made from, and
``.numpy()`` hands back a copy of that instead of parsing the bytes. Pickled (the Ray launcher
sends messages to its actors that way) it travels as its bytes only and parses them once on the
other side, with the header parsed once per (dtype, shape) for the whole process.
"""

from __future__ import annotations

import io
from functools import lru_cache
from typing import Any

import numpy as np
from flwr.app import Array, ArrayRecord
from flwr.common.constant import SType

_KEPT = "_kept_ndarray"  # where a KeptArray keeps its array (not part of the dataclass fields)


@lru_cache(maxsize=256)
def _npy_header(descr: str, shape: tuple[int, ...]) -> bytes:
    """The ``.npy`` header ``numpy.save`` writes for a C-ordered array of this dtype and shape."""
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        buffer, {"descr": descr, "fortran_order": False, "shape": shape}
    )
    return buffer.getvalue()


@lru_cache(maxsize=256)
def _parsed_header(header: bytes) -> tuple[np.dtype, tuple[int, ...], bool]:
    """(dtype, shape, fortran order) of a ``.npy`` header, parsed once per distinct header."""
    buffer = io.BytesIO(header)
    version = np.lib.format.read_magic(buffer)
    if version == (1, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_1_0(buffer)
    elif version == (2, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_2_0(buffer)
    else:  # version 3 (utf-8 field names): left to numpy.load
        raise ValueError(f"npy format version {version}")
    return dtype, tuple(shape), bool(fortran)


def _header_length(data: bytes) -> int:
    """Bytes of the ``.npy`` header at the start of ``data`` (format versions 1, 2 and 3)."""
    major = data[6]
    if major == 1:
        return 10 + int.from_bytes(data[8:10], "little")
    return 12 + int.from_bytes(data[8:12], "little")


@lru_cache(maxsize=64)
def _dtype_names(dtype: np.dtype) -> tuple[str, str]:
    """(``str(dtype)``, the ``.npy`` descr of ``dtype``), worked out once per dtype."""
    return str(dtype), np.lib.format.dtype_to_descr(dtype)


def npy_bytes(ndarray: np.ndarray) -> bytes:
    """``ndarray`` as ``.npy`` bytes, equal to what ``numpy.save`` writes, without its overhead."""
    if not ndarray.flags.c_contiguous or ndarray.dtype.hasobject or ndarray.dtype.names:
        buffer = io.BytesIO()
        np.save(buffer, ndarray, allow_pickle=False)
        return buffer.getvalue()
    return _npy_header(_dtype_names(ndarray.dtype)[1], ndarray.shape) + ndarray.tobytes()


def npy_array(data: bytes) -> np.ndarray:
    """The array in ``.npy`` bytes, as ``numpy.load`` reads it (a new, writable array)."""
    try:
        length = _header_length(data)
        dtype, shape, fortran = _parsed_header(bytes(data[:length]))
    except (IndexError, ValueError, TypeError):
        return np.load(io.BytesIO(data), allow_pickle=False)  # numpy explains what is wrong
    if dtype.hasobject:
        return np.load(io.BytesIO(data), allow_pickle=False)  # refuses, as Flower does
    flat = np.frombuffer(data, dtype=dtype, offset=length, count=int(np.prod(shape)))
    return flat.reshape(shape, order="F" if fortran else "C").copy(order="K")


class KeptArray(Array):
    """A Flower ``Array`` that keeps its ndarray: ``.numpy()`` without parsing the bytes.

    It compares, serialises and transports as the plain ``Array`` of the same array would.
    ``.numpy()`` returns a new writable copy each time, as ``Array.numpy`` does, so a strategy
    that clips a reply in place cannot change the record it came from.
    """

    def __init__(self, ndarray: np.ndarray, *, copy: bool = True) -> None:
        array = np.array(ndarray, copy=True) if copy else ndarray
        array.flags.writeable = False
        # What Array.__init__(dtype=, shape=, stype=, data=) leaves in __dict__, set at once:
        # its argument checks cost more than the rest of this on small arrays.
        self.__dict__.update(
            dtype=_dtype_names(array.dtype)[0],
            shape=array.shape,
            stype=SType.NUMPY,
            data=npy_bytes(array),
            _is_dirty=True,
        )
        self.__dict__[_KEPT] = array

    def numpy(self) -> np.ndarray:
        """The array, as a new writable copy (parsed from the bytes once if not kept)."""
        kept = self.__dict__.get(_KEPT)
        if kept is None:
            kept = npy_array(self.data)
            kept.flags.writeable = False
            self.__dict__[_KEPT] = kept
        return kept.copy()

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Array):
            return NotImplemented
        return (self.dtype, self.shape, self.stype, self.data) == (
            other.dtype,
            other.shape,
            other.stype,
            other.data,
        )

    __hash__ = None  # mutable, like Array

    def __setattr__(self, name: str, value: Any) -> None:
        if name in ("dtype", "shape", "stype", "data"):
            self.__dict__.pop(_KEPT, None)  # the bytes change: the kept array no longer holds
        super().__setattr__(name, value)

    def deflate(self) -> bytes:
        """Deflated exactly as the plain ``Array`` (Flower inflates objects by type name)."""
        plain = Array(dtype=self.dtype, shape=self.shape, stype=self.stype, data=self.data)
        return plain.deflate()

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.pop(_KEPT, None)  # travel as bytes only; the other side parses them once
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)


def array_record(ndarrays: list[np.ndarray], *, copy: bool = True) -> ArrayRecord:
    """An ``ArrayRecord`` of ``ndarrays`` keyed ``"0"``, ``"1"``, ... as
    ``ArrayRecord(ndarrays)`` makes it, of :class:`KeptArray` values.

    ``copy=False`` hands the arrays over to the record (they become read-only): for arrays
    nobody else holds, such as fresh copies of a model's weights.
    """
    record = ArrayRecord()
    for i, ndarray in enumerate(ndarrays):
        record[str(i)] = KeptArray(np.asarray(ndarray), copy=copy)
    return record


def kept_arrays(record: ArrayRecord) -> tuple[np.ndarray, ...] | None:
    """The read-only arrays ``record``'s values keep (``None`` unless every value keeps one).

    They change identity whenever a value's bytes change, so holding on to them tells whether
    a later record carries the very same arrays.
    """
    arrays = tuple(value.__dict__.get(_KEPT) for value in record.values())
    if not arrays or any(array is None for array in arrays):
        return None
    return arrays


def kept(record: ArrayRecord) -> ArrayRecord:
    """``record`` with every value a :class:`KeptArray` (the same record if already so)."""
    if all(isinstance(value, KeptArray) for value in record.values()):
        return record
    out = ArrayRecord()
    for key, value in record.items():
        out[key] = value if isinstance(value, KeptArray) else KeptArray(npy_array(value.data))
    return out


def ndarrays(record: ArrayRecord) -> list[np.ndarray]:
    """The arrays of ``record`` in order, as ``record.to_numpy_ndarrays()`` gives them, but
    without parsing a header more than once per (dtype, shape)."""
    return [
        value.numpy() if isinstance(value, KeptArray) else npy_array(value.data)
        for value in record.values()
    ]


__all__ = [
    "KeptArray",
    "array_record",
    "kept",
    "kept_arrays",
    "ndarrays",
    "npy_array",
    "npy_bytes",
]
