"""The Flower apps: one ClientApp and one ServerApp, the same on every launcher.

The ClientApp answers three messages: ``query`` (which partition am I, how many examples),
``train`` (train the global model on my partition) and ``evaluate`` (score the global model on my
partition). Everything it needs comes in the message's ``config`` record plus the node's
``partition-id``, so the same code runs in this process (inline), on Ray actors, or on real
SuperNodes.

The ServerApp's main loop drives a Flower strategy round by round (``configure_train`` /
``aggregate_train``) instead of calling ``strategy.start``: the synthetic fleet decides which
clients are online, asked and dropped, and the virtual clock decides who straggles past the
deadline, before the strategy aggregates what arrived in time. Model, data and training live in
plain modules (:mod:`~workbench.federated.tasks`, :mod:`~workbench.federated.partition`,
:mod:`~workbench.federated.learning`) that do not import flwr.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Iterable
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd
from flwr.app import (
    ArrayRecord,
    ConfigRecord,
    Context,
    Message,
    MessageType,
    MetricRecord,
    RecordDict,
)
from flwr.clientapp import ClientApp
from flwr.serverapp import Grid, ServerApp
from flwr.serverapp import strategy as flwr_strategy
from flwr.supercore.privacy_accounting import NeighboringRelation, PrivacyConfig, SamplingMethod
from flwr.supercore.privacy_accounting.rdp_accountant import RdpAccountant

from workbench.federated import learning
from workbench.federated.config import FedConfig
from workbench.federated.fleet import Fleet, settle_round
from workbench.federated.partition import partition_indices
from workbench.federated.tasks import load_task
from workbench.kit.errors import WorkbenchError

# Rounds in which nobody was online still pass time: the server looks again after this long.
IDLE_WAIT_S = 60.0
UNIT_WEIGHT = "unit-weight"  # equal client weights, which Flower's DP accounting requires


class FederationError(WorkbenchError):
    """A federation that cannot go on: every client failed, or the nodes do not match the config."""


# --------------------------------------------------------------------------------------------
# Client side
# --------------------------------------------------------------------------------------------


@lru_cache(maxsize=4)
def _partitions(
    task: str, seed: int, difficulty: float, clients: int, scheme: str, alpha: float, k: int
) -> tuple[np.ndarray, ...]:
    data = load_task(task, seed=seed, difficulty=difficulty)
    parts = partition_indices(
        data.y_train, clients, scheme=scheme, alpha=alpha, classes_per_client=k, seed=seed
    )
    return tuple(parts)


def client_partitions(config: FedConfig) -> tuple[np.ndarray, ...]:
    """Each client's row indices into the task's training set (cached per process)."""
    return _partitions(
        config.task,
        config.seed,
        float(config.difficulty),
        config.clients,
        config.partition,
        float(config.alpha),
        config.classes_per_client,
    )


def client_data(
    config: FedConfig, client: int, max_samples: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """The training examples client ``client`` holds (at most ``max_samples`` when above 0)."""
    data = load_task(config.task, seed=config.seed, difficulty=config.difficulty)
    rows = client_partitions(config)[client]
    if max_samples > 0:
        rows = rows[:max_samples]
    return data.x_train[rows], data.y_train[rows]


@lru_cache(maxsize=64)
def _config_from_items(items: tuple[tuple[str, Any], ...]) -> FedConfig:
    return FedConfig.from_flower(dict(items))


def _message_config(message: Message) -> tuple[FedConfig, ConfigRecord, ConfigRecord]:
    """The experiment's settings, the strategy's config record, and this node's own record."""
    record = message.content["config"]
    shared = tuple(sorted((k, v) for k, v in record.items() if k in _FLOWER_KEYS))
    node = message.content["node"] if "node" in message.content else ConfigRecord()
    return _config_from_items(shared), record, node


_FLOWER_KEYS = frozenset(FedConfig().to_flower())


@lru_cache(maxsize=8)
def _model(kind: str, features: int, classes: int, seed: int):
    return learning.build_model(kind, features, classes, seed=seed)


def _client_model(config: FedConfig):
    data = load_task(config.task, seed=config.seed, difficulty=config.difficulty)
    return _model(config.model, data.x_train.shape[1], data.num_classes, config.seed)


def _partition_id(context: Context) -> int:
    return int(context.node_config["partition-id"])


client_app = ClientApp()


@client_app.query()
def _query(message: Message, context: Context) -> Message:
    config, _, _ = _message_config(message)
    client = _partition_id(context)
    size = len(client_partitions(config)[client])
    info = MetricRecord({"partition-id": client, "num-examples": size})
    return Message(RecordDict({"info": info}), reply_to=message)


@client_app.train()
def _train(message: Message, context: Context) -> Message:
    config, record, node = _message_config(message)
    client = _partition_id(context)
    if node.get("fail", False):
        raise RuntimeError(f"client {client} is listed in faulty_clients and fails on purpose")
    x, y = client_data(config, client, int(node.get("max-samples", 0)))
    model = _client_model(config)
    global_weights = message.content["arrays"].to_numpy_ndarrays()
    learning.set_weights(model, global_weights)
    mu = float(record.get("proximal-mu", 0.0))
    stats = learning.train_local(
        model,
        x,
        y,
        epochs=config.local_epochs,
        batch_size=config.batch_size,
        lr=config.lr,
        seed=_stream_seed(config.seed, int(record["server-round"]), client),
        proximal_mu=mu,
        global_weights=global_weights if mu > 0 else None,
    )
    metrics = MetricRecord(
        {
            "partition-id": client,
            "num-examples": int(stats["num_examples"]),
            UNIT_WEIGHT: 1,
            "train-loss": float(stats["loss"]),
        }
    )
    arrays = ArrayRecord(learning.get_weights(model))
    return Message(RecordDict({"arrays": arrays, "metrics": metrics}), reply_to=message)


@client_app.evaluate()
def _evaluate(message: Message, context: Context) -> Message:
    config, _, node = _message_config(message)
    client = _partition_id(context)
    x, y = client_data(config, client, int(node.get("max-samples", 0)))
    model = _client_model(config)
    learning.set_weights(model, message.content["arrays"].to_numpy_ndarrays())
    scores = learning.evaluate(model, x, y)
    metrics = MetricRecord(
        {
            "partition-id": client,
            "num-examples": int(scores["num_examples"]),
            UNIT_WEIGHT: 1,
            "eval-loss": float(scores["loss"]),
            "eval-accuracy": float(scores["accuracy"]),
        }
    )
    return Message(RecordDict({"metrics": metrics}), reply_to=message)


def _stream_seed(seed: int, server_round: int, client: int) -> int:
    return int(np.random.SeedSequence([seed, server_round, client]).generate_state(1)[0])


# --------------------------------------------------------------------------------------------
# Server side
# --------------------------------------------------------------------------------------------


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


RoundObserver = Callable[[dict[str, Any]], None]


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
            population_size=config.clients,
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


@contextmanager
def quiet_flower(level: int = logging.WARNING):
    """Keep Flower's per-round INFO lines out of notebooks and the CLI."""
    logger = logging.getLogger("flwr")
    old = logger.level
    logger.setLevel(level)
    try:
        yield
    finally:
        logger.setLevel(old)


def discover(grid: Grid, config: FedConfig, *, timeout: float) -> tuple[dict[int, int], list[int]]:
    """Ask every node which partition it holds: (partition id -> node id, partition sizes)."""
    deadline = time.monotonic() + timeout
    while len(nodes := list(grid.get_node_ids())) < config.clients:
        if time.monotonic() > deadline:
            raise FederationError(
                f"Only {len(nodes)} client node(s) connected within {timeout:g} s, but the "
                f"config asks for clients = {config.clients}. Start more SuperNodes, or set "
                f"clients to {len(nodes)}."
            )
        time.sleep(0.5)
    record = RecordDict({"config": ConfigRecord(config.to_flower())})
    messages = [
        Message(record, dst_node_id=node, message_type=MessageType.QUERY, group_id="discover")
        for node in nodes
    ]
    node_of: dict[int, int] = {}
    sizes = [0] * config.clients
    for reply in grid.send_and_receive(messages, timeout=timeout):
        if reply.has_error():
            raise FederationError(
                f"A client node could not load its data partition: {reply.error.reason}. Check the "
                "task and partition settings."
            )
        info = reply.content["info"]
        client = int(info["partition-id"])
        if not 0 <= client < config.clients:
            raise FederationError(
                f"A node holds partition {client}, outside 0..{config.clients - 1}: start the "
                f"SuperNodes with num-partitions={config.clients} and partition ids below it."
            )
        node_of[client] = reply.metadata.src_node_id
        sizes[client] = int(info["num-examples"])
    missing = sorted(set(range(config.clients)) - set(node_of))
    if missing:
        raise FederationError(
            f"No node answered for partition(s) {_ids(missing)} within {timeout:g} s; check that "
            "every SuperNode is running and has its own partition-id."
        )
    return node_of, sizes


def run_server(
    grid: Grid, config: FedConfig, observer: RoundObserver | None = None
) -> ServerResult:
    """The ServerApp's work: discover clients, then run every round on the virtual clock."""
    task = load_task(config.task, seed=config.seed, difficulty=config.difficulty)
    model = learning.build_model(
        config.model, task.x_train.shape[1], task.num_classes, seed=config.seed
    )
    weights = learning.get_weights(model)
    model_bytes = int(sum(w.nbytes for w in weights))
    fleet = Fleet(config)
    node_of, sizes = discover(grid, config, timeout=config.round_timeout_s)
    client_of = {node: client for client, node in node_of.items()}
    kept_sizes = [fleet.examples_kept(c, n) for c, n in enumerate(sizes)]
    fleet.check_deadline(kept_sizes, model_bytes)
    strategy = make_strategy(config)
    shared = config.to_flower()
    arrays = ArrayRecord(weights)
    result = ServerResult(
        config=config, partition_sizes=sizes, client_tiers=list(fleet.client_tiers)
    )
    clock = 0.0
    for server_round in range(1, config.rounds + 1):
        started = time.perf_counter()
        plan = fleet.plan_round(server_round, clock)
        sent = plan.sent
        replies: dict[int, Message] = {}
        failures: dict[int, str] = {}
        if sent:
            _set_sample_size(strategy, len(sent))
            view = _RoundGrid(grid, [node_of[c] for c in sent])
            messages = list(
                strategy.configure_train(server_round, arrays, ConfigRecord(shared), view)
            )
            for message in messages:
                client = client_of[message.metadata.dst_node_id]
                _personalize(
                    message, fleet.tier(client).max_samples, client in config.faulty_clients
                )
            for reply in view.send_and_receive(messages, timeout=config.round_timeout_s):
                client = client_of[reply.metadata.src_node_id]
                if reply.has_error():
                    failures[client] = reply.error.reason
                else:
                    replies[client] = reply
            for client in sent:
                if client not in replies and client not in failures:
                    failures[client] = (
                        f"no reply within round_timeout_s = {config.round_timeout_s:g} s"
                    )
        if sent and not replies:
            reasons = sorted(set(failures.values()))
            raise FederationError(
                f"Every client asked in round {server_round} failed ({len(failures)} of "
                f"{len(sent)}), so the model cannot be updated. First reason: {reasons[0]}. "
                "Fix the client error (run with the inline launcher to see it in full), or check "
                "faulty_clients."
            )
        times = {
            c: fleet.client_time(
                c,
                num_examples=int(replies[c].content["metrics"]["num-examples"]),
                bytes_down=model_bytes,
                bytes_up=model_bytes,
            )
            for c in replies
        }
        outcome = settle_round(
            times, deadline_s=config.deadline_s, missing=[*plan.dropped, *failures]
        )
        kept = [replies[c] for c in outcome.completed]
        if sent:
            _set_sample_size(strategy, max(len(kept), 1))
            _seed_noise(config, server_round)
            new_arrays, _ = strategy.aggregate_train(server_round, kept)
            if new_arrays is not None:
                arrays = new_arrays
        learning.set_weights(model, arrays.to_numpy_ndarrays())
        scores = learning.evaluate(model, task.x_test, task.y_test)
        client_scores = _evaluate_clients(
            grid,
            strategy,
            config,
            server_round,
            arrays,
            outcome.completed,
            node_of,
            client_of,
            fleet,
        )
        sim_time = outcome.sim_time_s if sent else (config.deadline_s or IDLE_WAIT_S)
        clock += sim_time
        accs = [client_scores[c]["eval-accuracy"] for c in sorted(client_scores)]
        row = {
            "round": server_round,
            "accuracy": scores["accuracy"],
            "loss": scores["loss"],
            "clients_available": len(plan.available),
            "clients_selected": len(plan.selected),
            "clients_completed": len(outcome.completed),
            "clients_dropped": len(plan.dropped),
            "clients_failed": len(failures),
            "clients_straggling": len(outcome.stragglers),
            "bytes_down": model_bytes * len(plan.selected),
            "bytes_up": model_bytes * len(replies),
            "sim_time_s": sim_time,
            "sim_clock_s": clock,
            "wall_time_s": time.perf_counter() - started,
            "train_loss": _mean(
                [float(replies[c].content["metrics"]["train-loss"]) for c in outcome.completed]
            ),
            "client_accuracy_mean": _mean(accs),
            "client_accuracy_std": float(np.std(accs)) if accs else math.nan,
            "client_accuracy_min": min(accs) if accs else math.nan,
            "epsilon": _epsilon(strategy),
        }
        result.rounds.append(row)
        for client in plan.selected:
            status = (
                "dropped"
                if client in plan.dropped
                else "failed"
                if client in failures
                else "straggler"
                if client in outcome.stragglers
                else "completed"
            )
            t = times.get(client)
            result.client_rounds.append(
                {
                    "round": server_round,
                    "client": client,
                    "tier": fleet.client_tiers[client],
                    "status": status,
                    "sim_time_s": t.total_s if t else math.nan,
                    "accuracy": client_scores.get(client, {}).get("eval-accuracy", math.nan),
                }
            )
        if observer is not None:
            observer(dict(row))
    result.weights = arrays.to_numpy_ndarrays()
    result.privacy = _privacy(strategy, config)
    return result


def _personalize(message: Message, max_samples: int, fail: bool) -> None:
    """Add one node's own settings (the strategy sends one shared RecordDict to all nodes)."""
    node = ConfigRecord({"max-samples": int(max_samples), "fail": bool(fail)})
    message.content = RecordDict({**dict(message.content.items()), "node": node})


def _evaluate_clients(
    grid, strategy, config, server_round, arrays, clients, node_of, client_of, fleet
):
    """Per-client accuracy of the new global model on the clients that completed the round."""
    if not clients:
        return {}
    view = _RoundGrid(grid, [node_of[c] for c in clients])
    messages = list(
        strategy.configure_evaluate(server_round, arrays, ConfigRecord(config.to_flower()), view)
    )
    for message in messages:
        _personalize(
            message, fleet.tier(client_of[message.metadata.dst_node_id]).max_samples, False
        )
    scores = {}
    for reply in view.send_and_receive(messages, timeout=config.round_timeout_s):
        if not reply.has_error():
            metrics = reply.content["metrics"]
            scores[int(metrics["partition-id"])] = {
                "eval-accuracy": float(metrics["eval-accuracy"]),
                "eval-loss": float(metrics["eval-loss"]),
            }
    return scores


def _set_sample_size(strategy, n: int) -> None:
    # Flower's DP wrapper checks the number of messages and replies against this figure.
    if hasattr(strategy, "num_sampled_clients"):
        strategy.num_sampled_clients = n


def _seed_noise(config: FedConfig, server_round: int) -> None:
    # Flower's DP wrapper draws its Gaussian noise from NumPy's global generator.
    if config.dp:
        np.random.seed(_stream_seed(config.seed, server_round, 0xD9) % 2**32)


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


def make_server_app(
    config: FedConfig | None = None,
    *,
    observer: RoundObserver | None = None,
    sink: dict[str, Any] | None = None,
) -> ServerApp:
    """A ServerApp bound to ``config`` (else read from the run config), results into ``sink``."""
    app = ServerApp()

    @app.main()
    def _main(grid: Grid, context: Context) -> None:
        cfg = config if config is not None else FedConfig.from_flower(context.run_config)
        try:
            result = run_server(grid, cfg, observer=observer)
        except BaseException as exc:
            if sink is not None:
                sink["error"] = exc
            raise
        if sink is not None:
            sink["result"] = result

    return app
