"""How a day's requests spread over its 24 hours: the load profile of a workload.

A :class:`LoadProfile` is 24 non-negative hourly shares that sum to 1: ``shares[h]`` is the
part of a day's requests that arrive in hour ``h`` (00:00-00:59 is hour 0). Every day of the
month is assumed to have the same shape. The cost model sizes autoscaled replicas hour by hour
from it (:mod:`workbench.cost.autoscaling`).

Where a profile comes from:

* ``flat``: every hour 1/24, the shape a month-long average implies. It is a definition, not an
  assumption, so it lives here and needs no file.
* the presets in ``data/load_profiles.csv`` (``business-hours``, ``diurnal``): **illustrative
  shapes** written for the workbench, not measurements; each row carries its ``source`` and
  ``as_of``. Replace them with your own.
* a CSV a user gives, with columns ``hour`` (0-23, each once) and ``share``; ``source``,
  ``as_of`` and ``notes`` columns are optional.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from workbench.kit import checks
from workbench.kit.errors import InvalidInputError
from workbench.kit.paths import data_dir

HOURS_PER_DAY = 24
#: Shares must sum to 1 within this (CSV files round their figures).
SHARE_TOLERANCE = 1e-6
#: The profile every workload has unless told otherwise.
FLAT = "flat"
_FLAT_SOURCE = "definition: every hour carries 1/24 of the day's requests"
_PRESET_FILE = "load_profiles.csv"
_PRESET_COLUMNS = ("profile", "hour", "share", "source", "as_of")
_USER_COLUMNS = ("hour", "share")


@dataclass(frozen=True)
class LoadProfile:
    """24 hourly shares of a day's requests, summing to 1, with where they come from.

    Parameters
    ----------
    name
        What tables call it (``"flat"``, ``"business-hours"``, a file's stem).
    shares
        24 non-negative numbers summing to 1 (within :data:`SHARE_TOLERANCE`); ``shares[0]``
        is 00:00-00:59.
    source, as_of, notes
        Where the shape comes from and when it was written (presets and user files say so).

    Raises
    ------
    InvalidInputError
        For a blank name, a number of shares other than 24, a negative or non-finite share,
        or shares that do not sum to 1; the message names ``shares`` and the fix.
    """

    name: str
    shares: tuple[float, ...]
    source: str = ""
    as_of: str = ""
    notes: str = ""

    def __post_init__(self) -> None:
        owner = "a load profile"
        checks.text("name", self.name, owner=owner, fix="Name the profile, e.g. 'office'.")
        owner = f"load profile {self.name!r}"
        for field in ("source", "as_of", "notes"):
            if not isinstance(getattr(self, field), str):
                raise checks.invalid(field, getattr(self, field), "a string", owner=owner)
        object.__setattr__(self, "shares", _checked_shares(self.shares, owner))

    @classmethod
    def flat(cls) -> LoadProfile:
        """Every hour 1/24: the shape of a load that never changes."""
        return cls(FLAT, (1.0 / HOURS_PER_DAY,) * HOURS_PER_DAY, source=_FLAT_SOURCE)

    @property
    def is_flat(self) -> bool:
        """Whether every hour carries the same share."""
        return max(self.shares) - min(self.shares) <= 1e-12

    @property
    def busiest_hour(self) -> int:
        """The hour with the largest share (the first one on a tie)."""
        return max(range(HOURS_PER_DAY), key=lambda hour: (self.shares[hour], -hour))

    @property
    def peak_to_average(self) -> float:
        """``24 x the largest share``: how far the busiest hour is above the day's average."""
        return HOURS_PER_DAY * max(self.shares)

    def to_dict(self) -> dict[str, Any]:
        """Plain values (``shares`` as a list)."""
        return {
            "name": self.name,
            "shares": list(self.shares),
            "source": self.source,
            "as_of": self.as_of,
            "notes": self.notes,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LoadProfile:
        """The inverse of :meth:`to_dict`; unknown keys are ignored."""
        keys = ("name", "shares", "source", "as_of", "notes")
        return cls(**{key: data[key] for key in keys if key in data})

    def to_frame(self) -> pd.DataFrame:
        """One row per hour: ``hour``, ``share``."""
        return pd.DataFrame({"hour": range(HOURS_PER_DAY), "share": list(self.shares)})


def _checked_shares(shares: Any, owner: str) -> tuple[float, ...]:
    fix = (
        "Give 24 hourly shares of a day's requests (hour 0 = 00:00-00:59), each >= 0, "
        "summing to 1; to turn hourly counts into shares, divide each by their total."
    )
    if isinstance(shares, str | bytes) or not isinstance(shares, Sequence):
        raise checks.invalid("shares", shares, "a sequence of 24 numbers", owner=owner, fix=fix)
    if len(shares) != HOURS_PER_DAY:
        raise InvalidInputError(
            f"`shares` of {owner} must have 24 values, one per hour, got {len(shares)}. {fix}"
        )
    values = []
    for hour, share in enumerate(shares):
        if not checks.is_number(share) or share < 0:
            raise InvalidInputError(
                f"`shares` of {owner}: hour {hour} must be a finite number >= 0, got "
                f"{share!r}. {fix}"
            )
        values.append(float(share))
    total = math.fsum(values)
    if abs(total - 1.0) > SHARE_TOLERANCE:
        raise InvalidInputError(
            f"`shares` of {owner} must sum to 1 (within {SHARE_TOLERANCE:g}), got "
            f"{total:.9g}. {fix}"
        )
    return tuple(values)


def presets_path() -> Path:
    """The preset file: ``<data dir>/load_profiles.csv``."""
    return data_dir() / _PRESET_FILE


def _read(path: Path, columns: tuple[str, ...], what: str) -> list[dict[str, str]]:
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            header = [(h or "").strip() for h in reader.fieldnames or []]
            reader.fieldnames = header
            rows = list(reader)
    except FileNotFoundError:
        raise InvalidInputError(
            f"The {what} {path} does not exist. Give a preset name ({', '.join(list_load_profiles())}) "
            "or the path of a CSV file with columns hour,share."
        ) from None
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise InvalidInputError(f"Cannot read the {what} {path}: {exc}.") from exc
    missing = [c for c in columns if c not in header]
    if missing:
        raise InvalidInputError(
            f"{path}: the {what} lacks the column(s) {', '.join(missing)}; it needs "
            f"{', '.join(columns)}. Add them to the first line."
        )
    return rows


def _from_rows(name: str, rows: list[dict[str, str]], path: Path) -> LoadProfile:
    """One profile from its 24 ``hour,share`` rows (any order, each hour once)."""
    shares: dict[int, float] = {}
    for number, row in enumerate(rows, start=1):
        where = f"{path} row {number} (line {number + 1})"
        try:
            hour = int(str(row["hour"]).strip())
            share = float(str(row["share"]).strip())
        except (TypeError, ValueError):
            raise InvalidInputError(
                f"{where}: `hour` must be a whole number 0-23 and `share` a number, got "
                f"hour={row.get('hour')!r}, share={row.get('share')!r}."
            ) from None
        if not 0 <= hour < HOURS_PER_DAY:
            raise InvalidInputError(f"{where}: `hour` must be 0-23, got {hour}.")
        if hour in shares:
            raise InvalidInputError(f"{where}: hour {hour} appears twice; give each hour once.")
        shares[hour] = share
    missing = [h for h in range(HOURS_PER_DAY) if h not in shares]
    if missing:
        raise InvalidInputError(
            f"{path}: load profile {name!r} lacks hour(s) {', '.join(map(str, missing))}; give "
            "one row per hour 0-23 (a share of 0 for an hour without requests)."
        )
    first = rows[0]
    return LoadProfile(
        name,
        tuple(shares[h] for h in range(HOURS_PER_DAY)),
        source=(first.get("source") or "").strip() or f"file {path}",
        as_of=(first.get("as_of") or "").strip(),
        notes=(first.get("notes") or "").strip(),
    )


def _presets() -> dict[str, LoadProfile]:
    path = presets_path()
    rows = _read(path, _PRESET_COLUMNS, "load profile presets")
    grouped: dict[str, list[dict[str, str]]] = {}
    for row in rows:
        grouped.setdefault((row.get("profile") or "").strip(), []).append(row)
    return {name: _from_rows(name, group, path) for name, group in grouped.items()}


def list_load_profiles() -> list[str]:
    """The preset names: ``flat`` and those in ``data/load_profiles.csv``."""
    try:
        names = sorted(_presets())
    except InvalidInputError:
        names = []
    return [FLAT, *names]


def load_profiles_table() -> pd.DataFrame:
    """Every preset as one row per hour: ``profile``, ``hour``, ``share``, ``source``, ``as_of``."""
    frames = []
    for name in list_load_profiles():
        profile = load_profile(name)
        frame = profile.to_frame()
        frame.insert(0, "profile", name)
        frame["source"] = profile.source
        frame["as_of"] = profile.as_of
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def load_profile(name_or_path: str | Path | LoadProfile) -> LoadProfile:
    """A preset by name (``flat``, ``business-hours``, ``diurnal``) or a user's CSV file.

    Parameters
    ----------
    name_or_path
        A preset name (case and ``_``/``-`` do not matter), or the path of a CSV with columns
        ``hour`` and ``share`` (24 rows; ``source``, ``as_of``, ``notes`` optional). A
        :class:`LoadProfile` is returned as it is.

    Raises
    ------
    InvalidInputError
        For an unknown name, an unreadable file, a missing hour or shares that do not sum
        to 1; the message names the file, the row and the fix.
    """
    if isinstance(name_or_path, LoadProfile):
        return name_or_path
    if not isinstance(name_or_path, str | Path) or not str(name_or_path).strip():
        raise checks.invalid(
            "load_profile",
            name_or_path,
            "a preset name or the path of a CSV file",
            fix=f"Presets: {', '.join(list_load_profiles())}.",
        )
    text = str(name_or_path).strip()
    key = text.lower().replace("_", "-")
    if key == FLAT:
        return LoadProfile.flat()
    path = Path(text).expanduser()
    if path.suffix.lower() != ".csv" and not path.exists():
        presets = _presets()
        if key in presets:
            return presets[key]
        raise InvalidInputError(
            f"`load_profile` {text!r} is neither a preset ({', '.join(list_load_profiles())}) "
            "nor a CSV file. Give a preset name, or the path of a CSV with columns hour,share."
        )
    rows = _read(path, _USER_COLUMNS, "load profile file")
    return _from_rows(path.stem, rows, path)


def coerce_load_profile(value: Any, owner: str = "the workload") -> LoadProfile:
    """A :class:`LoadProfile` from what a config may hold: ``None`` (flat), a profile, a
    preset name or CSV path, a :meth:`LoadProfile.to_dict` mapping, or 24 shares.

    Raises
    ------
    InvalidInputError
        Naming ``load_profile`` of ``owner`` and the accepted forms.
    """
    if value is None:
        return LoadProfile.flat()
    if isinstance(value, LoadProfile):
        return value
    if isinstance(value, str | Path):
        return load_profile(value)
    if isinstance(value, Mapping):
        return LoadProfile.from_dict(value)
    if isinstance(value, Sequence):
        return LoadProfile("custom", tuple(value), source="24 shares given in code")
    raise checks.invalid(
        "load_profile",
        value,
        "a LoadProfile, a preset name, a CSV path or 24 hourly shares",
        owner=owner,
        fix=f"Presets: {', '.join(list_load_profiles())}.",
    )


__all__ = [
    "FLAT",
    "HOURS_PER_DAY",
    "SHARE_TOLERANCE",
    "LoadProfile",
    "coerce_load_profile",
    "list_load_profiles",
    "load_profile",
    "load_profiles_table",
    "presets_path",
]
