"""Kept array records: the same Flower Array, bytes and all, without parsing them per message."""

from __future__ import annotations

import io
import pickle

import numpy as np
import pytest
from flwr.app import Array, ArrayRecord

from workbench.federated.records import (
    KeptArray,
    array_record,
    kept,
    kept_arrays,
    ndarrays,
    npy_array,
    npy_bytes,
)

ARRAYS = {
    "float32 matrix": np.arange(12, dtype=np.float32).reshape(3, 4) / 7,
    "int64 vector": np.arange(5),
    "0-d": np.array(2.5),
    "empty": np.zeros((0, 3), dtype=np.float32),
    "fortran order": np.asfortranarray(np.arange(6.0).reshape(2, 3)),
    "strided view": np.arange(12.0).reshape(3, 4)[:, ::2],
    "unicode": np.array(["ab", "c"]),
}


@pytest.mark.parametrize("name", ARRAYS)
def test_kept_array_is_the_plain_array_byte_for_byte(name):
    """A KeptArray has the dtype, shape, stype and .npy bytes numpy.save gives, and equals Array."""
    ndarray = ARRAYS[name]
    kept_array, plain = KeptArray(ndarray), Array(ndarray)
    assert (kept_array.dtype, kept_array.shape, kept_array.stype) == (
        plain.dtype,
        plain.shape,
        plain.stype,
    )
    assert kept_array.data == plain.data
    assert kept_array == plain and plain == kept_array
    np.testing.assert_array_equal(kept_array.numpy(), ndarray)


@pytest.mark.parametrize("name", ARRAYS)
def test_npy_array_reads_what_numpy_load_reads(name):
    """npy_array gives numpy.load's array (values, dtype, shape), writable."""
    data = Array(ARRAYS[name]).data
    expected = np.load(io.BytesIO(data), allow_pickle=False)
    got = npy_array(data)
    assert got.dtype == expected.dtype and got.shape == expected.shape
    np.testing.assert_array_equal(got, expected)
    assert got.flags.writeable


def test_npy_bytes_equals_numpy_save():
    """npy_bytes writes exactly what numpy.save writes."""
    ndarray = np.random.default_rng(0).random((64, 10), dtype=np.float32)
    buffer = io.BytesIO()
    np.save(buffer, ndarray, allow_pickle=False)
    assert npy_bytes(ndarray) == buffer.getvalue()


def test_numpy_hands_out_copies():
    """Writing into what .numpy() returned (a DP strategy clips in place) leaves the record."""
    record = array_record([np.ones(3, dtype=np.float32)])
    first = record["0"].numpy()
    first *= 10
    np.testing.assert_array_equal(record["0"].numpy(), np.ones(3, dtype=np.float32))


def test_kept_array_deflates_as_a_plain_array():
    """Its deflated form and object id are the plain Array's, so Flower inflates it anywhere."""
    ndarray = np.arange(10, dtype=np.float32)
    kept_array, plain = KeptArray(ndarray), Array(ndarray)
    assert kept_array.deflate() == plain.deflate()
    assert kept_array.object_id == plain.object_id
    kept_record, plain_record = (
        array_record([ndarray, ndarray * 2]),
        ArrayRecord([ndarray, ndarray * 2]),
    )
    assert kept_record.object_id == plain_record.object_id


def test_a_pickled_kept_array_travels_as_bytes_and_reads_back():
    """Pickled (the Ray launcher's transport), it carries its bytes once and still reads back."""
    ndarray = np.arange(1000, dtype=np.float32)
    kept_array = KeptArray(ndarray)
    payload = pickle.dumps(kept_array)
    assert len(payload) < len(kept_array.data) + 1000
    back = pickle.loads(payload)
    np.testing.assert_array_equal(back.numpy(), ndarray)
    assert back == kept_array


def test_setting_data_drops_the_kept_array():
    """Replacing a KeptArray's bytes makes .numpy() read the new bytes."""
    kept_array = KeptArray(np.zeros(3))
    kept_array.data = Array(np.ones(3)).data
    np.testing.assert_array_equal(kept_array.numpy(), np.ones(3))


def test_records_read_back_in_order_and_plain_records_are_kept_once():
    """ndarrays reads plain and kept records alike; kept() turns a plain one into a kept one."""
    weights = [np.arange(6, dtype=np.float32).reshape(2, 3), np.ones(2, dtype=np.float32)]
    plain = ArrayRecord(weights)
    for record in (plain, array_record(weights), kept(plain)):
        got = ndarrays(record)
        assert len(got) == 2
        for a, b in zip(got, weights, strict=True):
            np.testing.assert_array_equal(a, b)
    made = kept(plain)
    assert all(isinstance(v, KeptArray) for v in made.values())
    assert kept(made) is made
    assert list(made) == list(plain)


def test_kept_arrays_tell_the_same_record_from_another():
    """The same record gives the very same kept arrays; a plain record gives none."""
    weights = [np.ones(2, dtype=np.float32)]
    record = array_record(weights)
    first, again = kept_arrays(record), kept_arrays(record)
    assert first is not None and all(a is b for a, b in zip(first, again, strict=True))
    assert not any(a is b for a, b in zip(first, kept_arrays(array_record(weights)), strict=True))
    assert kept_arrays(ArrayRecord(weights)) is None
