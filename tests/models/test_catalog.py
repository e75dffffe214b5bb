"""The model catalog (data/models.toml): its rows, and the errors for bad rows and names."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest

from workbench.kit.errors import InvalidInputError, ModelNotFoundError
from workbench.models import get_entry, load_catalog

EXPECTED_TASKS = {
    "minilm": "embeddings",
    "smollm2-135m": "text-generation",
    "tiny-bert": "embeddings",
    "tiny-llama": "text-generation",
}

GOOD_ROW = """
[[model]]
alias = "tiny"
name = "test/tiny"
task = "embeddings"
license = "MIT"
params = 10
notes = "a test row"
source = "written by the test"
as_of = "2026-01-01"

[model.config]
model_type = "bert"
"""


def write_catalog(folder: Path, text: str, name: str = "catalog.toml") -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def test_catalog_loads_keyed_by_alias():
    """The bundled catalog loads, and each row is stored under its own alias."""
    catalog = load_catalog()

    assert catalog
    assert all(alias == entry.alias for alias, entry in catalog.items())


@pytest.mark.parametrize(("alias", "task"), sorted(EXPECTED_TASKS.items()))
def test_catalog_has_the_four_models_with_their_tasks(alias, task):
    """minilm and tiny-bert embed; smollm2-135m and tiny-llama generate text."""
    catalog = load_catalog()

    assert alias in catalog
    assert catalog[alias].task == task


def test_every_row_says_where_it_comes_from():
    """Every row has a non-empty source."""
    for entry in load_catalog().values():
        assert entry.source.strip(), entry.alias


def test_every_row_has_an_as_of_date():
    """Every row's as_of is an ISO date (YYYY-MM-DD)."""
    for entry in load_catalog().values():
        assert isinstance(datetime.date.fromisoformat(str(entry.as_of)), datetime.date)


def test_tiny_bert_params_match_the_built_model(tiny_bert):
    """The catalog's params for tiny-bert equals the parameter count of the model it builds."""
    assert get_entry("tiny-bert").params == tiny_bert.info.params


def test_tiny_llama_params_match_the_built_model(tiny_llama):
    """The catalog's params for tiny-llama equals the parameter count of the model it builds."""
    assert get_entry("tiny-llama").params == tiny_llama.info.params


def test_unknown_alias_suggests_the_closest_name():
    """A misspelt alias ('minlm') raises ModelNotFoundError that suggests 'minilm'."""
    with pytest.raises(ModelNotFoundError) as error:
        get_entry("minlm")

    assert "Did you mean 'minilm'" in str(error.value)


def test_unknown_alias_lists_the_known_aliases():
    """A name with no close match still lists every alias and points to `models list`."""
    with pytest.raises(ModelNotFoundError) as error:
        get_entry("zzzzzz")

    message = str(error.value)
    assert all(alias in message for alias in EXPECTED_TASKS)
    assert "workbench models list" in message


def test_a_valid_catalog_file_loads(tmp_path):
    """A well-formed catalog file given by path loads with its values."""
    catalog = load_catalog(write_catalog(tmp_path, GOOD_ROW))

    assert list(catalog) == ["tiny"]
    assert catalog["tiny"].params == 10
    assert catalog["tiny"].kind == "config"


def test_missing_field_is_named(tmp_path):
    """A row without `source` raises InvalidInputError naming the row and the missing field."""
    path = write_catalog(tmp_path, GOOD_ROW.replace('source = "written by the test"\n', ""))

    with pytest.raises(InvalidInputError) as error:
        load_catalog(path)

    message = str(error.value)
    assert "lacks source" in message
    assert "tiny" in message
    assert str(path) in message


def test_bad_task_is_named(tmp_path):
    """A row with an unknown task raises InvalidInputError naming `task` and the allowed tasks."""
    path = write_catalog(tmp_path, GOOD_ROW.replace('task = "embeddings"', 'task = "chat"'))

    with pytest.raises(InvalidInputError) as error:
        load_catalog(path)

    message = str(error.value)
    assert "`task`" in message
    assert "'chat'" in message
    assert "embeddings" in message and "text-generation" in message


def test_bad_task_error_names_the_catalog_file(tmp_path):
    """The bad-task error names the catalog file that holds the row, not a fixed 'models.toml'."""
    path = write_catalog(tmp_path, GOOD_ROW.replace('task = "embeddings"', 'task = "chat"'))

    with pytest.raises(InvalidInputError) as error:
        load_catalog(path)

    assert str(path) in str(error.value)


def test_row_without_package_or_config_is_refused(tmp_path):
    """A row that says neither how to find nor how to build the model names `package` and `config`."""
    text = GOOD_ROW.split("[model.config]")[0]
    path = write_catalog(tmp_path, text)

    with pytest.raises(InvalidInputError) as error:
        load_catalog(path)

    assert "`package`" in str(error.value) and "`config`" in str(error.value)


def test_duplicate_alias_is_refused(tmp_path):
    """Two rows with the same alias raise InvalidInputError naming the alias."""
    path = write_catalog(tmp_path, GOOD_ROW + GOOD_ROW)

    with pytest.raises(InvalidInputError) as error:
        load_catalog(path)

    assert "'tiny' appears twice" in str(error.value)


def test_invalid_toml_names_the_file(tmp_path):
    """A catalog that is not valid TOML raises InvalidInputError naming the file."""
    path = write_catalog(tmp_path, "[[model]\nalias = ")

    with pytest.raises(InvalidInputError) as error:
        load_catalog(path)

    assert str(path) in str(error.value)
