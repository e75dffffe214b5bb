"""The ServerApp's work: discover the clients, then run every round on the fleet's virtual clock.

The main loop drives a Flower strategy round by round (``configure_train`` /
``aggregate_train``) instead of calling ``strategy.start``: the synthetic fleet decides which
clients are online, asked and dropped, and the virtual clock decides who straggles past the
deadline, before the strategy aggregates what arrived in time. It runs the same on every
launcher, against whatever grid it is given.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from flwr.app import ArrayRecord, ConfigRecord, Message, MessageType, MetricRecord, RecordDict
from flwr.serverapp import Grid
from flwr.serverapp import strategy as flwr_strategy
from flwr.supercore.privacy_accounting import NeighboringRelation, PrivacyConfig, SamplingMethod
from flwr.supercore.privacy_accounting.rdp_accountant import RdpAccountant

from workbench.federated import learning
from workbench.federated.checkpoint import RoundState, restore_strategy, strategy_state
from workbench.federated.config import FedConfig
from workbench.federated.fleet import ClientTime, Fleet, RoundOutcome, RoundPlan, settle_round
from workbench.federated.records import array_record, kept, ndarrays
from workbench.federated.tasks import load_task
from workbench.kit.errors import WorkbenchError

# Rounds in which nobody was online still pass time: the server looks again after this long.
IDLE_WAIT_S = 60.0
UNIT_WEIGHT = "unit-weight"  # equal client weights, which Flower's DP accounting requires

RoundObserver = Callable[[dict[str, Any]], None]


@dataclass(frozen=True)
class FinishedRound:
    """One finished round: its record, its clients' records, and the state to continue from."""

    row: dict[str, Any]
    client_rows: list[dict[str, Any]]
    state: RoundState


RoundSink = Callable[[FinishedRound], None]


class FederationError(WorkbenchError):
    """A federation that cannot go on: every client failed, or the nodes do not match the config."""


@dataclass
class ServerResult:
    """What the ServerApp hands back: per-round records and the final model."""

    config: FedConfig
    rounds: list[dict[str, Any]] = field(default_factory=list)
    client_rounds: list[dict[str, Any]] = field(default_factory=list)
    weights: list[np.ndarray] = field(default_factory=list)
    partition_sizes: list[int] = field(default_factory=list)
    client_tiers: list[str] = field(default_factory=list)
    privacy: dict[str, Any] | None = None

    def rounds_frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.rounds)


def stream_seed(seed: int, server_round: int, client: int) -> int:
    """A seed of its own for each (run seed, round, client): independent of processing order."""
    return int(np.random.SeedSequence([seed, server_round, client]).generate_state(1)[0])


# --------------------------------------------------------------------------------------------
# Grids and the strategy
# --------------------------------------------------------------------------------------------


class GridView(Grid):
    """A Grid that hands every call to another one; subclasses change what they need."""

    def __init__(self, grid: Grid) -> None:
        self._grid = grid

    def set_run(self, run):  # pragma: no cover - views never start runs
        self._grid.set_run(run)

    @property
    def run(self):
        return self._grid.run

    def create_message(self, content, message_type, dst_node_id, group_id, ttl=None):
        return self._grid.create_message(content, message_type, dst_node_id, group_id, ttl)

    def get_node_ids(self) -> Iterable[int]:
        return self._grid.get_node_ids()

    def push_messages(self, messages):
        return self._grid.push_messages(messages)

    def pull_messages(self, message_ids):
        return self._grid.pull_messages(message_ids)

    def send_and_receive(self, messages, *, timeout=None):
        return self._grid.send_and_receive(messages, timeout=timeout)


class _RoundGrid(GridView):
    """A view of a grid that shows the strategy only this round's clients."""

    def __init__(self, grid: Grid, node_ids: Iterable[int]) -> None:
        super().__init__(grid)
        self._nodes = list(node_ids)

    def get_node_ids(self) -> Iterable[int]:
        return list(self._nodes)


def make_strategy(config: FedConfig):
    """The flwr strategy named by the config (wrapped for DP when ``dp_noise`` > 0)."""
    common = dict(
        fraction_train=1.0,
        fraction_evaluate=1.0,
        min_train_nodes=1,
        min_evaluate_nodes=1,
        min_available_nodes=1,
        weighted_by_key=UNIT_WEIGHT if config.dp else "num-examples",
        train_metrics_aggr_fn=_no_metrics,
        evaluate_metrics_aggr_fn=_no_metrics,
    )
    match config.strategy:
        case "fedavg":
            strategy = flwr_strategy.FedAvg(**common)
        case "fedprox":
            strategy = flwr_strategy.FedProx(**common, proximal_mu=config.proximal_mu)
        case "fedadam":
            strategy = flwr_strategy.FedAdam(**common, eta=config.server_lr, eta_l=config.lr)
        case "fedmedian":
            strategy = flwr_strategy.FedMedian(**common)
        case "krum":
            strategy = flwr_strategy.Krum(**common, num_malicious_nodes=config.krum_malicious)
        case _:  # pragma: no cover - FedConfig validated the name
            raise AssertionError(config.strategy)
    if not config.dp:
        return strategy
    accountant = RdpAccountant(
        PrivacyConfig(
            target_delta=config.dp_delta,
            population_size=config.num_clients,
            neighboring_relation=NeighboringRelation.ADD_OR_REMOVE_ONE,
            sampling_method=SamplingMethod.NO_AMPLIFICATION,
        )
    )
    return flwr_strategy.DifferentialPrivacyServerSideFixedClipping(
        strategy,
        noise_multiplier=config.dp_noise,
        clipping_norm=config.dp_clip,
        num_sampled_clients=config.clients_per_round,
        accountant=accountant,
    )


def _no_metrics(records: list[RecordDict], weighting_key: str) -> MetricRecord:
    # Each client's metrics are kept as they came (the clients table and the round row); the
    # strategy's weighted average of them would be thrown away, at a cost per reply.
    return MetricRecord()


# --------------------------------------------------------------------------------------------
# Discovery
# --------------------------------------------------------------------------------------------


def discover(grid: Grid, config: FedConfig, *, timeout: float) -> tuple[dict[int, int], list[int]]:
    """Ask every node which partition it holds: (partition id -> node id, partition sizes)."""
    nodes = _wait_for_nodes(grid, config.num_clients, timeout)
    record = RecordDict({"config": ConfigRecord(config.to_flower())})
    messages = [
        Message(record, dst_node_id=node, message_type=MessageType.QUERY, group_id="discover")
        for node in nodes
    ]
    node_of: dict[int, int] = {}
    sizes = [0] * config.num_clients
    for reply in grid.send_and_receive(messages, timeout=timeout):
        if reply.has_error():
            raise FederationError(
                f"A client node could not load its data partition: {reply.error.reason}. Check the "
                "task and partition settings."
            )
        info = reply.content["info"]
        client = int(info["partition-id"])
        if not 0 <= client < config.num_clients:
            raise FederationError(
                f"A node holds partition {client}, outside 0..{config.num_clients - 1}: start the "
                f"SuperNodes with num-partitions={config.num_clients} and partition ids below it."
            )
        node_of[client] = reply.metadata.src_node_id
        sizes[client] = int(info["num-examples"])
    missing = sorted(set(range(config.num_clients)) - set(node_of))
    if missing:
        raise FederationError(
            f"No node answered for partition(s) {_ids(missing)} within {timeout:g} s; check that "
            "every SuperNode is running and has its own partition-id."
        )
    return node_of, sizes


def _wait_for_nodes(grid: Grid, num_clients: int, timeout: float) -> list[int]:
    deadline = time.monotonic() + timeout
    while len(nodes := list(grid.get_node_ids())) < num_clients:
        if time.monotonic() > deadline:
            raise FederationError(
                f"Only {len(nodes)} client node(s) connected within {timeout:g} s, but the "
                f"config asks for num_clients = {num_clients}. Start more SuperNodes, or set "
                f"num_clients to {len(nodes)}."
            )
        time.sleep(0.5)
    return nodes


# --------------------------------------------------------------------------------------------
# Rounds
# --------------------------------------------------------------------------------------------


@dataclass
class _Federation:
    """What every round of one run needs: the grid and its nodes, the fleet and the strategy."""

    grid: Grid
    config: FedConfig
    fleet: Fleet
    strategy: Any
    node_of: dict[int, int]
    model_bytes: int
    node_records: dict[tuple[int, bool], ConfigRecord] = field(default_factory=dict)

    @property
    def client_of(self) -> dict[int, int]:
        return {node: client for client, node in self.node_of.items()}

    def send(self, kind: str, server_round: int, arrays: ArrayRecord, clients, *, faulty: bool):
        """Configure ``kind`` ("train" or "evaluate") for ``clients`` and wait for the replies."""
        view = _RoundGrid(self.grid, [self.node_of[c] for c in clients])
        configure = getattr(self.strategy, f"configure_{kind}")
        shared = ConfigRecord(self.config.to_flower())
        messages = list(configure(server_round, arrays, shared, view))
        client_of = self.client_of
        for message in messages:
            client = client_of[message.metadata.dst_node_id]
            _personalize(message, self._node_record(client, faulty))
        replies = view.send_and_receive(messages, timeout=self.config.round_timeout_s)
        return [(client_of[reply.metadata.src_node_id], reply) for reply in replies]

    def _node_record(self, client: int, faulty: bool) -> ConfigRecord:
        """One node's own settings, made once per run (the nodes only read them)."""
        fail = faulty and client in self.config.faulty_clients
        record = self.node_records.get((client, fail))
        if record is None:
            max_samples = int(self.fleet.tier(client).max_samples)
            record = ConfigRecord({"max-samples": max_samples, "fail": bool(fail)})
            self.node_records[(client, fail)] = record
        return record


@dataclass
class _Round:
    """What became of the clients of one round."""

    number: int
    plan: RoundPlan
    replies: dict[int, Message] = field(default_factory=dict)
    failures: dict[int, str] = field(default_factory=dict)
    times: dict[int, ClientTime] = field(default_factory=dict)
    outcome: RoundOutcome | None = None
    client_scores: dict[int, dict[str, float]] = field(default_factory=dict)
    sim_time_s: float = 0.0


def run_server(
    grid: Grid,
    config: FedConfig,
    observer: RoundObserver | None = None,
    *,
    on_round: RoundSink | None = None,
    resume: RoundState | None = None,
) -> ServerResult:
    """The ServerApp's work: discover clients, then run every round on the virtual clock.

    ``on_round`` gets each :class:`FinishedRound` (before ``observer`` gets its row), for keeping
    rounds as they finish. With ``resume``, the rounds after ``resume.round`` run from that state;
    since every draw of a round depends only on (seed, round), they come out as they would have
    in an uninterrupted run. ``result.rounds`` then holds the new rounds only.
    """
    task = load_task(config.task, seed=config.seed, difficulty=config.difficulty)
    model = learning.build_model(
        config.model, task.x_train.shape[1], task.num_classes, seed=config.seed
    )
    arrays = array_record(learning.get_weights(model))
    federation, sizes = _start(grid, config, model)
    result = ServerResult(
        config=config, partition_sizes=sizes, client_tiers=list(federation.fleet.client_tiers)
    )
    clock, first = 0.0, 1
    if resume is not None:
        learning.set_weights(model, resume.weights)  # checks the shapes against the model
        arrays = array_record([np.asarray(w) for w in resume.weights])
        restore_strategy(federation.strategy, resume)
        clock, first = resume.clock_s, resume.round + 1
    for server_round in range(first, config.rounds + 1):
        started = time.perf_counter()
        done = _train(federation, server_round, arrays, clock)
        arrays = _aggregate(federation, done, arrays)
        learning.set_weights(model, ndarrays(arrays))
        scores = learning.evaluate(model, task.x_test, task.y_test)
        if done.outcome.completed:
            done.client_scores = _evaluate_clients(federation, done, arrays)
        clock += done.sim_time_s
        row = _round_row(federation, done, scores, clock, time.perf_counter() - started)
        client_rows = _client_rows(federation, done)
        result.rounds.append(row)
        result.client_rounds += client_rows
        if on_round is not None:  # first, so that the observer sees a round already kept
            moments, accountant = strategy_state(federation.strategy)
            state = RoundState(server_round, clock, ndarrays(arrays), moments, accountant)
            on_round(FinishedRound(dict(row), [dict(r) for r in client_rows], state))
        if observer is not None:
            observer(dict(row))
    result.weights = ndarrays(arrays)
    result.privacy = _privacy(federation.strategy, config)
    return result


def _start(grid: Grid, config: FedConfig, model) -> tuple[_Federation, list[int]]:
    """Discover the nodes and refuse a deadline nobody can meet, before the first round."""
    model_bytes = int(sum(w.nbytes for w in learning.get_weights(model)))
    fleet = Fleet(config)
    node_of, sizes = discover(grid, config, timeout=config.round_timeout_s)
    fleet.check_deadline([fleet.examples_kept(c, n) for c, n in enumerate(sizes)], model_bytes)
    strategy = make_strategy(config)
    return _Federation(grid, config, fleet, strategy, node_of, model_bytes), sizes


def _train(federation: _Federation, server_round: int, arrays: ArrayRecord, clock: float):
    """Ask this round's clients to train, and settle the round on the virtual clock."""
    config, fleet = federation.config, federation.fleet
    done = _Round(server_round, fleet.plan_round(server_round, clock))
    sent = done.plan.sent
    if sent:
        _set_sample_size(federation.strategy, len(sent))
        for client, reply in federation.send("train", server_round, arrays, sent, faulty=True):
            if reply.has_error():
                done.failures[client] = reply.error.reason
            else:
                done.replies[client] = reply
        for client in sent:
            if client not in done.replies and client not in done.failures:
                done.failures[client] = (
                    f"no reply within round_timeout_s = {config.round_timeout_s:g} s"
                )
    if sent and not done.replies:
        reasons = sorted(set(done.failures.values()))
        raise FederationError(
            f"Every client asked in round {server_round} failed ({len(done.failures)} of "
            f"{len(sent)}), so the model cannot be updated. First reason: {reasons[0]}. "
            "Fix the client error (run with the inline launcher to see it in full), or check "
            "faulty_clients."
        )
    done.times = {
        c: fleet.client_time(
            c,
            num_examples=int(reply.content["metrics"]["num-examples"]),
            bytes_down=federation.model_bytes,
            bytes_up=federation.model_bytes,
        )
        for c, reply in done.replies.items()
    }
    missing = [*done.plan.dropped, *done.failures]
    done.outcome = settle_round(done.times, deadline_s=config.deadline_s, missing=missing)
    done.sim_time_s = done.outcome.sim_time_s if sent else (config.deadline_s or IDLE_WAIT_S)
    return done


def _aggregate(federation: _Federation, done: _Round, arrays: ArrayRecord) -> ArrayRecord:
    """The new global model from the replies that came in time (the old one if none did)."""
    if not done.plan.sent:
        return arrays
    in_time = [done.replies[c] for c in done.outcome.completed]
    _set_sample_size(federation.strategy, max(len(in_time), 1))
    _seed_noise(federation.config, done.number)
    new_arrays, _ = federation.strategy.aggregate_train(done.number, in_time)
    # Kept once here, so that no client of the next messages parses the model's bytes again.
    return kept(new_arrays) if new_arrays is not None else arrays


def _evaluate_clients(federation: _Federation, done: _Round, arrays: ArrayRecord):
    """Per-client accuracy of the new global model on the clients that completed the round."""
    scores = {}
    clients = done.outcome.completed
    for _, reply in federation.send("evaluate", done.number, arrays, clients, faulty=False):
        if not reply.has_error():
            metrics = reply.content["metrics"]
            scores[int(metrics["partition-id"])] = {
                "eval-accuracy": float(metrics["eval-accuracy"]),
                "eval-loss": float(metrics["eval-loss"]),
            }
    return scores


def _round_row(
    federation: _Federation, done: _Round, scores: dict, clock: float, wall_s: float
) -> dict[str, Any]:
    """The round's record (the columns of ``ROUND_COLUMNS``)."""
    plan, outcome, replies = done.plan, done.outcome, done.replies
    model_bytes = federation.model_bytes
    accs = [done.client_scores[c]["eval-accuracy"] for c in sorted(done.client_scores)]
    losses = [float(replies[c].content["metrics"]["train-loss"]) for c in outcome.completed]
    return {
        "round": done.number,
        "accuracy": scores["accuracy"],
        "loss": scores["loss"],
        "clients_available": len(plan.available),
        "clients_selected": len(plan.selected),
        "clients_completed": len(outcome.completed),
        "clients_dropped": len(plan.dropped),
        "clients_failed": len(done.failures),
        "clients_straggling": len(outcome.stragglers),
        "bytes_down": model_bytes * len(plan.selected),
        "bytes_up": model_bytes * len(replies),
        "sim_time_s": done.sim_time_s,
        "sim_clock_s": clock,
        "wall_time_s": wall_s,
        "train_loss": _mean(losses),
        "client_accuracy_mean": _mean(accs),
        "client_accuracy_std": float(np.std(accs)) if accs else math.nan,
        "client_accuracy_min": min(accs) if accs else math.nan,
        "epsilon": _epsilon(federation.strategy),
    }


def _client_rows(federation: _Federation, done: _Round) -> list[dict[str, Any]]:
    """What became of each client asked in the round: its status, simulated time, accuracy."""
    rows = []
    for client in done.plan.selected:
        if client in done.plan.dropped:
            status = "dropped"
        elif client in done.failures:
            status = "failed"
        elif client in done.outcome.stragglers:
            status = "straggler"
        else:
            status = "completed"
        t = done.times.get(client)
        rows.append(
            {
                "round": done.number,
                "client": client,
                "tier": federation.fleet.client_tiers[client],
                "status": status,
                "sim_time_s": t.total_s if t else math.nan,
                "accuracy": done.client_scores.get(client, {}).get("eval-accuracy", math.nan),
            }
        )
    return rows


def _personalize(message: Message, node: ConfigRecord) -> None:
    """Add one node's own settings (the strategy sends one shared RecordDict to all nodes)."""
    content = message.content.copy()  # shallow: the model and config records stay shared
    content["node"] = node
    message.content = content


def _set_sample_size(strategy, n: int) -> None:
    # Flower's DP wrapper checks the number of messages and replies against this figure.
    if hasattr(strategy, "num_sampled_clients"):
        strategy.num_sampled_clients = n


def _seed_noise(config: FedConfig, server_round: int) -> None:
    # Flower's DP wrapper draws its Gaussian noise from NumPy's global generator.
    if config.dp:
        np.random.seed(stream_seed(config.seed, server_round, 0xD9) % 2**32)


def _epsilon(strategy) -> float:
    spent = strategy.privacy_spent() if hasattr(strategy, "privacy_spent") else None
    return float(spent.epsilon) if spent is not None else math.nan


def _privacy(strategy, config: FedConfig) -> dict[str, Any] | None:
    if not config.dp:
        return None
    spent = strategy.privacy_spent()
    return {
        "epsilon": float(spent.epsilon) if spent else math.nan,
        "delta": config.dp_delta,
        "noise_multiplier": config.dp_noise,
        "clipping_norm": config.dp_clip,
        "releases": int(spent.num_releases) if spent else 0,
        "accounting": spent.accounting_method if spent else "",
    }


def _mean(values: list[float]) -> float:
    return float(np.mean(values)) if values else math.nan


def _ids(ids: Iterable[int], limit: int = 12) -> str:
    ids = list(ids)
    text = ", ".join(str(i) for i in ids[:limit])
    return text + (f" and {len(ids) - limit} more" if len(ids) > limit else "")
