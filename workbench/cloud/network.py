"""Network delay between a client and a cloud region: a fiber floor plus gamma-distributed extra.

A round trip is ``rtt_floor_ms + Gamma(extra_shape, extra_scale_ms)``. The floor comes from the
distance (light in fiber covers about 200,000 km/s, so about 1 ms of round trip per 100 km); the
extra delay stands for longer-than-straight paths, routers and queues. Presets live in
``data/network_profiles.toml``, each row with its ``source`` and ``as_of``.

A new HTTPS connection costs round trips before the request can go: one for the TCP handshake
and one (TLS 1.3) or two (TLS 1.2) for TLS. :meth:`NetworkProfile.connection_setup_ms` draws them.
"""

from __future__ import annotations

import difflib
import tomllib
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from workbench.kit import checks
from workbench.kit.errors import InvalidInputError, WorkbenchError
from workbench.kit.fields import check_fields, spec
from workbench.kit.paths import data_dir

#: Round trips a new HTTPS connection costs before the request: TCP (1) + TLS 1.3 (1).
#: Use 3 for TLS 1.2, 1 for plain HTTP.
SETUP_ROUND_TRIPS = 2
PROFILES_FILE = "network_profiles.toml"
_COLUMNS = (
    "name",
    "description",
    "distance_km",
    "rtt_floor_ms",
    "extra_shape",
    "extra_scale_ms",
    "source",
    "as_of",
)


class NetworkProfileNotFoundError(WorkbenchError, LookupError):
    """A region preset name that is not in ``data/network_profiles.toml``."""


class NetworkProfileFileError(WorkbenchError):
    """A network profile file that is missing, not TOML, or lacks a column."""


@dataclass(frozen=True)
class NetworkProfile:
    """Round-trip delay between a client and a region: a floor plus gamma-distributed extra."""

    name: str = spec(help="preset name, e.g. 'transatlantic'")
    rtt_floor_ms: float = spec(
        help="least possible round trip, from fiber distance", unit="ms", low=0
    )
    extra_shape: float = spec(help="gamma shape of the delay above the floor", low=0, low_open=True)
    extra_scale_ms: float = spec(
        help="gamma scale of the delay above the floor, ms", unit="ms", low=0
    )
    distance_km: float = spec(0.0, help="assumed one-way distance", unit="km", low=0)
    description: str = spec("", help="where client and server are")
    source: str = spec("", help="where the numbers come from")
    as_of: str = spec("", help="when the row was checked (YYYY-MM-DD)")

    def __post_init__(self) -> None:
        checks.text("name", self.name, owner="network profile")
        check_fields(self, owner="network profile")

    @property
    def mean_rtt_ms(self) -> float:
        """The mean round trip: floor plus the gamma's mean (shape x scale)."""
        return self.rtt_floor_ms + self.extra_shape * self.extra_scale_ms

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """Draw ``n`` round-trip times in milliseconds, each at least ``rtt_floor_ms``.

        Parameters
        ----------
        rng
            The random source (``numpy.random.default_rng(seed)``), so draws repeat.
        n
            How many round trips; 0 gives an empty array.

        Returns
        -------
        numpy.ndarray
            ``n`` float64 values in ms.
        """
        n = checks.whole("n", n, 0)
        extra = (
            rng.gamma(self.extra_shape, self.extra_scale_ms, size=int(n))
            if self.extra_scale_ms > 0
            else np.zeros(int(n))
        )
        return self.rtt_floor_ms + extra

    def connection_setup_ms(
        self, rng: np.random.Generator, round_trips: int = SETUP_ROUND_TRIPS
    ) -> float:
        """Time a new connection costs before its first request: ``round_trips`` sampled RTTs.

        Parameters
        ----------
        rng
            The random source.
        round_trips
            TCP + TLS handshakes: 2 for TLS 1.3 (the default), 3 for TLS 1.2, 1 for plain HTTP.
        """
        round_trips = checks.whole("round_trips", round_trips, 0)
        return float(self.sample(rng, round_trips).sum())

    def to_dict(self) -> dict[str, Any]:
        """Plain values."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> NetworkProfile:
        """The inverse of :meth:`to_dict`; unknown keys are ignored."""
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


def load_network_profiles(path: str | Path | None = None) -> dict[str, NetworkProfile]:
    """The region presets by name, from ``data/network_profiles.toml`` or ``path``.

    Raises
    ------
    NetworkProfileFileError
        When the file is missing, is not TOML, or a row lacks a column or holds a bad value.
    """
    file = Path(path) if path is not None else data_dir() / PROFILES_FILE
    try:
        data = tomllib.loads(file.read_text(encoding="utf-8"))
    except OSError as exc:
        raise NetworkProfileFileError(
            f"The network profile file {file} cannot be read ({exc.strerror or exc}); restore "
            f"data/{PROFILES_FILE} from the repository or pass another file."
        ) from exc
    except tomllib.TOMLDecodeError as exc:
        raise NetworkProfileFileError(
            f"The network profile file {file} is not valid TOML ({exc}); fix that line."
        ) from exc
    profiles: dict[str, NetworkProfile] = {}
    for index, row in enumerate(data.get("profile", [])):
        missing = [c for c in _COLUMNS if c not in row]
        if missing:
            raise NetworkProfileFileError(
                f"Profile {index + 1} ({row.get('name', 'unnamed')}) in {file} lacks "
                f"{', '.join(missing)}; every [[profile]] needs {', '.join(_COLUMNS)}."
            )
        try:
            profile = NetworkProfile.from_dict({**row, "as_of": str(row["as_of"])})
        except InvalidInputError as exc:
            raise NetworkProfileFileError(f"Profile {row['name']!r} in {file}: {exc}") from exc
        profiles[profile.name] = profile
    if not profiles:
        raise NetworkProfileFileError(
            f"The network profile file {file} has no [[profile]] rows; add at least one."
        )
    return profiles


def get_network_profile(name: str, path: str | Path | None = None) -> NetworkProfile:
    """The region preset ``name``.

    Raises
    ------
    NetworkProfileNotFoundError
        Listing the presets there are and the closest name.
    """
    profiles = load_network_profiles(path)
    if name in profiles:
        return profiles[name]
    close = difflib.get_close_matches(str(name), list(profiles), n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    raise NetworkProfileNotFoundError(
        f"No network region preset named {name!r}.{hint} The presets are: "
        f"{', '.join(profiles)} (defined in data/{PROFILES_FILE})."
    )


def network_profiles_table(path: str | Path | None = None) -> pd.DataFrame:
    """The presets as a table, one row each, with ``mean_rtt_ms`` added."""
    rows = [
        {**p.to_dict(), "mean_rtt_ms": p.mean_rtt_ms} for p in load_network_profiles(path).values()
    ]
    return pd.DataFrame(rows)


__all__ = [
    "SETUP_ROUND_TRIPS",
    "NetworkProfile",
    "NetworkProfileFileError",
    "NetworkProfileNotFoundError",
    "get_network_profile",
    "load_network_profiles",
    "network_profiles_table",
]
