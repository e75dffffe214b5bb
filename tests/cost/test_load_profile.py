"""Load profiles: 24 hourly shares that sum to 1, presets with their source, and user CSVs."""

from __future__ import annotations

import json

import pytest

from workbench.cost import (
    LoadProfile,
    Workload,
    list_load_profiles,
    load_profile,
    load_profiles_table,
)
from workbench.kit.errors import InvalidInputError


def test_flat_gives_every_hour_a_24th():
    """The flat profile is 1/24 an hour, so its busiest hour is the average."""
    profile = load_profile("flat")

    assert profile == LoadProfile.flat()
    assert profile.is_flat and profile.peak_to_average == pytest.approx(1.0)


@pytest.mark.parametrize("name", ["business-hours", "diurnal"])
def test_presets_sum_to_one_and_say_where_they_come_from(name):
    """Each shipped preset is 24 shares summing to 1, with a source and a date."""
    profile = load_profile(name)

    assert len(profile.shares) == 24
    assert sum(profile.shares) == pytest.approx(1.0)
    assert "illustrative" in profile.source.lower() and profile.as_of


def test_preset_names_ignore_case_and_underscores():
    """``Business_Hours`` is the business-hours preset."""
    assert load_profile("Business_Hours") == load_profile("business-hours")


def test_the_presets_are_listed_with_flat_first():
    """flat, then the file's presets in order of name."""
    assert list_load_profiles() == ["flat", "business-hours", "diurnal"]


def test_the_presets_table_has_a_row_per_hour_with_source_and_date():
    """Three presets x 24 hours, each with source and as_of."""
    table = load_profiles_table()

    assert len(table) == 72
    assert table["source"].str.len().min() > 0
    assert set(table.columns) >= {"profile", "hour", "share", "source", "as_of"}


def test_a_user_csv_loads_in_any_hour_order(tmp_path):
    """A CSV of hour,share (hours in any order) is a profile named after the file."""
    path = tmp_path / "night-shift.csv"
    rows = [f"{hour},{0.1 if hour < 10 else 0}" for hour in reversed(range(24))]
    path.write_text("hour,share\n" + "\n".join(rows) + "\n")

    profile = load_profile(path)

    assert profile.name == "night-shift"
    assert profile.shares[:10] == (0.1,) * 10 and profile.shares[10:] == (0.0,) * 14


def test_a_user_csv_missing_an_hour_is_refused(tmp_path):
    """Every hour 0-23 must appear once."""
    path = tmp_path / "short.csv"
    path.write_text("hour,share\n" + "\n".join(f"{h},{1 / 23}" for h in range(23)) + "\n")

    with pytest.raises(InvalidInputError, match="lacks hour"):
        load_profile(path)


def test_an_unknown_preset_is_refused_with_the_choices():
    """The error lists the presets."""
    with pytest.raises(InvalidInputError, match="business-hours"):
        load_profile("weekend")


@pytest.mark.parametrize(
    ("shares", "words"),
    [
        ((1 / 23,) * 23, "24 values"),
        ((-0.1, 0.1 + 1 / 24) + (1 / 24,) * 22, "hour 0"),
        ((0.9 / 24,) * 24, "sum to 1"),
    ],
)
def test_bad_shares_are_refused_naming_the_field(shares, words):
    """Too few shares, a negative share, or shares not summing to 1 name `shares` and the fix."""
    with pytest.raises(InvalidInputError, match="`shares`") as error:
        LoadProfile("bad", shares)

    assert words in str(error.value)
    assert "divide each by their total" in str(error.value)


def test_a_workload_takes_a_preset_by_name():
    """``load_profile="diurnal"`` on a workload is the diurnal preset."""
    workload = Workload(requests_per_month=1000, load_profile="diurnal")

    assert workload.load_profile == load_profile("diurnal")


def test_a_workload_refuses_what_is_not_a_profile():
    """A number is not a load profile; the error names the field."""
    with pytest.raises(InvalidInputError, match="`load_profile`"):
        Workload(requests_per_month=1000, load_profile=3)


def test_the_busiest_hour_sets_the_default_peak():
    """Business hours peak at 0.095 of a day: 24 x 0.095 = 2.28 x the average rate."""
    workload = Workload(requests_per_month=2_628_000, load_profile="business-hours")

    assert workload.peak_rate == pytest.approx(2.28)
    assert workload.hourly_requests_per_s[10] == pytest.approx(2.28)


def test_a_peak_below_the_busiest_hour_is_refused():
    """At 1 request/s on average business hours reach 2.28/s at 10:00; a 2/s peak is too low."""
    with pytest.raises(InvalidInputError, match="busiest hour"):
        Workload(
            requests_per_month=2_628_000, peak_requests_per_s=2.0, load_profile="business-hours"
        )


def test_a_workload_with_a_profile_round_trips_through_json():
    """to_dict, JSON and from_dict give back an equal workload."""
    workload = Workload(requests_per_month=1000, load_profile="business-hours")

    loaded = Workload.from_dict(json.loads(json.dumps(workload.to_dict())))

    assert loaded == workload
