"""The settings of one federated experiment, validated before anything runs.

A :class:`FedConfig` is what the CLI's flags, a ``fed.toml`` file, the federated panel and the
Flower deployment's run config all turn into. Every field is declared with
:func:`~workbench.kit.fields.spec` (help, bounds, flag, widget), and every check names the field
and says how to fix it, so that a workshop slider can never start a run that would hang or crash
half-way.
"""

from __future__ import annotations

import dataclasses
import json
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workbench.kit import checks
from workbench.kit.errors import InvalidInputError
from workbench.kit.fields import check_fields, flag_of, spec

TASKS = ("digits", "synthetic", "text")
MODELS = ("logreg", "mlp")
STRATEGIES = ("fedavg", "fedprox", "fedadam", "fedmedian", "krum")
PARTITIONS = ("iid", "dirichlet", "pathological")
LAUNCHERS = ("inline", "ray", "deployment")
SIMULATION_LAUNCHERS = ("inline", "ray")  # the ones run_federated starts by itself
OWNER = "the federated settings"
# Older names of fields, still read from TOML files, saved runs and Flower run configs.
ALIASES = {"clients": "num_clients"}

STRATEGY_NAMES = {
    "fedavg": "FedAvg",
    "fedprox": "FedProx",
    "fedadam": "FedAdam",
    "fedmedian": "FedMedian",
    "krum": "Krum",
}
STRATEGY_HELP = {
    "fedavg": "FedAvg: average the client models, weighted by their number of examples",
    "fedprox": "FedProx: FedAvg plus a proximal term on the client that keeps it near the global model",
    "fedadam": "FedAdam: the server applies the averaged update with Adam (server learning rate eta)",
    "fedmedian": "FedMedian: coordinate-wise median of the client models (robust to outliers)",
    "krum": "Krum: keep the one client model closest to the others (robust to malicious clients)",
}


@dataclass(frozen=True)
class FedConfig:
    """One federated experiment; each field's help says what it means."""

    task: str = spec(
        "digits", help="what to learn: " + ", ".join(TASKS), choices=TASKS, label="Task"
    )
    model: str = spec(
        "mlp", help="the model each client trains: logreg or mlp", choices=MODELS, label="Model"
    )
    num_clients: int = spec(
        100,
        help="number of simulated edge clients (each holds one data partition)",
        low=1,
        whole=True,
        aliases=("--clients",),
        fix="Use at least 1 client (100 is a good start).",
        label="Clients",
        widget_range=(1, 1000),
    )
    rounds: int = spec(
        10,
        help="number of federated rounds",
        low=1,
        whole=True,
        fix="Run at least 1 round.",
        label="Rounds",
        widget_range=(1, 100),
    )
    fraction: float = spec(
        0.1,
        help="share of all clients asked to train in each round, in (0, 1]",
        low=0,
        low_open=True,
        high=1,
        fix="It is the share of clients asked to train each round; 0.1 asks one client in ten.",
        label="Fraction / round",
        step=0.01,
        widget_range=(0.01, 1.0),
    )
    strategy: str = spec(
        "fedavg",
        help="how the server combines client updates: " + ", ".join(STRATEGIES),
        choices=STRATEGIES,
        fix="; ".join(STRATEGY_HELP.values()) + ".",
        label="Strategy",
    )
    partition: str = spec(
        "iid",
        help="how the data is split: iid, dirichlet (label skew set by alpha), pathological",
        choices=PARTITIONS,
        label="Partition",
    )
    alpha: float = spec(
        0.5,
        help="Dirichlet concentration: small (0.1) gives very uneven labels, large (100) near IID",
        low=0,
        low_open=True,
        fix="Try 0.1 for strongly uneven labels, 1 for moderate skew, 100 for nearly IID.",
        label="Dirichlet alpha",
    )
    classes_per_client: int = spec(
        2,
        help="labels each client holds under the pathological split",
        low=1,
        whole=True,
        fix="Use at least 1 class.",
        label="Classes / client",
        widget_range=(1, 10),
    )
    seed: int = spec(
        0,
        help="random seed: the same seed and settings give the same run",
        low=0,
        whole=True,
        fix="Use a non-negative integer.",
        label="Seed",
    )
    local_epochs: int = spec(
        5,
        help="passes over its own data each selected client makes per round",
        low=1,
        whole=True,
        fix="Use at least 1 local epoch.",
    )
    batch_size: int = spec(
        8, help="mini-batch size of local training", low=1, whole=True, fix="Use at least 1."
    )
    lr: float = spec(0.3, help="client learning rate (plain SGD)", low=0, low_open=True)
    proximal_mu: float = spec(0.1, help="FedProx proximal weight mu", low=0)
    server_lr: float = spec(0.05, help="FedAdam server learning rate eta", low=0, low_open=True)
    krum_malicious: int = spec(
        0, help="Krum: number of malicious clients to tolerate", low=0, whole=True
    )
    deadline_s: float | None = spec(
        None,
        help="round deadline in simulated seconds; later clients are dropped as stragglers",
        unit="s",
        low=0,
        low_open=True,
        optional=True,
        flag="--deadline",
        fix="Leave it empty (0 on the command line) for no deadline.",
        label="Deadline (s)",
    )
    device_mix: dict[str, float] = spec(
        default_factory=dict,
        help="share of clients per device tier (data/federated/device_tiers.toml)",
    )
    dp_noise: float = spec(
        0.0,
        help="differential privacy noise multiplier (0 turns DP off)",
        low=0,
        label="DP noise",
        step=0.05,
        widget_range=(0.0, 3.0),
    )
    dp_clip: float = spec(
        1.0,
        help="differential privacy clipping norm of each client update",
        low=0,
        low_open=True,
        label="DP clip",
        step=0.05,
        widget_range=(0.05, 5.0),
    )
    dp_delta: float = spec(
        1e-5,
        help="differential privacy delta at which epsilon is reported",
        low=0,
        low_open=True,
        high=1,
        high_open=True,
        fix="1e-5 is usual.",
    )
    difficulty: float = spec(
        0.5,
        help="synthetic task: 0 easy (well separated) to 1 hard",
        low=0,
        high=1,
        fix="Use a value from 0 (easy) to 1 (hard).",
    )
    launcher: str = spec(
        "inline",
        help="where the apps run: inline (this process, no Ray) or ray (Flower simulation "
        "engine); deployment marks runs started with flwr run on a SuperLink",
        choices=LAUNCHERS,
    )
    ray_address: str | None = spec(
        None,
        help="address of a running Ray cluster to join (launcher ray); empty starts a local one",
        optional=True,
    )
    round_timeout_s: float = spec(
        300.0,
        help="wall-clock seconds the server waits for replies in one round",
        unit="s",
        low=0,
        low_open=True,
    )
    faulty_clients: tuple[int, ...] = spec(
        (),
        help="client ids whose ClientApp raises, e.g. 3,7 (to see failures counted, not fatal)",
        flag="--faulty",
    )

    def __post_init__(self) -> None:
        check_fields(self, owner=OWNER)
        _check_device_mix(self.device_mix)
        for client in self.faulty_clients:
            if isinstance(client, bool) or not isinstance(client, int) or client < 0:
                raise _invalid(self, "faulty_clients", "a list of client ids (0, 1, ...)")
        if self.strategy == "krum" and self.krum_malicious * 2 + 3 > self.clients_per_round:
            raise _invalid(
                self,
                "krum_malicious",
                f"small enough that 2 x krum_malicious + 2 < the {self.clients_per_round} clients "
                "asked per round (Krum needs more client updates than that)",
                "Raise --fraction or --num-clients, or lower krum_malicious.",
            )
        if self.dp_noise > 0 and self.strategy not in ("fedavg", "fedprox"):
            raise _invalid(
                self,
                "dp_noise",
                "0 with this strategy: Flower's privacy accounting needs FedAvg aggregation",
                "Use strategy fedavg or fedprox with DP, or set dp_noise to 0.",
            )

    @property
    def clients_per_round(self) -> int:
        """How many clients the server asks in each round (before availability)."""
        return max(1, round(self.fraction * self.num_clients))

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
        """Build from a mapping (a TOML table, JSON, keyword flags); unknown keys are refused.

        Older names (``clients`` for ``num_clients``) are read too, so saved runs and config
        files from before the rename still load.
        """
        values = _canonical(data, source)
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - names)
        if unknown:
            raise InvalidInputError(
                f"{source}: unknown setting(s) {', '.join(unknown)}. The federated settings are: "
                f"{', '.join(sorted(names))}."
            )
        if "faulty_clients" in values:
            values["faulty_clients"] = tuple(values["faulty_clients"] or ())
        if "device_mix" in values:
            values["device_mix"] = dict(values["device_mix"] or {})
        if values.get("deadline_s") == "":
            values["deadline_s"] = None
        return cls(**values)

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
        table = _canonical(data.get("federated", data), str(path))
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
        """The inverse of :meth:`to_flower`; keys that are not settings are ignored."""
        names = {f.name for f in dataclasses.fields(cls)} | set(ALIASES)
        values = {}
        for key, value in flat.items():
            if key not in names:
                continue
            if key in ("device_mix", "faulty_clients", "deadline_s", "ray_address") and isinstance(
                value, str
            ):
                value = json.loads(value) if value else None
            values[key] = value
        return cls.from_mapping(values, source="run config")


def _canonical(data: Mapping[str, Any], source: str) -> dict[str, Any]:
    """``data`` with older field names replaced by today's (refusing both at once)."""
    values = dict(data)
    for old, new in ALIASES.items():
        if old in values:
            if new in values:
                raise InvalidInputError(
                    f"{source}: both {old} and {new} are set; {old} is the older name of {new}, "
                    f"keep only {new}."
                )
            values[new] = values.pop(old)
    return values


def _invalid(config: FedConfig, name: str, rule: str, fix: str = "") -> InvalidInputError:
    return checks.invalid(
        name,
        getattr(config, name),
        rule,
        owner=OWNER,
        flag=flag_of(config, name),
        fix=fix,
    )


def _check_device_mix(mix: Any) -> None:
    flag = "--device-mix"
    if not isinstance(mix, Mapping):
        raise checks.invalid("device_mix", mix, "a table of tier = share", owner=OWNER, flag=flag)
    for tier, share in mix.items():
        checks.number(f"device_mix.{tier}", share, low=0, owner=OWNER, flag=flag)
    if mix and sum(mix.values()) <= 0:
        raise checks.invalid(
            "device_mix",
            dict(mix),
            "a table with at least one share above 0",
            owner=OWNER,
            flag=flag,
            fix="Give at least one tier a share above 0.",
        )


__all__ = [
    "ALIASES",
    "LAUNCHERS",
    "MODELS",
    "PARTITIONS",
    "SIMULATION_LAUNCHERS",
    "STRATEGIES",
    "STRATEGY_HELP",
    "STRATEGY_NAMES",
    "TASKS",
    "FedConfig",
]
