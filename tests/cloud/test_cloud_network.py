"""Network region presets: a fiber floor plus gamma extra delay, sourced and dated."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from workbench.cloud.network import (
    NetworkProfile,
    NetworkProfileFileError,
    NetworkProfileNotFoundError,
    get_network_profile,
    load_network_profiles,
    network_profiles_table,
)
from workbench.kit.errors import InvalidInputError

PRESETS = ("same-metro", "same-region", "cross-continent", "transatlantic", "intercontinental")


def test_every_preset_is_in_the_file_with_source_and_date():
    """The five region presets load, each with a source and an as-of date."""
    profiles = load_network_profiles()
    assert set(PRESETS) <= set(profiles)
    for profile in profiles.values():
        assert profile.source and profile.as_of


def test_floor_follows_one_ms_round_trip_per_100_km():
    """Each preset's round-trip floor is its assumed distance at 1 ms per 100 km."""
    for profile in load_network_profiles().values():
        assert profile.rtt_floor_ms == pytest.approx(profile.distance_km / 100)


@pytest.mark.parametrize("name", PRESETS)
def test_sampled_round_trips_never_go_below_the_floor(name):
    """Sampled round trips are at least the floor, and their mean is near floor + shape x scale."""
    profile = get_network_profile(name)
    samples = profile.sample(np.random.default_rng(0), 20_000)
    assert samples.min() >= profile.rtt_floor_ms
    assert samples.mean() == pytest.approx(profile.mean_rtt_ms, rel=0.05)


def test_sampling_repeats_with_the_same_seed():
    """Two generators with one seed draw the same round trips."""
    profile = get_network_profile("transatlantic")
    first = profile.sample(np.random.default_rng(7), 5)
    second = profile.sample(np.random.default_rng(7), 5)
    np.testing.assert_array_equal(first, second)


def test_connection_set_up_costs_the_given_round_trips():
    """A new connection costs at least round_trips x floor; zero round trips cost nothing."""
    profile = get_network_profile("cross-continent")
    rng = np.random.default_rng(1)
    assert profile.connection_setup_ms(rng, 3) >= 3 * profile.rtt_floor_ms
    assert profile.connection_setup_ms(rng, 0) == 0.0


def test_an_unknown_preset_names_the_presets_there_are():
    """A misspelt preset is refused with a suggestion and the list of presets."""
    with pytest.raises(NetworkProfileNotFoundError) as caught:
        get_network_profile("transatlantik")
    assert "transatlantic" in str(caught.value) and "same-metro" in str(caught.value)


def test_a_row_missing_a_column_is_named(tmp_path: Path):
    """A profile file lacking a column says which row and which column."""
    file = tmp_path / "profiles.toml"
    file.write_text('[[profile]]\nname = "x"\nrtt_floor_ms = 1.0\n', encoding="utf-8")
    with pytest.raises(NetworkProfileFileError, match="extra_shape"):
        load_network_profiles(file)


def test_a_negative_floor_is_refused_naming_the_field():
    """A profile with a negative floor names `rtt_floor_ms`."""
    with pytest.raises(InvalidInputError, match="rtt_floor_ms"):
        NetworkProfile(name="x", rtt_floor_ms=-1.0, extra_shape=2.0, extra_scale_ms=1.0)


def test_the_table_has_one_row_per_preset_with_its_mean():
    """The presets table lists every preset with mean_rtt_ms above its floor."""
    table = network_profiles_table()
    assert set(PRESETS) <= set(table["name"])
    assert (table["mean_rtt_ms"] > table["rtt_floor_ms"]).all()
