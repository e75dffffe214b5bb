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
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workbench.kit import checks
from workbench.kit.errors import InvalidInputError
from workbench.kit.fields import check_fields, flag_of, spec, specs
from workbench.kit.files import read_toml

TASKS = ("digits", "synthetic", "text")
MODELS = ("logreg", "mlp")
STRATEGIES = ("fedavg", "fedprox", "fedadam", "fedmedian", "krum")
PARTITIONS = ("iid", "dirichlet", "pathological")
LAUNCHERS = ("inline", "ray", "deployment")
SIMULATION_LAUNCHERS = ("inline", "ray")  # the ones run_federated starts by itself
OWNER = "the federated settings"
# Upper bounds: far beyond any useful experiment, low enough that a typo cannot start a run that
# never ends (--rounds 1000000000), fills the memory or overflows a float (--dp-noise 1e308).
MAX_ROUNDS = 10_000
MAX_CLIENTS = 100_000
MAX_LOCAL_EPOCHS = 1_000
MAX_BATCH = 100_000
MAX_RATE = 100.0  # learning rates and the proximal weight
MAX_DP_NOISE = 100.0
MAX_DP_CLIP = 1e6
MAX_WAIT_S = 86_400.0
# Fields whose upper bound is checked on its own: a spec's ``high`` would turn their text box in
# the panels into a slider from low to high.
_MAXIMA = {
    "local_epochs": MAX_LOCAL_EPOCHS,
    "batch_size": MAX_BATCH,
    "lr": MAX_RATE,
    "proximal_mu": MAX_RATE,
    "server_lr": MAX_RATE,
    "round_timeout_s": MAX_WAIT_S,
}
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
        high=MAX_CLIENTS,
        whole=True,
        aliases=("--clients",),
        fix=f"Use 1 to {MAX_CLIENTS:,} clients (100 is a good start).",
        label="Clients",
        widget_range=(1, 1000),
    )
    rounds: int = spec(
        10,
        help="number of federated rounds",
        low=1,
        high=MAX_ROUNDS,
        whole=True,
        fix=f"Run from 1 to {MAX_ROUNDS:,} rounds (accuracy settles within a few hundred).",
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
        fix=f"Use 1 to {MAX_LOCAL_EPOCHS} local epochs (1 to 5 is usual).",
    )
    batch_size: int = spec(
        8,
        help="mini-batch size of local training",
        low=1,
        whole=True,
        fix=f"Use 1 to {MAX_BATCH:,} (8 to 64 is usual).",
    )
    lr: float = spec(
        0.3,
        help="client learning rate (plain SGD)",
        low=0,
        low_open=True,
        fix="Plain SGD diverges far below the limit; 0.01 to 1 is usual.",
    )
    proximal_mu: float = spec(
        0.1, help="FedProx proximal weight mu", low=0, fix="0.001 to 1 is usual."
    )
    server_lr: float = spec(
        0.05,
        help="FedAdam server learning rate eta",
        low=0,
        low_open=True,
        fix="0.01 to 0.1 is usual.",
    )
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
        none_means="no deadline",
        flag="--deadline",
        fix="For no deadline leave it out (--deadline none on the command line).",
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
        high=MAX_DP_NOISE,
        fix="Multipliers of 0.1 to 5 are usual; far larger ones only add noise that no round "
        "can average out (and overflow the update).",
        label="DP noise",
        step=0.05,
        widget_range=(0.0, 3.0),
    )
    dp_clip: float = spec(
        1.0,
        help="differential privacy clipping norm of each client update",
        low=0,
        low_open=True,
        high=MAX_DP_CLIP,
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
        fix="Wait at most a day for one round.",
    )
    faulty_clients: tuple[int, ...] = spec(
        (),
        help="client ids whose ClientApp raises, e.g. 3,7 (to see failures counted, not fatal)",
        flag="--faulty",
    )

    def __post_init__(self) -> None:
        check_fields(self, owner=OWNER)
        for name, most in _MAXIMA.items():
            if getattr(self, name) > most:
                raise _invalid(self, name, f"at most {most:,g}", specs(self)[name].fix)
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
            values["faulty_clients"] = _as_list(values["faulty_clients"], "faulty_clients", source)
        if "device_mix" in values:
            values["device_mix"] = _as_table(values["device_mix"], source)
        if values.get("deadline_s") == "":
            values["deadline_s"] = None
        return cls(**values)

    @classmethod
    def from_toml(cls, path: str | Path, **overrides: Any) -> FedConfig:
        """Read ``[federated]`` (or the top level) of a TOML file; ``overrides`` win."""
        path = Path(path)
        data = read_toml(path, "--config file", fix="Check the path given to --config.")
        table = data.get("federated", data)
        if not isinstance(table, Mapping):
            raise InvalidInputError(
                f"Config file {path}: `federated` must be a table ([federated] with one setting "
                f"per line), got {table!r}."
            )
        table = _canonical(table, str(path))
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


def _as_list(value: Any, name: str, source: str) -> tuple[Any, ...]:
    """A TOML array (or nothing) as a tuple; any other value is refused, naming the field."""
    if value is None or value == "":
        return ()
    if isinstance(value, list | tuple):
        return tuple(value)
    raise InvalidInputError(
        f"{source}: `{name}` must be a list like [3, 7], got {value!r} ({type(value).__name__})."
    )


def _as_table(value: Any, source: str) -> dict[str, Any]:
    """A TOML table (or nothing) as a dict; any other value is refused, naming the field."""
    if value is None or value == "":
        return {}
    if isinstance(value, Mapping):
        return dict(value)
    raise InvalidInputError(
        f"{source}: `device_mix` must be a table of tier = share, e.g. "
        f"device_mix = {{ phone-high = 0.5, laptop = 0.5 }}, got {value!r} ({type(value).__name__})."
    )


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
