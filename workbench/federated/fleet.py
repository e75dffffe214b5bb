"""A synthetic fleet of edge devices and the virtual clock of a federated round.

Nothing here sleeps: each client is drawn from a device tier (``data/federated/device_tiers.toml``)
and a round's simulated duration is computed from the tier's bandwidth, latency and training
speed. Availability and dropouts are drawn from generators seeded by (seed, round), so a run is
the same whatever order the clients are processed in, inline or on Ray.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from workbench.federated.config import FedConfig
from workbench.kit.errors import InvalidInputError
from workbench.kit.paths import data_dir

TIER_FIELDS = {
    "description": str,
    "device": str,
    "share": float,
    "samples_per_s": float,
    "down_mbps": float,
    "up_mbps": float,
    "latency_ms": float,
    "startup_s": float,
    "availability": float,
    "hours": list,
    "dropout": float,
    "max_samples": int,
    "source": str,
    "as_of": str,
}


@dataclass(frozen=True)
class Tier:
    """One kind of edge device: how fast it trains and talks, how often it is there."""

    name: str
    description: str
    device: str
    share: float
    samples_per_s: float
    down_mbps: float
    up_mbps: float
    latency_ms: float
    startup_s: float
    availability: float
    hours: tuple[float, float]
    dropout: float
    max_samples: int
    source: str
    as_of: str

    def online_at(self, hour_of_day: float) -> bool:
        start, end = self.hours
        if start <= end:
            return start <= hour_of_day < end
        return hour_of_day >= start or hour_of_day < end  # a window across midnight


@dataclass(frozen=True)
class ClientTime:
    """Simulated seconds one client spends in a round."""

    startup_s: float
    download_s: float
    train_s: float
    upload_s: float

    @property
    def total_s(self) -> float:
        return self.startup_s + self.download_s + self.train_s + self.upload_s


@dataclass(frozen=True)
class RoundPlan:
    """Who is online, who is asked, and who will drop out, before anything is sent."""

    available: tuple[int, ...]
    selected: tuple[int, ...]
    dropped: tuple[int, ...]

    @property
    def sent(self) -> tuple[int, ...]:
        """The selected clients that stay for the whole round (they get a train message)."""
        dropped = set(self.dropped)
        return tuple(c for c in self.selected if c not in dropped)


@dataclass(frozen=True)
class RoundOutcome:
    """How a round ended on the virtual clock."""

    completed: tuple[int, ...]
    stragglers: tuple[int, ...]
    sim_time_s: float


def tiers_path() -> Path:
    return data_dir() / "federated" / "device_tiers.toml"


@lru_cache(maxsize=8)
def _load(path: Path, mtime: float) -> tuple[dict[str, Tier], float]:
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise InvalidInputError(
            f"Device tier file {path} cannot be read ({exc}); restore it from the repository."
        ) from None
    tiers = {}
    for name, row in data.get("tiers", {}).items():
        missing = sorted(set(TIER_FIELDS) - set(row))
        if missing:
            raise InvalidInputError(
                f"Device tier '{name}' in {path} lacks {', '.join(missing)}; every tier needs "
                f"{', '.join(TIER_FIELDS)}."
            )
        values = {key: row[key] for key in TIER_FIELDS}
        hours = values["hours"]
        if len(hours) != 2 or not all(0 <= float(h) <= 24 for h in hours):
            raise InvalidInputError(
                f"Device tier '{name}' in {path}: hours must be [start, end] within 0..24."
            )
        values["hours"] = (float(hours[0]), float(hours[1]))
        tier = Tier(name=name, **values)
        for key in ("samples_per_s", "down_mbps", "up_mbps"):
            if not getattr(tier, key) > 0:
                raise InvalidInputError(f"Device tier '{name}' in {path}: {key} must be above 0.")
        for key in ("availability", "dropout"):
            if not 0 <= getattr(tier, key) <= 1:
                raise InvalidInputError(
                    f"Device tier '{name}' in {path}: {key} is a probability, within 0..1."
                )
        tiers[name] = tier
    if not tiers:
        raise InvalidInputError(f"Device tier file {path} defines no [tiers.<name>] table.")
    return tiers, float(data.get("clock", {}).get("start_hour", 0.0))


def load_tiers(path: str | Path | None = None) -> dict[str, Tier]:
    """The device tiers, by name."""
    path = Path(path) if path else tiers_path()
    return dict(_load(path, path.stat().st_mtime if path.exists() else 0.0)[0])


def clock_start_hour(path: str | Path | None = None) -> float:
    path = Path(path) if path else tiers_path()
    return _load(path, path.stat().st_mtime if path.exists() else 0.0)[1]


def tiers_table(path: str | Path | None = None) -> pd.DataFrame:
    """The tiers as a table, with each row's source and date (for panels and the CLI)."""
    rows = [
        {
            "tier": t.name,
            "description": t.description,
            "device": t.device,
            "share": t.share,
            "samples_per_s": t.samples_per_s,
            "down_mbps": t.down_mbps,
            "up_mbps": t.up_mbps,
            "latency_ms": t.latency_ms,
            "startup_s": t.startup_s,
            "availability": t.availability,
            "hours": f"{t.hours[0]:g}-{t.hours[1]:g}",
            "dropout": t.dropout,
            "max_samples": t.max_samples,
            "source": t.source,
            "as_of": t.as_of,
        }
        for t in load_tiers(path).values()
    ]
    return pd.DataFrame(rows)


def client_time(
    tier: Tier, *, num_examples: int, local_epochs: int, bytes_down: int, bytes_up: int
) -> ClientTime:
    """Simulated start-up, download, training and upload seconds of one client in one round."""
    latency = tier.latency_ms / 1000.0
    return ClientTime(
        startup_s=tier.startup_s,
        download_s=latency + bytes_down * 8 / (tier.down_mbps * 1e6),
        train_s=local_epochs * num_examples / tier.samples_per_s,
        upload_s=latency + bytes_up * 8 / (tier.up_mbps * 1e6),
    )


def settle_round(
    times: Mapping[int, ClientTime],
    *,
    deadline_s: float | None,
    missing: Iterable[int] = (),
) -> RoundOutcome:
    """End a round on the virtual clock.

    ``times`` holds the clients that trained and replied; ``missing`` those that were asked but
    never replied (dropped out or failed). Clients over the deadline are stragglers: their update is
    discarded. With a deadline, a round that lost anyone lasts the whole deadline (the server cannot
    know a late client will not come); without one, it lasts until the slowest reply.
    """
    completed = tuple(
        sorted(c for c, t in times.items() if deadline_s is None or t.total_s <= deadline_s)
    )
    stragglers = tuple(sorted(set(times) - set(completed)))
    lost = bool(stragglers) or any(True for _ in missing)
    finish = max((times[c].total_s for c in completed), default=0.0)
    if deadline_s is not None and lost:
        finish = deadline_s
    return RoundOutcome(completed=completed, stragglers=stragglers, sim_time_s=finish)


class Fleet:
    """The clients of one experiment, each drawn from a device tier."""

    def __init__(self, config: FedConfig, tiers: Mapping[str, Tier] | None = None) -> None:
        self.config = config
        self.tiers = dict(tiers) if tiers is not None else load_tiers()
        self.start_hour = clock_start_hour() if tiers is None else 0.0
        shares = self._shares(config.device_mix)
        names = sorted(shares)
        p = np.array([shares[n] for n in names], dtype=float)
        rng = np.random.default_rng([config.seed, 0xF1EE7])
        picks = rng.choice(len(names), size=config.num_clients, p=p / p.sum())
        self.client_tiers: tuple[str, ...] = tuple(names[i] for i in picks)

    def _shares(self, mix: Mapping[str, float]) -> dict[str, float]:
        if not mix:
            shares = {name: tier.share for name, tier in self.tiers.items()}
        else:
            unknown = sorted(set(mix) - set(self.tiers))
            if unknown:
                raise InvalidInputError(
                    f"`device_mix` names unknown tier(s) {', '.join(unknown)}; "
                    f"the tiers are {', '.join(sorted(self.tiers))} (data/federated/device_tiers.toml)."
                )
            shares = dict(mix)
        shares = {name: float(share) for name, share in shares.items() if share > 0}
        if not shares:
            raise InvalidInputError(
                "`device_mix` gives every tier a share of 0; give at least one "
                "tier a positive share."
            )
        return shares

    def tier(self, client: int) -> Tier:
        return self.tiers[self.client_tiers[client]]

    def hour_of_day(self, clock_s: float) -> float:
        return (self.start_hour + clock_s / 3600.0) % 24.0

    def plan_round(self, server_round: int, clock_s: float) -> RoundPlan:
        """Who is online at ``clock_s``, who the server asks, who will drop out."""
        rng = np.random.default_rng([self.config.seed, server_round, 0xA7A1])
        online_draw = rng.random(self.config.num_clients)
        drop_draw = rng.random(self.config.num_clients)
        hour = self.hour_of_day(clock_s)
        available = [
            c
            for c in range(self.config.num_clients)
            if self.tier(c).online_at(hour) and online_draw[c] < self.tier(c).availability
        ]
        k = min(self.config.clients_per_round, len(available))
        chosen = rng.choice(len(available), size=k, replace=False) if k else []
        selected = sorted(available[i] for i in chosen)
        dropped = [c for c in selected if drop_draw[c] < self.tier(c).dropout]
        return RoundPlan(tuple(available), tuple(selected), tuple(dropped))

    def client_time(
        self, client: int, *, num_examples: int, bytes_down: int, bytes_up: int
    ) -> ClientTime:
        return client_time(
            self.tier(client),
            num_examples=num_examples,
            local_epochs=self.config.local_epochs,
            bytes_down=bytes_down,
            bytes_up=bytes_up,
        )

    def examples_kept(self, client: int, partition_size: int) -> int:
        cap = self.tier(client).max_samples
        return min(partition_size, cap) if cap > 0 else partition_size

    def check_deadline(self, partition_sizes: Sequence[int], model_bytes: int) -> None:
        """Refuse a deadline that no client could ever meet, before any round runs."""
        deadline = self.config.deadline_s
        if deadline is None:
            return
        best = math.inf
        best_client = None
        for client, size in enumerate(partition_sizes):
            t = self.client_time(
                client,
                num_examples=self.examples_kept(client, size),
                bytes_down=model_bytes,
                bytes_up=model_bytes,
            ).total_s
            if t < best:
                best, best_client = t, client
        if best > deadline:
            raise InvalidInputError(
                f"`deadline_s` = {deadline:g} s cannot be met by any client: the "
                f"fastest, client {best_client} ({self.client_tiers[best_client]}), needs {best:.2f} s "
                f"to start, download, train {self.config.local_epochs} epoch(s) and upload. Raise the "
                f"deadline above {best:.2f} s, train fewer local epochs, or leave it empty."
            )

    def tier_counts(self) -> pd.Series:
        return pd.Series(self.client_tiers).value_counts().sort_index()
