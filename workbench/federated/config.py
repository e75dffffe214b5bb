"""The settings of one federated experiment, validated before anything runs.

A :class:`FedConfig` is what the CLI's flags, a ``fed.toml`` file, the federated panel and the
Flower deployment's run config all turn into. Every check names the field and says how to fix it,
so that a workshop slider can never start a run that would hang or crash half-way.
"""

from __future__ import annotations

import dataclasses
import json
import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbench.kit.errors import InvalidInputError

TASKS = ("digits", "synthetic", "text")
MODELS = ("logreg", "mlp")
STRATEGIES = ("fedavg", "fedprox", "fedadam", "fedmedian", "krum")
PARTITIONS = ("iid", "dirichlet", "pathological")
LAUNCHERS = ("inline", "ray", "deployment")
SIMULATION_LAUNCHERS = ("inline", "ray")  # the ones run_federated starts by itself

STRATEGY_HELP = {
    "fedavg": "FedAvg: average the client models, weighted by their number of examples",
    "fedprox": "FedProx: FedAvg plus a proximal term on the client that keeps it near the global model",
    "fedadam": "FedAdam: the server applies the averaged update with Adam (server learning rate eta)",
    "fedmedian": "FedMedian: coordinate-wise median of the client models (robust to outliers)",
    "krum": "Krum: keep the one client model closest to the others (robust to malicious clients)",
}

FIELD_HELP = {
    "task": "what to learn: " + ", ".join(TASKS),
    "model": "the model each client trains: logreg or mlp",
    "clients": "number of simulated edge clients (each holds one data partition)",
    "rounds": "number of federated rounds",
    "fraction": "share of all clients asked to train in each round, in (0, 1]",
    "strategy": "how the server combines client updates: " + ", ".join(STRATEGIES),
    "partition": "how the data is split: iid, dirichlet (label skew set by alpha), pathological",
    "alpha": "Dirichlet concentration: small (0.1) gives very uneven labels, large (100) near IID",
    "classes_per_client": "labels each client holds under the pathological split",
    "seed": "random seed: the same seed and settings give the same run",
    "local_epochs": "passes over its own data each selected client makes per round",
    "batch_size": "mini-batch size of local training",
    "lr": "client learning rate (plain SGD)",
    "proximal_mu": "FedProx proximal weight mu",
    "server_lr": "FedAdam server learning rate eta",
    "krum_malicious": "Krum: number of malicious clients to tolerate",
    "deadline_s": "round deadline in simulated seconds; later clients are dropped as stragglers",
    "device_mix": "share of clients per device tier (data/federated/device_tiers.toml)",
    "dp_noise": "differential privacy noise multiplier (0 turns DP off)",
    "dp_clip": "differential privacy clipping norm of each client update",
    "dp_delta": "differential privacy delta at which epsilon is reported",
    "difficulty": "synthetic task: 0 easy (well separated) to 1 hard",
    "launcher": "where the apps run: inline (this process, no Ray) or ray (Flower simulation "
    "engine); deployment marks runs started with flwr run on a SuperLink",
    "ray_address": "address of a running Ray cluster to join (launcher ray); empty starts a local one",
    "round_timeout_s": "wall-clock seconds the server waits for replies in one round",
    "faulty_clients": "client ids whose ClientApp raises (to see failures counted, not fatal)",
}


@dataclass(frozen=True)
class FedConfig:
    """One federated experiment. See :data:`FIELD_HELP` for each field's meaning."""

    task: str = "digits"
    model: str = "mlp"
    clients: int = 100
    rounds: int = 10
    fraction: float = 0.1
    strategy: str = "fedavg"
    partition: str = "iid"
    alpha: float = 0.5
    classes_per_client: int = 2
    seed: int = 0
    local_epochs: int = 5
    batch_size: int = 8
    lr: float = 0.3
    proximal_mu: float = 0.1
    server_lr: float = 0.05
    krum_malicious: int = 0
    deadline_s: float | None = None
    device_mix: dict[str, float] = field(default_factory=dict)
    dp_noise: float = 0.0
    dp_clip: float = 1.0
    dp_delta: float = 1e-5
    difficulty: float = 0.5
    launcher: str = "inline"
    ray_address: str | None = None
    round_timeout_s: float = 300.0
    faulty_clients: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        _choice("task", self.task, TASKS)
        _choice("model", self.model, MODELS)
        _choice("strategy", self.strategy, STRATEGIES, STRATEGY_HELP)
        _choice("partition", self.partition, PARTITIONS)
        _choice("launcher", self.launcher, LAUNCHERS)
        _integer("clients", self.clients, 1, "use at least 1 client (100 is a good start)")
        _integer("rounds", self.rounds, 1, "run at least 1 round")
        _integer("local_epochs", self.local_epochs, 1, "use at least 1 local epoch")
        _integer("batch_size", self.batch_size, 1, "use a batch size of at least 1")
        _integer("classes_per_client", self.classes_per_client, 1, "use at least 1 class")
        _integer("krum_malicious", self.krum_malicious, 0, "use 0 or more")
        _integer("seed", self.seed, 0, "use a non-negative integer")
        fraction = _number("fraction", self.fraction)
        if not 0 < fraction <= 1:
            raise _invalid(
                "fraction",
                self.fraction,
                "it is the share of clients asked to train each round, so it must lie in (0, 1]; "
                "0.1 asks one client in ten",
            )
        if _number("alpha", self.alpha) <= 0:
            raise _invalid(
                "alpha",
                self.alpha,
                "the Dirichlet concentration must be above 0: try 0.1 for strongly uneven labels, "
                "1 for moderate skew, 100 for nearly IID",
            )
        for name in ("lr", "server_lr", "dp_clip", "round_timeout_s"):
            if _number(name, getattr(self, name)) <= 0:
                raise _invalid(name, getattr(self, name), "it must be above 0")
        for name in ("proximal_mu", "dp_noise"):
            if _number(name, getattr(self, name)) < 0:
                raise _invalid(name, getattr(self, name), "it must be 0 or more")
        if not 0 < _number("dp_delta", self.dp_delta) < 1:
            raise _invalid("dp_delta", self.dp_delta, "delta must lie in (0, 1); 1e-5 is usual")
        if not 0 <= _number("difficulty", self.difficulty) <= 1:
            raise _invalid("difficulty", self.difficulty, "use a value from 0 (easy) to 1 (hard)")
        if self.deadline_s is not None and _number("deadline_s", self.deadline_s) <= 0:
            raise _invalid(
                "deadline_s",
                self.deadline_s,
                "a round deadline must be above 0 simulated seconds; leave it empty for no deadline",
            )
        if not isinstance(self.device_mix, Mapping):
            raise _invalid("device_mix", self.device_mix, "give a table of tier = share")
        for tier, share in self.device_mix.items():
            if _number(f"device_mix.{tier}", share) < 0:
                raise _invalid(f"device_mix.{tier}", share, "a tier's share must be 0 or more")
        if self.device_mix and sum(self.device_mix.values()) <= 0:
            raise _invalid("device_mix", self.device_mix, "at least one tier needs a share above 0")
        for client in self.faulty_clients:
            if isinstance(client, bool) or not isinstance(client, int) or client < 0:
                raise _invalid("faulty_clients", self.faulty_clients, "list client ids (0, 1, ...)")
        if self.strategy == "krum" and self.krum_malicious * 2 + 3 > self.clients_per_round:
            raise _invalid(
                "krum_malicious",
                self.krum_malicious,
                f"Krum needs more than 2f + 2 client updates per round, and {self.clients_per_round} "
                "clients are asked per round; raise --fraction or --clients, or lower krum_malicious",
            )
        if self.dp_noise > 0 and self.strategy not in ("fedavg", "fedprox"):
            raise _invalid(
                "dp_noise",
                self.dp_noise,
                "Flower's privacy accounting needs FedAvg aggregation; use strategy fedavg or "
                "fedprox with DP, or set dp_noise to 0",
            )

    @property
    def clients_per_round(self) -> int:
        """How many clients the server asks in each round (before availability)."""
        return max(1, round(self.fraction * self.clients))

    @property
    def dp(self) -> bool:
        return self.dp_noise > 0

    def replace(self, **changes: Any) -> FedConfig:
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["faulty_clients"] = list(self.faulty_clients)
        data["device_mix"] = dict(self.device_mix)
        return data

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], *, source: str = "config") -> FedConfig:
        """Build from a mapping (a TOML table, JSON, keyword flags); unknown keys are refused."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise InvalidInputError(
                f"{source}: unknown setting(s) {', '.join(unknown)}. The federated settings are: "
                f"{', '.join(sorted(names))}."
            )
        values = dict(data)
        if "faulty_clients" in values:
            values["faulty_clients"] = tuple(values["faulty_clients"] or ())
        if "device_mix" in values:
            values["device_mix"] = dict(values["device_mix"] or {})
        if values.get("deadline_s") == "":
            values["deadline_s"] = None
        try:
            return cls(**values)
        except TypeError as exc:  # pragma: no cover - names were checked above
            raise InvalidInputError(f"{source}: {exc}") from exc

    @classmethod
    def from_toml(cls, path: str | Path, **overrides: Any) -> FedConfig:
        """Read ``[federated]`` (or the top level) of a TOML file; ``overrides`` win."""
        path = Path(path)
        try:
            with path.open("rb") as handle:
                data = tomllib.load(handle)
        except FileNotFoundError:
            raise InvalidInputError(
                f"Config file {path} does not exist; check the path given to --config."
            ) from None
        except tomllib.TOMLDecodeError as exc:
            raise InvalidInputError(
                f"Config file {path} is not valid TOML ({exc}); fix the line it names."
            ) from None
        table = data.get("federated", data)
        return cls.from_mapping({**table, **overrides}, source=str(path))

    # Flower carries settings as flat scalar records: these two convert both ways.
    def to_flower(self) -> dict[str, Any]:
        """The settings as a flat mapping of scalars (a Flower run config or ConfigRecord)."""
        flat = {}
        for key, value in self.to_dict().items():
            if key in ("device_mix", "faulty_clients") or value is None:
                flat[key] = json.dumps(value)
            else:
                flat[key] = value
        return flat

    @classmethod
    def from_flower(cls, flat: Mapping[str, Any]) -> FedConfig:
        values = {}
        names = {f.name for f in dataclasses.fields(cls)}
        for key, value in flat.items():
            if key not in names:
                continue
            if key in ("device_mix", "faulty_clients", "deadline_s", "ray_address") and isinstance(
                value, str
            ):
                value = json.loads(value) if value else None
            values[key] = value
        return cls.from_mapping(values, source="run config")


def _invalid(name: str, value: Any, why: str) -> InvalidInputError:
    return InvalidInputError(f"Federated setting '{name}' = {value!r} is not usable: {why}.")


def _choice(name: str, value: Any, allowed: tuple[str, ...], help_: dict[str, str] | None = None):
    if value not in allowed:
        listing = "; ".join(help_.values()) if help_ else ", ".join(allowed)
        raise InvalidInputError(
            f"Federated setting '{name}' = {value!r} is unknown. Choose one of: {listing}."
        )


def _integer(name: str, value: Any, low: int, fix: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _invalid(name, value, f"it must be a whole number; {fix}")
    if value < low:
        raise _invalid(name, value, fix)
    return value


def _number(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise _invalid(name, value, "it must be a finite number")
    return float(value)
