"""Federated settings have sane upper bounds, and a TOML file's wrong types are named."""

from __future__ import annotations

import pytest

from workbench.federated.config import MAX_ROUNDS, FedConfig
from workbench.kit.errors import InvalidInputError


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("rounds", 1_000_000_000),
        ("dp_noise", 1e308),
        ("num_clients", 1_000_000_000),
        ("local_epochs", 1_000_000_000),
        ("lr", 1e308),
        ("round_timeout_s", 1e308),
    ],
)
def test_values_far_beyond_any_experiment_are_refused(field, value):
    """A typo that would run forever or overflow is refused, naming the field and its flag."""
    flag = "--" + field.replace("_", "-")

    with pytest.raises(InvalidInputError, match=f"`{field}` .*\\({flag}\\)"):
        FedConfig(**{field: value})


def test_the_largest_round_count_is_accepted():
    """MAX_ROUNDS itself is a valid setting."""
    assert FedConfig(rounds=MAX_ROUNDS).rounds == MAX_ROUNDS


def test_a_zero_deadline_is_refused_with_the_word_for_none():
    """deadline_s 0 is not 'no deadline': the message says how to ask for none."""
    with pytest.raises(InvalidInputError, match="--deadline none"):
        FedConfig(deadline_s=0)


@pytest.mark.parametrize(
    ("line", "named"),
    [
        ("faulty_clients = 3", "`faulty_clients` must be a list"),
        ("device_mix = 3", "`device_mix` must be a table"),
        ('rounds = "ten"', "`rounds`"),
    ],
)
def test_wrongly_typed_toml_values_are_named(tmp_path, line, named):
    """A TOML value of the wrong type is refused naming the setting, not with a TypeError."""
    path = tmp_path / "fed.toml"
    path.write_text(f"[federated]\n{line}\n", encoding="utf-8")

    with pytest.raises(InvalidInputError, match=named):
        FedConfig.from_toml(path)


def test_a_non_utf8_config_file_is_named(tmp_path):
    """A Latin-1 config file is refused as not UTF-8, naming --config."""
    path = tmp_path / "fed.toml"
    path.write_bytes("[federated]\nrounds = 2 # café\n".encode("latin-1"))

    with pytest.raises(InvalidInputError, match=r"--config file .* not UTF-8"):
        FedConfig.from_toml(path)
