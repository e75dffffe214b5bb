"""The device catalog (data/devices.csv), host peaks, workloads and the roofline projection."""

from __future__ import annotations

import datetime
import inspect
import math
from pathlib import Path

import pandas as pd
import pytest

from workbench.devices import (
    COLUMNS,
    KINDS,
    PROJECTION_COLUMNS,
    Device,
    HostPeak,
    PeakMeasurement,
    Projection,
    Workload,
    calibration_table,
    devices_table,
    get_device,
    load_devices,
    measure_host_peak,
    normalize_dtype,
    project,
    project_points,
)
from workbench.kit.errors import DeviceNotFoundError, InvalidInputError
from workbench.kit.fields import default_of

HEADER = ",".join(COLUMNS)
GOOD_ROW = "tiny-board,Tiny Board,sbc,0.1,,,4,10,5,50,a test data sheet,2026-01-01,made up"

# Round-number host: 100 GFLOP/s and 10 GB/s.
HOST = HostPeak(fp32_gflops=100.0, bandwidth_gbs=10.0, threads=2)


def make_device(name: str = "big", *, memory_gb: float = 100.0, **figures: float) -> Device:
    """A made-up device: 2 TFLOP/s fp32 and 100 GB/s unless told otherwise."""
    values = {
        "fp32_tflops": 2.0,
        "fp16_tflops": None,
        "int8_tops": None,
        "memory_bandwidth_gbs": 100.0,
        **figures,
    }
    return Device(
        name=name,
        display_name=name.title(),
        kind="datacenter-gpu",
        memory_gb=memory_gb,
        power_w=None,
        price_usd=None,
        source="written by the test",
        as_of="2026-01-01",
        **values,
    )


def embedding_workload() -> Workload:
    """F = 2 * 5e6 * 1 * 100 = 1e9 FLOPs and B = 1e8 bytes (no shape, so no extra terms)."""
    return Workload(
        task="embeddings", params=5_000_000, weight_bytes=100_000_000, dtype="float32", seq_len=100
    )


def write_csv(folder: Path, *rows: str, header: str = HEADER) -> Path:
    path = folder / "devices.csv"
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def two_points() -> pd.DataFrame:
    """One embeddings row and one generation row with hand-computable projections."""
    return pd.DataFrame(
        [
            {
                "model": "embedder",
                "task": "embeddings",
                "params": 5_000_000,
                "weight_bytes": 100_000_000,
                "dtype": "float32",
                "batch": 1,
                "seq_len": 100,
                "p50_ms": 20.0,
            },
            {
                "model": "chatter",
                "task": "text-generation",
                "params": 100_000_000,
                "weight_bytes": 400_000_000,
                "dtype": "float32",
                "batch": 1,
                "seq_len": 50,
                "p50_ms": 1200.0,
                "tpot_ms": 80.0,
                "ttft_ms": 400.0,
                "output_tokens": 11,
                "prompt_tokens": 50,
            },
        ]
    )


# The shipped catalog


def test_shipped_catalog_has_at_least_ten_devices():
    """data/devices.csv loads and lists at least ten devices, keyed by their own names."""
    devices = load_devices()

    assert len(devices) >= 10
    assert all(name == device.name for name, device in devices.items())


def test_shipped_catalog_covers_all_six_kinds():
    """Phones, boards, embedded GPUs, laptops, server CPUs and data-centre GPUs all appear."""
    kinds = {device.kind for device in load_devices().values()}

    assert kinds == set(KINDS)


def test_every_shipped_device_says_where_its_figures_come_from():
    """Every row has a non-empty source and an as_of date between 2024 and 2026."""
    for device in load_devices().values():
        assert device.source.strip(), device.name
        checked = datetime.date.fromisoformat(device.as_of)
        assert datetime.date(2024, 1, 1) <= checked <= datetime.date(2026, 12, 31), device.name


def test_every_shipped_device_has_positive_figures():
    """Every required figure is positive and every optional one is positive or empty."""
    for device in load_devices().values():
        assert device.fp32_tflops > 0 and device.memory_gb > 0, device.name
        assert device.memory_bandwidth_gbs > 0, device.name
        for optional in (device.fp16_tflops, device.int8_tops, device.power_w, device.price_usd):
            assert optional is None or optional > 0, device.name


def test_devices_table_has_one_row_per_device_and_the_csv_columns():
    """devices_table() is a DataFrame with the CSV's columns and one row per device."""
    table = devices_table()

    assert list(table.columns) == list(COLUMNS)
    assert len(table) == len(load_devices())


# Names and catalog errors


def test_get_device_returns_the_named_device():
    """get_device('jetson-orin-nano') returns that row."""
    assert get_device("jetson-orin-nano").kind == "embedded-gpu"


def test_unknown_device_suggests_the_closest_name():
    """A misspelt name ('jetson-orin-nan') raises DeviceNotFoundError suggesting 'jetson-orin-nano'."""
    with pytest.raises(DeviceNotFoundError) as error:
        get_device("jetson-orin-nan")

    assert "Did you mean 'jetson-orin-nano'" in str(error.value)


def test_a_valid_csv_loads_with_empty_optional_figures(tmp_path):
    """A well-formed CSV given by path loads; empty fp16/int8 cells become None."""
    devices = load_devices(write_csv(tmp_path, GOOD_ROW))

    assert list(devices) == ["tiny-board"]
    assert devices["tiny-board"].memory_bandwidth_gbs == 10.0
    assert devices["tiny-board"].fp16_tflops is None


def test_missing_column_names_the_file_and_the_column(tmp_path):
    """A header without memory_bandwidth_gbs raises InvalidInputError naming the file and column."""
    header = HEADER.replace(",memory_bandwidth_gbs", "")
    row = GOOD_ROW.replace(",4,10,", ",4,")
    path = write_csv(tmp_path, row, header=header)

    with pytest.raises(InvalidInputError) as error:
        load_devices(path)

    message = str(error.value)
    assert str(path) in message
    assert "memory_bandwidth_gbs" in message


def test_negative_bandwidth_names_the_file_row_and_column(tmp_path):
    """A negative memory_bandwidth_gbs in row 2 raises an error naming the file, row 2 and column."""
    bad = GOOD_ROW.replace("tiny-board", "bad-board").replace(",4,10,", ",4,-10,")
    path = write_csv(tmp_path, GOOD_ROW, bad)

    with pytest.raises(InvalidInputError) as error:
        load_devices(path)

    message = str(error.value)
    assert str(path) in message
    assert "row 2" in message and "bad-board" in message
    assert "`memory_bandwidth_gbs`" in message


def test_missing_source_is_named(tmp_path):
    """A row with an empty source raises an error naming the `source` column."""
    path = write_csv(tmp_path, GOOD_ROW.replace("a test data sheet", ""))

    with pytest.raises(InvalidInputError) as error:
        load_devices(path)

    assert "`source`" in str(error.value)


def test_bad_as_of_is_named(tmp_path):
    """A row whose as_of is not YYYY-MM-DD raises an error naming `as_of`."""
    path = write_csv(tmp_path, GOOD_ROW.replace("2026-01-01", "Jan 2026"))

    with pytest.raises(InvalidInputError) as error:
        load_devices(path)

    assert "`as_of`" in str(error.value)


def test_repeated_device_name_is_refused(tmp_path):
    """Two rows with the same name raise an error naming the name."""
    path = write_csv(tmp_path, GOOD_ROW, GOOD_ROW)

    with pytest.raises(InvalidInputError) as error:
        load_devices(path)

    assert "'tiny-board' appears twice" in str(error.value)


# Peaks


def test_bfloat16_and_float16_read_the_fp16_column():
    """peak_flops('bfloat16') and ('float16') are fp16_tflops x 1e12."""
    device = make_device(fp16_tflops=8.0)

    assert device.peak_flops("bfloat16") == 8e12
    assert device.peak_flops("float16") == 8e12
    assert device.has_peak("bf16")


def test_missing_dtype_peak_falls_back_to_fp32():
    """A device without an int8 figure uses its fp32 peak and says so through has_peak."""
    device = make_device(fp32_tflops=2.0, int8_tops=None)

    assert device.peak_flops("int8") == 2e12
    assert not device.has_peak("int8")


def test_unknown_dtype_is_refused():
    """peak_flops('float8') raises InvalidInputError listing the dtypes it knows."""
    with pytest.raises(InvalidInputError) as error:
        make_device().peak_flops("float8")

    assert "float32" in str(error.value)


# Workload formulas


def test_embedding_flops_include_attention_when_the_shape_is_known():
    """2*1000*2*3 + 4*2 layers*2*3^2*4 hidden = 12,000 + 576 = 12,576 FLOPs."""
    workload = Workload(
        task="embeddings",
        params=1000,
        weight_bytes=4000,
        dtype="float32",
        batch=2,
        seq_len=3,
        num_layers=2,
        hidden_size=4,
    )

    assert workload.flops() == 12_576


def test_embedding_bytes_add_one_activation_pass_per_layer():
    """4000 weight bytes + 2*2 layers*2*3*4 hidden*4 bytes = 4000 + 384 = 4384 bytes."""
    workload = Workload(
        task="embeddings",
        params=1000,
        weight_bytes=4000,
        dtype="float32",
        batch=2,
        seq_len=3,
        num_layers=2,
        hidden_size=4,
    )

    assert workload.bytes_moved() == 4384


def test_decode_step_flops_and_bytes_use_the_average_context():
    """Decode, context 10 + 4/2 = 12: 4000 + 768 FLOPs; 2000 + 2*2*2*12*4*2 = 2768 bytes (bf16)."""
    workload = Workload(
        task="text-generation",
        params=1000,
        weight_bytes=2000,
        dtype="bf16",
        batch=2,
        seq_len=10,
        output_tokens=4,
        phase="decode",
        num_layers=2,
        hidden_size=4,
    )

    assert workload.flops() == 4768
    assert workload.bytes_moved() == 2768


def test_prefill_without_shape_is_two_flops_per_param_per_token():
    """Prefill of 50 prompt tokens: 2*1e8*1*50 = 1e10 FLOPs; bytes are the weights alone."""
    workload = Workload(
        task="text-generation",
        params=100_000_000,
        weight_bytes=400_000_000,
        dtype="float32",
        seq_len=50,
        phase="prefill",
    )

    assert workload.flops() == 1e10
    assert workload.bytes_moved() == 4e8


def test_generation_defaults_to_the_decode_phase_and_normalises_dtype():
    """A text-generation Workload without a phase is a decode step; 'qint8' becomes 'int8'."""
    workload = Workload(task="text-generation", params=10, weight_bytes=10, dtype="qint8")

    assert workload.phase == "decode"
    assert workload.dtype == "int8"


def test_llama_cpp_weight_types_take_the_int8_peak():
    """A llama.cpp point's dtype ('q4_1', 'q8_0') is an integer-dot-product workload; 'f16'
    stays float16."""
    assert [normalize_dtype(d) for d in ("q4_1", "Q8_0", "f16")] == ["int8", "int8", "float16"]


def test_workload_rejects_a_zero_batch():
    """batch=0 raises InvalidInputError naming `batch`."""
    with pytest.raises(InvalidInputError) as error:
        Workload(task="embeddings", params=10, weight_bytes=10, dtype="float32", batch=0)

    assert "`batch`" in str(error.value)


# The projection


def test_projection_hand_computed_memory_bound():
    """Host roofline 0.01 s, measured 0.02 s: efficiency 0.5; device roofline 0.001 s -> 0.002 s."""
    projection = project(embedding_workload(), 0.02, HOST, make_device())

    assert projection.host_roofline_seconds == pytest.approx(0.01)
    assert projection.efficiency == pytest.approx(0.5)
    assert projection.device_roofline_seconds == pytest.approx(0.001)
    assert projection.seconds == pytest.approx(0.002)
    assert projection.bound == "memory"
    assert projection.fits and projection.reason == "" and projection.estimate is True


def test_projection_hand_computed_compute_bound():
    """A 0.5 TFLOP/s, 1000 GB/s device: 1e9/5e11 = 0.002 s > 1e8/1e12, so 0.004 s, compute-bound."""
    device = make_device(fp32_tflops=0.5, memory_bandwidth_gbs=1000.0)

    projection = project(embedding_workload(), 0.02, HOST, device)

    assert projection.seconds == pytest.approx(0.004)
    assert projection.bound == "compute"


def test_efficiency_is_clipped_to_one():
    """A measurement faster than the host roofline (0.005 s < 0.01 s) counts as efficiency 1."""
    projection = project(embedding_workload(), 0.005, HOST, make_device())

    assert projection.efficiency == 1.0
    assert projection.seconds == pytest.approx(0.001)


def test_projection_flags_a_fp32_fallback_peak():
    """Projecting an int8 workload onto a device without int8_tops sets peak_fallback."""
    workload = Workload(
        task="embeddings", params=5_000_000, weight_bytes=100_000_000, dtype="int8", seq_len=100
    )

    assert project(workload, 0.02, HOST, make_device()).peak_fallback


def test_device_too_small_is_refused_with_both_sizes():
    """0.54 GB of weights + 20% = 0.65 GB on a 0.5 GB device: fits False, seconds None, sizes named."""
    workload = Workload(
        task="embeddings", params=5_000_000, weight_bytes=540_000_000, dtype="float32"
    )

    projection = project(workload, 0.02, HOST, make_device("small", memory_gb=0.5))

    assert not projection.fits
    assert projection.seconds is None
    assert "needs 0.65 GB" in projection.reason
    assert "has 0.5 GB" in projection.reason
    assert "\n" not in projection.reason


def test_zero_measured_time_is_refused():
    """A measured time of 0 s raises InvalidInputError naming `measured_seconds`."""
    with pytest.raises(InvalidInputError) as error:
        project(embedding_workload(), 0.0, HOST, make_device())

    assert "`measured_seconds`" in str(error.value)


# Tables


def test_project_points_gives_one_row_per_point_and_device():
    """Two points x two devices give four rows, every one marked estimate=True."""
    devices = [make_device("big"), make_device("small", memory_gb=0.4)]

    table = project_points(two_points(), HOST, devices)

    assert len(table) == 4
    assert list(table["device"]) == ["big", "small", "big", "small"]
    assert table["estimate"].all()
    assert set(PROJECTION_COLUMNS) <= set(table.columns)


def test_project_points_projects_embeddings_p50():
    """The embeddings row projects p50 20 ms -> 2 ms, memory-bound, efficiency 0.5."""
    table = project_points(two_points(), HOST, [make_device()])
    row = table.iloc[0]

    assert row["projected_p50_ms"] == pytest.approx(2.0)
    assert row["efficiency"] == pytest.approx(0.5)
    assert row["bound"] == "memory"
    assert row["fits"] and row["reason"] == ""


def test_project_points_projects_generation_tpot_ttft_and_tokens_per_s():
    """Decode 80 ms -> 8 ms (125 tokens/s); prefill 400 ms -> 20 ms; request 20 + 10*8 = 100 ms."""
    table = project_points(two_points(), HOST, [make_device()])
    row = table.iloc[1]

    assert row["projected_tpot_ms"] == pytest.approx(8.0)
    assert row["projected_tokens_per_s"] == pytest.approx(125.0)
    assert row["bound"] == "memory"
    assert row["projected_ttft_ms"] == pytest.approx(20.0)
    assert row["ttft_efficiency"] == pytest.approx(0.25)
    assert row["ttft_bound"] == "compute"
    assert row["projected_p50_ms"] == pytest.approx(100.0)


def test_project_points_gives_nan_and_a_reason_where_the_model_does_not_fit():
    """On a 0.4 GB device the 0.48 GB generation model gets NaN figures and a sizes reason."""
    devices = [make_device("small", memory_gb=0.4)]

    row = project_points(two_points(), HOST, devices).iloc[1]

    assert not row["fits"]
    assert math.isnan(row["projected_tpot_ms"]) and math.isnan(row["projected_ttft_ms"])
    assert math.isnan(row["projected_tokens_per_s"]) and math.isnan(row["projected_p50_ms"])
    assert "needs 0.48 GB" in row["reason"] and "has 0.4 GB" in row["reason"]


def test_project_points_carries_the_point_columns_and_host_figures():
    """The point's own columns (model) and the host's measured peaks appear on every row."""
    table = project_points(two_points(), HOST, [make_device()])

    assert list(table["model"]) == ["embedder", "chatter"]
    assert (table["host_fp32_gflops"] == 100.0).all()
    assert (table["host_bandwidth_gbs"] == 10.0).all()


def test_project_points_missing_measurement_gives_nan_and_reason():
    """A generation row without tpot_ms gets NaN tpot and a reason naming tpot_ms, not an error."""
    points = two_points().drop(columns=["tpot_ms"])

    row = project_points(points, HOST, [make_device()]).iloc[1]

    assert math.isnan(row["projected_tpot_ms"])
    assert row["projected_ttft_ms"] == pytest.approx(20.0)
    assert "tpot_ms" in row["reason"]


def test_project_points_unknown_dtype_gives_nan_and_reason():
    """A row with dtype 'float8' gets NaN figures and a reason naming the dtype."""
    points = two_points()
    points.loc[0, "dtype"] = "float8"

    row = project_points(points, HOST, [make_device()]).iloc[0]

    assert math.isnan(row["projected_p50_ms"])
    assert "float8" in row["reason"]


def test_project_points_without_a_required_column_is_refused():
    """A table without weight_bytes raises InvalidInputError naming the column."""
    with pytest.raises(InvalidInputError) as error:
        project_points(two_points().drop(columns=["weight_bytes"]), HOST, [make_device()])

    assert "weight_bytes" in str(error.value)


def test_calibration_table_shows_each_steps_efficiency():
    """Forward 0.5; prefill 0.1 s roofline / 0.4 s = 0.25; decode 0.04 s / 0.08 s = 0.5."""
    table = calibration_table(HOST, two_points())

    assert list(table["phase"]) == ["forward", "prefill", "decode"]
    assert list(table["efficiency"]) == pytest.approx([0.5, 0.25, 0.5])
    assert list(table["host_roofline_ms"]) == pytest.approx([10.0, 100.0, 40.0])
    assert list(table["host_bound"]) == ["compute", "compute", "memory"]


def test_calibration_table_explains_a_clipped_efficiency():
    """A point measured faster than the host roofline gets efficiency 1 and a reason saying so."""
    points = two_points().iloc[[0]].assign(p50_ms=5.0)

    row = calibration_table(HOST, points).iloc[0]

    assert row["efficiency"] == 1.0
    assert "clipped to 1" in row["reason"]


# Round trips and the host measurement


@pytest.mark.parametrize(
    "value",
    [
        HOST,
        make_device(fp16_tflops=8.0),
        embedding_workload(),
        Projection(
            device="big",
            bound="memory",
            seconds=0.002,
            efficiency=0.5,
            host_roofline_seconds=0.01,
            device_roofline_seconds=0.001,
            fits=True,
        ),
    ],
    ids=["HostPeak", "Device", "Workload", "Projection"],
)
def test_to_dict_loads_back_equal(value):
    """from_dict(to_dict(x)) == x for HostPeak, Device, Workload and Projection."""
    assert type(value).from_dict(value.to_dict()) == value


def test_measure_host_peak_returns_positive_finite_numbers():
    """A short measurement gives positive, finite GFLOP/s and GB/s and the threads used."""
    peak = measure_host_peak(seconds=0.2, threads=1, matrix_size=256, copy_megabytes=16)

    assert math.isfinite(peak.fp32_gflops) and peak.fp32_gflops > 0
    assert math.isfinite(peak.bandwidth_gbs) and peak.bandwidth_gbs > 0
    assert peak.threads == 1


def test_measure_host_peak_refuses_a_zero_budget_before_measuring():
    """seconds=0 raises InvalidInputError naming `seconds` and the bad value."""
    with pytest.raises(InvalidInputError) as error:
        measure_host_peak(seconds=0)

    assert "`seconds`" in str(error.value) and "got 0" in str(error.value)


def test_measure_host_peak_defaults_are_the_settings_defaults():
    """measure_host_peak's keyword defaults are PeakMeasurement's field defaults."""
    defaults = inspect.signature(measure_host_peak).parameters

    for name in ("seconds", "threads", "matrix_size", "copy_megabytes"):
        assert defaults[name].default == default_of(PeakMeasurement, name), name
