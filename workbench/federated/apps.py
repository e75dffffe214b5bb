"""The Flower apps: one ClientApp and one ServerApp, the same on every launcher.

The ClientApp answers three messages: ``query`` (which partition am I, how many examples),
``train`` (train the global model on my partition) and ``evaluate`` (score the global model on my
partition). Everything it needs comes in the message's ``config`` record plus the node's
``partition-id``, so the same code runs in this process (inline), on Ray actors, or on real
SuperNodes.

The ServerApp runs :func:`workbench.federated.server.run_server` against the grid it is given.
Model, data and training live in plain modules (:mod:`~workbench.federated.tasks`, :mod:`~workbench.federated.partition`,
:mod:`~workbench.federated.learning`) that do not import flwr.
"""

from __future__ import annotations

import logging
import weakref
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

import numpy as np
from flwr.app import ArrayRecord, ConfigRecord, Context, Message, MetricRecord, RecordDict
from flwr.clientapp import ClientApp
from flwr.serverapp import Grid, ServerApp

from workbench.federated import learning
from workbench.federated.checkpoint import RoundState
from workbench.federated.config import FedConfig
from workbench.federated.partition import partition_indices
from workbench.federated.records import array_record, kept_arrays, ndarrays
from workbench.federated.server import (
    UNIT_WEIGHT,
    RoundObserver,
    RoundSink,
    run_server,
    stream_seed,
)
from workbench.federated.tasks import load_task

# --------------------------------------------------------------------------------------------
# Client side
# --------------------------------------------------------------------------------------------


@lru_cache(maxsize=4)
def _partitions(
    task: str, seed: int, difficulty: float, num_clients: int, scheme: str, alpha: float, k: int
) -> tuple[np.ndarray, ...]:
    data = load_task(task, seed=seed, difficulty=difficulty)
    parts = partition_indices(
        data.y_train, num_clients, scheme=scheme, alpha=alpha, classes_per_client=k, seed=seed
    )
    return tuple(parts)


def client_partitions(config: FedConfig) -> tuple[np.ndarray, ...]:
    """Each client's row indices into the task's training set (cached per process)."""
    return _partitions(
        config.task,
        config.seed,
        float(config.difficulty),
        config.num_clients,
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
    return FedConfig.from_flower({k: v for k, v in items if k in _FLOWER_KEYS})


def _message_config(message: Message) -> tuple[FedConfig, ConfigRecord, ConfigRecord]:
    """The experiment's settings, the strategy's config record, and this node's own record."""
    record = message.content["config"]
    # Keyed on every item (the round number too: one parse per round); filtering in Python
    # per message cost more than the parse it saves.
    items = tuple(sorted(record.items()))
    try:
        config = _config_from_items(items)
    except TypeError:  # an unhashable value (a list) under a key the workbench does not read
        config = _config_from_items(tuple((k, v) for k, v in items if k in _FLOWER_KEYS))
    node = message.content["node"] if "node" in message.content else ConfigRecord()
    return config, record, node


_FLOWER_KEYS = frozenset(FedConfig().to_flower())


@lru_cache(maxsize=8)
def _model(task: str, seed: int, difficulty: float, kind: str):
    # One model per (task, kind) in this process, whose weights each message overwrites.
    data = load_task(task, seed=seed, difficulty=difficulty)
    return learning.build_model(kind, data.x_train.shape[1], data.num_classes, seed=seed)


def _client_model(config: FedConfig):
    return _model(config.task, config.seed, float(config.difficulty), config.model)


# What each shared model holds while nothing has trained it since it was loaded: the kept
# arrays of the record it was loaded from (see _load_global).
_HOLDS: weakref.WeakKeyDictionary[Any, tuple[np.ndarray, ...]] = weakref.WeakKeyDictionary()


def _load_global(model, record: ArrayRecord, *, will_train: bool) -> list[np.ndarray] | None:
    """Load the message's global model into ``model``; return its arrays when they were read.

    Every evaluate message of a round carries the same global model and evaluating leaves the
    weights alone, so in one process only the first of them loads it; training changes them,
    so a train message always loads.
    """
    held = kept_arrays(record)
    before = _HOLDS.pop(model, None)
    if (
        not will_train
        and held is not None
        and before is not None
        and len(before) == len(held)
        and all(a is b for a, b in zip(before, held, strict=True))
    ):
        _HOLDS[model] = held
        return None
    weights = ndarrays(record)
    learning.set_weights(model, weights)
    if not will_train and held is not None:
        _HOLDS[model] = held
    return weights


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
    global_weights = _load_global(model, message.content["arrays"], will_train=True)
    mu = float(record.get("proximal-mu", 0.0))
    stats = learning.train_local(
        model,
        x,
        y,
        epochs=config.local_epochs,
        batch_size=config.batch_size,
        lr=config.lr,
        seed=stream_seed(config.seed, int(record["server-round"]), client),
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
    arrays = array_record(learning.get_weights(model), copy=False)  # get_weights copies
    return Message(RecordDict({"arrays": arrays, "metrics": metrics}), reply_to=message)


@client_app.evaluate()
def _evaluate(message: Message, context: Context) -> Message:
    config, _, node = _message_config(message)
    client = _partition_id(context)
    x, y = client_data(config, client, int(node.get("max-samples", 0)))
    model = _client_model(config)
    _load_global(model, message.content["arrays"], will_train=False)
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


# --------------------------------------------------------------------------------------------
# Server side
# --------------------------------------------------------------------------------------------


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


def make_server_app(
    config: FedConfig | None = None,
    *,
    observer: RoundObserver | None = None,
    sink: dict[str, Any] | None = None,
    on_round: RoundSink | None = None,
    resume: RoundState | None = None,
) -> ServerApp:
    """A ServerApp bound to ``config`` (else read from the run config), results into ``sink``;
    ``on_round`` and ``resume`` as for :func:`~workbench.federated.server.run_server`."""
    app = ServerApp()

    @app.main()
    def _main(grid: Grid, context: Context) -> None:
        cfg = config if config is not None else FedConfig.from_flower(context.run_config)
        try:
            result = run_server(grid, cfg, observer=observer, on_round=on_round, resume=resume)
        except BaseException as exc:
            if sink is not None:
                sink["error"] = exc
            raise
        if sink is not None:
            sink["result"] = result

    return app
