"""The federated core: Flower strategies through the inline grid, the fleet's virtual clock,
failures, determinism, the run store and the CLI."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from conftest import run_cli
from flwr.app import ArrayRecord, ConfigRecord, Message, MetricRecord, RecordDict
from flwr.clientapp import ClientApp
from flwr.serverapp import ServerApp
from flwr.serverapp.strategy import FedAvg

from workbench import runs
from workbench.federated import FederationError
from workbench.federated.config import FedConfig
from workbench.federated.fleet import ClientTime, Fleet, Tier, client_time, settle_round
from workbench.federated.launchers.inline import run_inline
from workbench.federated.result import FedResult
from workbench.federated.runner import ROUND_COLUMNS, run_federated
from workbench.kit.errors import InvalidInputError

SMALL = FedConfig(num_clients=12, rounds=3, fraction=0.5, seed=3)


def _tier(**changes) -> Tier:
    values = dict(
        name="t",
        description="",
        device="",
        share=1.0,
        samples_per_s=100.0,
        down_mbps=8.0,
        up_mbps=2.0,
        latency_ms=50.0,
        startup_s=1.0,
        availability=1.0,
        hours=(0.0, 24.0),
        dropout=0.0,
        max_samples=0,
        source="test",
        as_of="2026-11-30",
    )
    values.update(changes)
    return Tier(**values)


# --- Flower strategies through the inline grid --------------------------------------------------


def test_fedavg_through_the_inline_grid_weights_client_arrays_by_their_examples():
    # Client 0 sends [1, 2] from 1 example, client 1 sends [5, 6] from 3 examples:
    # FedAvg must give (1*[1, 2] + 3*[5, 6]) / 4 = [4, 5].
    sent = {0: (np.array([1.0, 2.0]), 1), 1: (np.array([5.0, 6.0]), 3)}
    client = ClientApp()

    @client.train()
    def train(message, context):
        array, n = sent[int(context.node_config["partition-id"])]
        content = RecordDict(
            {"arrays": ArrayRecord([array]), "metrics": MetricRecord({"num-examples": n})}
        )
        return Message(content, reply_to=message)

    server = ServerApp()
    box = {}

    @server.main()
    def main(grid, context):
        strategy = FedAvg(min_train_nodes=2, min_available_nodes=2, fraction_evaluate=0.0)
        messages = strategy.configure_train(1, ArrayRecord([np.zeros(2)]), ConfigRecord(), grid)
        replies = grid.send_and_receive(messages)
        box["arrays"], _ = strategy.aggregate_train(1, replies)

    run_inline(server, client, num_clients=2)
    np.testing.assert_allclose(box["arrays"].to_numpy_ndarrays()[0], [4.0, 5.0])


def test_a_raising_client_app_becomes_an_error_reply_naming_the_exception():
    client = ClientApp()

    @client.train()
    def train(message, context):
        raise ValueError("sensor offline")

    server = ServerApp()
    box = {}

    @server.main()
    def main(grid, context):
        node = next(iter(grid.get_node_ids()))
        message = Message(RecordDict(), dst_node_id=node, message_type="train")
        box["replies"] = list(grid.send_and_receive([message]))

    run_inline(server, client, num_clients=1)
    (reply,) = box["replies"]
    assert reply.has_error()
    assert "ValueError: sensor offline" in reply.error.reason


# --- The virtual clock ------------------------------------------------------------------------


def test_client_time_on_a_hand_computed_round():
    # 1 s start-up; 50 ms latency each way; 1 MB down at 8 Mbit/s = 1 s; 1 MB up at 2 Mbit/s = 4 s;
    # 2 epochs x 150 examples at 100 examples/s = 3 s.
    t = client_time(
        _tier(), num_examples=150, local_epochs=2, bytes_down=1_000_000, bytes_up=1_000_000
    )
    assert t.startup_s == pytest.approx(1.0)
    assert t.download_s == pytest.approx(1.05)
    assert t.train_s == pytest.approx(3.0)
    assert t.upload_s == pytest.approx(4.05)
    assert t.total_s == pytest.approx(9.1)


def test_deadline_drops_exactly_the_clients_slower_than_it():
    times = {
        0: ClientTime(0, 1, 2, 1),  # 4 s
        1: ClientTime(0, 1, 5, 1),  # 7 s
        2: ClientTime(0, 1, 1, 0.5),  # 2.5 s
        3: ClientTime(0, 1, 4, 1),  # 6 s: exactly on the deadline still counts
    }
    outcome = settle_round(times, deadline_s=6.0)
    assert outcome.completed == (0, 2, 3)
    assert outcome.stragglers == (1,)
    assert outcome.sim_time_s == 6.0  # someone was late: the server waited out the deadline

    on_time = settle_round({c: times[c] for c in (0, 2)}, deadline_s=6.0)
    assert on_time.sim_time_s == pytest.approx(4.0)  # everyone in: the round ends with the last

    no_deadline = settle_round(times, deadline_s=None, missing=[7])
    assert no_deadline.completed == (0, 1, 2, 3)
    assert no_deadline.sim_time_s == pytest.approx(7.0)


def test_a_lost_client_makes_the_round_last_the_whole_deadline():
    outcome = settle_round({0: ClientTime(0, 1, 1, 1)}, deadline_s=10.0, missing=[4])
    assert outcome.completed == (0,)
    assert outcome.sim_time_s == 10.0


def test_run_marks_stragglers_by_their_simulated_time():
    # Phones without a start-up cost are quick; budget phones need 20 s to start: a 15 s deadline
    # separates them.
    config = FedConfig(
        num_clients=30,
        rounds=2,
        fraction=1.0,
        device_mix={"phone-high": 0.5, "phone-low": 0.5},
        deadline_s=15.0,
        seed=1,
    )
    result = run_federated(config, save=False, baseline=False)
    trained = result.clients[result.clients.status.isin(["completed", "straggler"])]
    assert set(trained[trained.status == "straggler"].tier) == {"phone-low"}
    assert (trained[trained.status == "straggler"].sim_time_s > 15.0).all()
    assert (trained[trained.status == "completed"].sim_time_s <= 15.0).all()
    assert (result.rounds.clients_straggling > 0).all()
    assert (result.rounds.sim_time_s == 15.0).all()


def test_fleet_follows_the_device_mix_and_the_tiers_hours():
    config = FedConfig(num_clients=40, device_mix={"laptop": 1.0})
    fleet = Fleet(config)
    assert set(fleet.client_tiers) == {"laptop"}
    # Laptops are online 8:00-18:00; the clock starts at 9:00, so 11 hours later nobody is there.
    assert fleet.plan_round(1, 0.0).available
    assert fleet.plan_round(1, 11 * 3600.0).available == ()


def test_fleet_draw_is_seeded_and_shares_are_respected():
    a = Fleet(FedConfig(num_clients=1000, seed=5)).client_tiers
    assert a == Fleet(FedConfig(num_clients=1000, seed=5)).client_tiers
    assert a != Fleet(FedConfig(num_clients=1000, seed=6)).client_tiers
    share_low = a.count("phone-low") / 1000
    assert 0.25 < share_low < 0.35  # the catalogue gives budget phones a 30% share


# --- Whole runs ----------------------------------------------------------------------------


def _comparable(result):
    return result.rounds.drop(columns=["wall_time_s"])


def test_a_small_run_learns_and_records_every_round():
    result = run_federated(FedConfig(num_clients=20, rounds=4, fraction=0.5), save=False)
    rounds = result.rounds
    assert list(rounds.columns) == list(ROUND_COLUMNS)
    assert rounds["round"].tolist() == [1, 2, 3, 4]
    assert rounds.accuracy.iloc[-1] > rounds.accuracy.iloc[0]
    assert rounds.accuracy.iloc[-1] > 0.5  # digits: ten classes, chance is 0.1
    assert (rounds.clients_completed <= rounds.clients_selected).all()
    assert (rounds.bytes_down > 0).all() and (rounds.bytes_up > 0).all()
    assert rounds.sim_clock_s.is_monotonic_increasing
    assert 0 < result.baseline["accuracy"] <= 1
    assert result.label_distribution.to_numpy().sum() == result.client_info.examples.sum()


def test_repeated_runs_are_identical():
    first = run_federated(SMALL, save=False, baseline=False)
    second = run_federated(SMALL, save=False, baseline=False)
    assert _comparable(first).equals(_comparable(second))
    assert first.clients.equals(second.clients)
    third = run_federated(SMALL.replace(seed=4), save=False, baseline=False)
    assert not _comparable(first).equals(_comparable(third))


@pytest.mark.parametrize("strategy", ["fedprox", "fedadam", "fedmedian", "krum"])
def test_every_strategy_trains(strategy):
    config = FedConfig(num_clients=20, rounds=3, fraction=0.5, strategy=strategy, seed=2)
    result = run_federated(config, save=False, baseline=False)
    assert result.rounds.accuracy.iloc[-1] > 0.3, result.rounds.accuracy.tolist()


def test_differential_privacy_reports_growing_epsilon_and_costs_accuracy():
    base = FedConfig(num_clients=20, rounds=3, fraction=0.5, seed=2)
    private = run_federated(base.replace(dp_noise=1.0, dp_clip=0.5), save=False, baseline=False)
    eps = private.rounds.epsilon.tolist()
    assert all(math.isfinite(e) and e > 0 for e in eps)
    assert eps == sorted(eps) and eps[-1] > eps[0]
    assert private.privacy["epsilon"] == pytest.approx(eps[-1])
    assert private.privacy["releases"] == 3
    public = run_federated(base, save=False, baseline=False)
    assert public.rounds.epsilon.isna().all()
    assert private.final_accuracy < public.final_accuracy


def test_a_failing_client_is_counted_and_the_round_goes_on():
    config = FedConfig(
        num_clients=6, rounds=2, fraction=1.0, faulty_clients=(1, 4), device_mix={"iot-gateway": 1}
    )
    result = run_federated(config, save=False, baseline=False)
    failed = result.clients[result.clients.status == "failed"]
    assert set(failed.client) <= {1, 4} and len(failed) > 0
    assert (
        result.rounds.clients_failed
        == result.rounds.apply(lambda r: len(failed[failed["round"] == r["round"]]), axis=1)
    ).all()
    assert result.rounds.clients_completed.min() > 0
    assert len(result.rounds) == 2


def test_all_clients_failing_gives_a_clear_error():
    config = FedConfig(num_clients=3, rounds=2, fraction=1.0, faulty_clients=(0, 1, 2))
    with pytest.raises(FederationError, match="Every client asked in round 1 failed") as info:
        run_federated(config, save=False, baseline=False)
    assert "faulty_clients" in str(info.value)


def test_a_run_that_fails_part_way_keeps_its_finished_rounds(tmp_path):
    def stop_at_round_2(row):
        if row["round"] == 2:
            raise RuntimeError("power cut")

    with pytest.raises(RuntimeError, match="power cut"):
        run_federated(SMALL, observer=stop_at_round_2, runs_dir=tmp_path, baseline=False)
    (summary,) = runs.list_runs(tmp_path)
    assert summary.status == "failed"
    kept = runs.load_run(summary.id, tmp_path).table("rounds")
    assert kept["round"].tolist() == [1, 2]


def test_a_saved_run_reads_back_from_the_run_store(tmp_path):
    result = run_federated(SMALL, runs_dir=tmp_path)
    run = runs.load_run(result.run_id, tmp_path)
    assert run.kind == "federated"
    assert run.status == "complete"
    assert run.config["num_clients"] == SMALL.num_clients
    assert run.table("rounds").accuracy.tolist() == pytest.approx(result.rounds.accuracy.tolist())
    assert run.summary["final_accuracy"] == pytest.approx(result.final_accuracy)
    assert set(run.tables) >= {"rounds", "clients", "label_distribution", "client_info"}


def test_a_saved_run_loads_back_equal_to_the_result_that_was_saved(tmp_path):
    """FedResult.from_run rebuilds the config, every table, the baseline, privacy and run id."""
    result = run_federated(SMALL.replace(dp_noise=1.0, dp_clip=0.5), runs_dir=tmp_path)

    loaded = FedResult.from_run(runs.load_run(result.run_id, tmp_path))

    assert loaded.config == result.config
    for name in ("rounds", "clients", "label_distribution", "client_info"):
        pd.testing.assert_frame_equal(
            getattr(loaded, name), getattr(result, name), check_exact=True
        )
    assert loaded.baseline == result.baseline and loaded.privacy == result.privacy
    assert (loaded.wall_time_s, loaded.run_id) == (result.wall_time_s, result.run_id)
    assert loaded.summary() == result.summary()


def test_a_run_saved_under_the_older_name_clients_still_loads(tmp_path):
    """Runs saved before num_clients was renamed (config key ``clients``) read back."""
    config = SMALL.to_dict()
    config["clients"] = config.pop("num_clients")
    with runs.start_run("federated", config, runs_dir=tmp_path) as old:
        old.add_table("rounds", pd.DataFrame({"round": [1], "accuracy": [0.5]}))

    loaded = FedResult.from_run(runs.load_run(old.id, tmp_path))

    assert loaded.config == SMALL
    assert loaded.final_accuracy == 0.5


# --- Bad input ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"num_clients": 0}, "num_clients"),
        ({"rounds": 0}, "rounds"),
        ({"fraction": 0.0}, "fraction"),
        ({"fraction": 1.5}, "fraction"),
        ({"alpha": 0.0}, "alpha"),
        ({"alpha": -1.0}, "alpha"),
        ({"strategy": "fedsgd"}, "strategy"),
        ({"task": "cifar"}, "task"),
        ({"deadline_s": -1.0}, "deadline_s"),
        ({"device_mix": {"tablet": 1.0}}, "device_mix"),
    ],
)
def test_bad_settings_are_refused_naming_the_field(changes, field):
    with pytest.raises(InvalidInputError, match=field):
        config = FedConfig(**changes)
        Fleet(config)


def test_more_classes_per_client_than_exist_is_refused():
    with pytest.raises(InvalidInputError, match="classes"):
        run_federated(
            FedConfig(num_clients=10, rounds=1, partition="pathological", classes_per_client=11),
            save=False,
        )


def test_a_split_that_leaves_a_client_empty_names_it_and_suggests_a_fix():
    config = FedConfig(num_clients=300, rounds=1, partition="dirichlet", alpha=0.05)
    with pytest.raises(InvalidInputError) as info:
        run_federated(config, save=False)
    message = str(info.value)
    assert "no data" in message and "alpha" in message


def test_a_deadline_no_client_can_meet_is_refused_before_training():
    with pytest.raises(InvalidInputError, match="deadline_s") as info:
        run_federated(FedConfig(num_clients=10, rounds=2, deadline_s=0.5), save=False)
    assert "cannot be met" in str(info.value)


# --- CLI ----------------------------------------------------------------------------------


def test_cli_fed_run_prints_rounds_and_writes_json(tmp_path):
    out = tmp_path / "fed.json"
    done = run_cli(
        "fed", "run", "--clients", "10", "--rounds", "2", "--fraction", "0.5",
        "--partition", "dirichlet", "--alpha", "1", "--json", str(out),
        "--runs-dir", str(tmp_path / "runs"),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "round 1/2: accuracy" in done.stderr and "round 2/2" in done.stderr
    assert "saved as run" in done.stdout
    records = json.loads(out.read_text())
    assert [r["round"] for r in records] == [1, 2]
    required = {"round", "accuracy", "loss", "clients_completed", "clients_dropped", "bytes_up",
                "bytes_down", "sim_time_s", "wall_time_s"}  # fmt: skip
    assert required <= set(records[0])
    assert [s.kind for s in runs.list_runs(tmp_path / "runs")] == ["federated"]


def test_cli_reads_a_config_file_and_flags_override_it(tmp_path):
    config = tmp_path / "fed.toml"
    config.write_text('[federated]\nclients = 8\nrounds = 1\nstrategy = "fedmedian"\n')
    done = run_cli(
        "fed", "run", "--config", str(config), "--rounds", "2", "--no-save", "--no-baseline"
    )
    assert done.returncode == 0, done.stderr
    assert "round 2/2" in done.stderr


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--clients", "0"], "`num_clients`"),
        (["--fraction", "2"], "`fraction`"),
        (["--alpha", "0", "--partition", "dirichlet"], "`alpha`"),
        (["--device-mix", "phones"], "--device-mix"),
        (["--deadline", "0.01"], "cannot be met"),
    ],
)
def test_cli_bad_input_is_one_line_with_exit_status_2(args, needle):
    done = run_cli("fed", "run", "--no-save", *args)
    assert done.returncode == 2
    assert needle in done.stderr
    assert "Traceback" not in done.stderr
    assert done.stderr.startswith("error: ") and done.stderr.count("\n") == 1


def test_the_deployment_launcher_is_refused_in_a_simulation_with_the_way_to_run_it():
    with pytest.raises(InvalidInputError, match="flwr run"):
        run_federated(SMALL.replace(launcher="deployment"), save=False)
