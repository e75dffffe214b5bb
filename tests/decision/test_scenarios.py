"""Scenario files: loading and checking them, resolving their runs, comparing their options."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from workbench.cost import load_prices
from workbench.decision import (
    COMPARE_COLUMNS,
    Scenario,
    ScenarioError,
    ScenarioRunError,
    compare_options,
    load_scenario,
    resolve_run,
)
from workbench.devices import Device
from workbench.runs import start_run

# The test catalog's instance row is dated 2025-01-01 on purpose; one test checks the warning.
pytestmark = pytest.mark.filterwarnings("ignore::workbench.cost.StalePriceWarning")

# A made-up device: 2 TFLOP/s fp32, 100 GB/s, 100 GB.
BIG = Device(
    name="big",
    display_name="Big GPU",
    kind="datacenter-gpu",
    fp32_tflops=2.0,
    fp16_tflops=None,
    int8_tops=None,
    memory_gb=100.0,
    memory_bandwidth_gbs=100.0,
    power_w=None,
    price_usd=None,
    source="written by the test",
    as_of="2026-11-01",
)
BOX = Device(
    name="box",
    display_name="Edge Box",
    kind="embedded-gpu",
    fp32_tflops=1.0,
    fp16_tflops=None,
    int8_tops=None,
    memory_gb=8.0,
    memory_bandwidth_gbs=50.0,
    power_w=15.0,
    price_usd=300.0,
    source="written by the test",
    as_of="2026-11-01",
)
DEVICES = {"big": BIG, "box": BOX}
# Round-number host: 100 GFLOP/s and 10 GB/s.
HOST_PEAK = {"fp32_gflops": 100.0, "bandwidth_gbs": 10.0, "threads": 2}

WORKLOAD = """
[workload]
requests_per_month = 2628000
peak_requests_per_s = 3.0
input_tokens = 100
output_tokens = 0
latency_objective_ms = 100
data_must_stay_on_premises = false
arrival_pattern = "poisson"
burstiness = 1.0
"""
RUNS = """
[runs]
local = "latest:bench:tiny-embed"
"""
OPTIONS = """
[[options]]
name = "API"
kind = "api"
provider = "testco"
model = "embed-1"

[[options]]
name = "Rented GPU"
kind = "instance"
instance = "gpu-1"
utilization = 0.5

[[options]]
name = "This machine"
kind = "local"
power_w = 100
hardware_usd = 1200
amortization_months = 12
usd_per_kwh = 0.2
ops_usd_per_month = 10
utilization = 0.5
"""


@pytest.fixture
def prices(tmp_path):
    """One API at $1/Mtok input and one $1/h instance on the 'big' device."""
    folder = tmp_path / "prices"
    folder.mkdir()
    (folder / "currencies.csv").write_text(
        "currency,usd_per_unit,source,as_of,notes\nUSD,1,definition,2026-11-01,\n", encoding="utf-8"
    )
    (folder / "api_tokens.csv").write_text(
        "provider,model,input_usd_per_mtok,output_usd_per_mtok,currency,source,as_of,notes\n"
        "testco,embed-1,1.0,0,USD,https://testco.example/prices,2026-11-01,\n",
        encoding="utf-8",
    )
    (folder / "instances.csv").write_text(
        "provider,name,accelerator,accelerator_count,vcpus,memory_gb,usd_per_hour,region,device,"
        "currency,source,as_of,notes\n"
        "testcloud,gpu-1,Big GPU,1,4,16,1.0,test-1,big,USD,https://testcloud.example,2025-01-01,\n",
        encoding="utf-8",
    )
    return load_prices(folder)


def write_scenario(folder: Path, text: str, name: str = "scenario.toml") -> Path:
    """Write a scenario file and return its path."""
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def record_embedding_run(runs_dir: Path, p50_ms: float = 20.0, model: str = "tiny-embed") -> str:
    """A bench run of one embeddings point: F = 2 x 5e6 x 100 = 1e9 FLOPs, B = 1e8 bytes."""
    points = pd.DataFrame(
        [
            {
                "model": model,
                "task": "embeddings",
                "variant": "fp32",
                "dtype": "float32",
                "threads": 2,
                "batch": 1,
                "seq_len": 100,
                "params": 5_000_000,
                "weight_bytes": 100_000_000,
                "p50_ms": p50_ms,
                "throughput_items_per_s": 1000.0 / p50_ms,
                "tokens_per_s": 100 * 1000.0 / p50_ms,
            }
        ]
    )
    with start_run(
        "bench",
        {"model": model},
        label=model,
        runs_dir=runs_dir,
        environment_extra={"host_peak": HOST_PEAK},
    ) as run:
        run.add_table("points", points)
    return run.id


# --------------------------------------------------------------------------------------------
# Loading


def test_shipped_scenarios_load():
    """Both shipped scenarios load against the shipped catalogs."""
    chatbot = load_scenario("support_chatbot")
    search = load_scenario("document_search")

    assert chatbot.workload.output_tokens > 0 and chatbot.runs["local"].endswith("smollm2-135m")
    assert search.workload.output_tokens == 0 and search.runs["local"].endswith("minilm")
    assert {o.kind for o in chatbot.options} == {"api", "instance", "owned", "local"}


def test_options_that_break_the_on_premises_rule_are_flagged_not_dropped():
    """document_search keeps its API options and names each in a flag."""
    scenario = load_scenario("document_search")

    api_names = [o.name for o in scenario.options if o.kind == "api"]
    assert api_names
    for name in api_names:
        assert any(repr(name) in flag for flag in scenario.flags)


def test_scenario_loads_from_a_file(tmp_path, prices):
    """A scenario written by hand loads with its workload, runs and options."""
    path = write_scenario(tmp_path, 'name = "Test"\n' + WORKLOAD + RUNS + OPTIONS)

    scenario = load_scenario(path, prices=prices, devices=DEVICES)

    assert scenario.name == "Test"
    assert scenario.workload.peak_requests_per_s == 3.0
    assert [o.name for o in scenario.options] == ["API", "Rented GPU", "This machine"]
    assert scenario.options[2].max_units == 1  # a local option is one machine by default
    assert scenario.flags == ()


def test_scenario_round_trips_through_a_dict(tmp_path, prices):
    """What to_dict saves, from_dict loads back equal."""
    scenario = load_scenario(
        write_scenario(tmp_path, WORKLOAD + RUNS + OPTIONS), prices=prices, devices=DEVICES
    )

    assert Scenario.from_dict(scenario.to_dict()) == scenario


@pytest.mark.parametrize(
    ("old", "new", "field"),
    [
        ("requests_per_month = 2628000", "requests_per_month = 0", "requests_per_month"),
        ("latency_objective_ms = 100", "latency_objective_ms = 0", "latency_objective_ms"),
        ("latency_objective_ms = 100", "latency_objective_ms = -50", "latency_objective_ms"),
        ('arrival_pattern = "poisson"', 'arrival_pattern = "steady"', "arrival_pattern"),
        ("utilization = 0.5", "utilization = 1.5", "utilization"),
    ],
)
def test_bad_field_names_the_file_and_the_field(tmp_path, prices, old, new, field):
    """A value out of range is refused with the file and the field in the message."""
    text = (WORKLOAD + RUNS + OPTIONS).replace(old, new, 1)
    path = write_scenario(tmp_path, text)

    with pytest.raises(ScenarioError, match=f"`{field}`") as caught:
        load_scenario(path, prices=prices, devices=DEVICES)
    assert str(path) in str(caught.value)


def test_unknown_option_kind_lists_the_kinds(tmp_path, prices):
    """kind = "cloud" is refused with the accepted kinds."""
    text = WORKLOAD + RUNS + OPTIONS.replace('kind = "instance"', 'kind = "cloud"')

    with pytest.raises(ScenarioError, match=r"`kind`.*api, instance, owned, local"):
        load_scenario(write_scenario(tmp_path, text), prices=prices, devices=DEVICES)


def test_unknown_device_suggests_a_close_name(tmp_path, prices):
    """A misspelt device is refused with the closest catalog name."""
    text = WORKLOAD + RUNS + OPTIONS.replace("power_w = 100", 'device = "boxx"')

    with pytest.raises(ScenarioError, match="Did you mean 'box'"):
        load_scenario(write_scenario(tmp_path, text), prices=prices, devices=DEVICES)


def test_unknown_instance_suggests_a_close_name(tmp_path, prices):
    """A misspelt instance is refused with the closest catalog name."""
    text = WORKLOAD + RUNS + OPTIONS.replace('instance = "gpu-1"', 'instance = "gpu1"')

    with pytest.raises(ScenarioError, match="Did you mean 'gpu-1'"):
        load_scenario(write_scenario(tmp_path, text), prices=prices, devices=DEVICES)


def test_unknown_api_model_suggests_a_close_name(tmp_path, prices):
    """A misspelt API model is refused with the closest catalog name."""
    text = WORKLOAD + RUNS + OPTIONS.replace('model = "embed-1"', 'model = "embed1"')

    with pytest.raises(ScenarioError, match="Did you mean 'embed-1'"):
        load_scenario(write_scenario(tmp_path, text), prices=prices, devices=DEVICES)


def test_unknown_option_field_is_refused_with_a_suggestion(tmp_path, prices):
    """A misspelt field in an option is named with the closest real one."""
    text = WORKLOAD + RUNS + OPTIONS.replace("utilization = 0.5\n", "utilisation = 0.5\n", 1)

    with pytest.raises(ScenarioError, match="Did you mean 'utilization'"):
        load_scenario(write_scenario(tmp_path, text), prices=prices, devices=DEVICES)


def test_option_needing_a_run_that_runs_does_not_name_is_refused(tmp_path, prices):
    """Without [runs] local, the instance and local options have no throughput."""
    with pytest.raises(ScenarioError, match=r"field `run`.*not in \[runs\]"):
        load_scenario(write_scenario(tmp_path, WORKLOAD + OPTIONS), prices=prices, devices=DEVICES)


def test_missing_workload_table_is_refused(tmp_path, prices):
    """A scenario without [workload] says what the table needs."""
    with pytest.raises(ScenarioError, match=r"no \[workload\]"):
        load_scenario(write_scenario(tmp_path, RUNS + OPTIONS), prices=prices, devices=DEVICES)


# --------------------------------------------------------------------------------------------
# Runs


def test_a_scenario_naming_a_missing_run_id_fails_naming_it(tmp_path, prices):
    """A run id that is not in the runs directory is named, with `workbench runs list`."""
    text = (
        WORKLOAD + RUNS.replace("latest:bench:tiny-embed", "20260101-000000-bench-gone") + OPTIONS
    )
    scenario = load_scenario(write_scenario(tmp_path, text), prices=prices, devices=DEVICES)

    with pytest.raises(ScenarioRunError, match="20260101-000000-bench-gone") as caught:
        compare_options(scenario, tmp_path / "runs", prices=prices, devices=DEVICES)
    assert "workbench runs list" in str(caught.value)


def test_a_scenario_naming_a_model_never_benchmarked_fails_naming_it(tmp_path, prices):
    """latest:bench:<model> with no such run says how to record one."""
    record_embedding_run(tmp_path / "runs", model="another-model")
    scenario = load_scenario(
        write_scenario(tmp_path, WORKLOAD + RUNS + OPTIONS), prices=prices, devices=DEVICES
    )

    with pytest.raises(ScenarioRunError, match="latest:bench:tiny-embed") as caught:
        compare_options(scenario, tmp_path / "runs", prices=prices, devices=DEVICES)
    assert "workbench bench tiny-embed" in str(caught.value)


def test_latest_names_the_newest_complete_run_of_the_model(tmp_path):
    """Of two bench runs of the model, latest:bench picks the one started last."""
    record_embedding_run(tmp_path / "runs", p50_ms=40.0)
    newest = record_embedding_run(tmp_path / "runs", p50_ms=20.0)

    assert resolve_run("latest:bench:tiny-embed", tmp_path / "runs").id == newest


# --------------------------------------------------------------------------------------------
# Comparing


@pytest.fixture
def comparison(tmp_path, prices):
    """The test scenario compared with a recorded run (20 ms per text on the host)."""
    record_embedding_run(tmp_path / "runs")
    scenario = load_scenario(
        write_scenario(tmp_path, WORKLOAD + RUNS + OPTIONS), prices=prices, devices=DEVICES
    )
    table = compare_options(
        scenario, tmp_path / "runs", prices=prices, devices=DEVICES, today="2026-11-29"
    )
    return table.set_index("option")


def test_compare_options_monthly_costs_match_the_hand_computation(comparison):
    """API 2,628,000 x 100 tokens x $1/Mtok = $262.80; GPU 1 x $1 x 730 = $730;
    this machine $1,200 / 12 + 0.1 kW x 730 h x $0.20 + $10 = $124.60."""
    assert comparison["monthly_usd"].to_dict() == pytest.approx(
        {"API": 262.8, "Rented GPU": 730.0, "This machine": 124.6}
    )
    assert comparison.loc["API", "usd_per_1k_requests"] == pytest.approx(0.1)


def test_compare_options_sizes_from_measured_and_projected_throughput(comparison):
    """Measured 50 texts/s x 0.5 here; projected 2 ms (500/s) x 0.5 on the GPU, an estimate.

    Host roofline 0.01 s against 0.02 s measured is 50% efficient; the device roofline is
    max(1e9 / 2e12, 1e8 / 1e11) = 1 ms, so 2 ms there.
    """
    assert comparison.loc["This machine", "capacity_requests_per_s"] == pytest.approx(25.0)
    assert not comparison.loc["This machine", "estimate"]
    assert comparison.loc["Rented GPU", "p50_ms"] == pytest.approx(2.0)
    assert comparison.loc["Rented GPU", "capacity_requests_per_s"] == pytest.approx(250.0)
    assert comparison.loc["Rented GPU", "estimate"]
    assert pd.isna(comparison.loc["API", "units"])
    assert comparison.loc[["Rented GPU", "This machine"], "units"].tolist() == [1, 1]


def test_compare_options_break_even_against_the_cheapest_other(comparison):
    """API against this machine: $124.60 / $0.0001 a request = 1,246,000 requests a month."""
    assert comparison.loc["API", "break_even_vs"] == "This machine"
    assert comparison.loc["API", "break_even_requests_per_month"] == pytest.approx(1_246_000)
    assert comparison.loc["Rented GPU", "break_even_vs"] == "This machine"
    assert "most units" in comparison.loc["Rented GPU", "break_even_reason"]


def test_compare_options_lists_price_rows_with_source_and_date(comparison):
    """Each option names the catalog rows it used, their sources and dates; old rows are stale."""
    gpu = comparison.loc["Rented GPU"]

    assert gpu["price_rows"] == "instances:testcloud/gpu-1"
    assert gpu["price_sources"] == "https://testcloud.example"
    assert gpu["price_as_of"] == "2025-01-01"
    assert gpu["stale"]
    assert not comparison.loc["API", "stale"]
    assert list(comparison.reset_index().columns) == list(COMPARE_COLUMNS)


def test_compare_options_warns_about_stale_rows(tmp_path, prices):
    """The 2025-01-01 instance row is reported when it feeds a cost on 2026-11-29."""
    record_embedding_run(tmp_path / "runs")
    scenario = load_scenario(
        write_scenario(tmp_path, WORKLOAD + RUNS + OPTIONS), prices=prices, devices=DEVICES
    )

    with pytest.warns(UserWarning, match="instances:testcloud/gpu-1"):
        table = compare_options(
            scenario, tmp_path / "runs", prices=prices, devices=DEVICES, today="2026-11-29"
        )
    assert any("instances:testcloud/gpu-1" in w for w in table.attrs["warnings"])


def test_compare_options_flags_off_premises_options(tmp_path, prices):
    """With data kept on the premises, the API and the rented GPU are flagged, not dropped."""
    record_embedding_run(tmp_path / "runs")
    text = (WORKLOAD + RUNS + OPTIONS).replace(
        "data_must_stay_on_premises = false", "data_must_stay_on_premises = true"
    )
    scenario = load_scenario(write_scenario(tmp_path, text), prices=prices, devices=DEVICES)

    table = compare_options(
        scenario, tmp_path / "runs", prices=prices, devices=DEVICES, today="2026-11-29"
    ).set_index("option")

    assert table["on_premises_ok"].to_dict() == {
        "API": False,
        "Rented GPU": False,
        "This machine": True,
    }
    assert len(table.attrs["warnings"]) >= 2


def test_owned_option_projects_onto_its_device_and_prices_it_from_the_catalog(tmp_path, prices):
    """The edge box: $300 / 36 + 15 W x 730 h x $0.20 = $8.333 + $2.19, throughput estimated."""
    record_embedding_run(tmp_path / "runs")
    owned = (
        '\n[[options]]\nname = "Edge box"\nkind = "owned"\ndevice = "box"\n'
        "amortization_months = 36\nusd_per_kwh = 0.2\n"
    )
    scenario = load_scenario(
        write_scenario(tmp_path, WORKLOAD + RUNS + OPTIONS + owned), prices=prices, devices=DEVICES
    )

    row = (
        compare_options(
            scenario, tmp_path / "runs", prices=prices, devices=DEVICES, today="2026-11-29"
        )
        .set_index("option")
        .loc["Edge box"]
    )

    assert row["monthly_usd"] == pytest.approx(300 / 36 + 2.19)
    assert row["estimate"]
    assert row["price_rows"] == "devices:box"
