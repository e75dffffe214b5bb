"""Reading a text or TOML file names the file and what is wrong with it, never a traceback."""

from __future__ import annotations

import pytest

from workbench.kit.errors import InvalidInputError
from workbench.kit.files import read_text, read_toml


def test_non_utf8_file_is_refused_naming_the_byte(tmp_path):
    """A Latin-1 file gets 'not UTF-8', the file's path and the byte at fault."""
    path = tmp_path / "fed.toml"
    path.write_bytes("rounds = 1 # café\n".encode("latin-1"))

    with pytest.raises(InvalidInputError, match=r"not UTF-8 text \(byte 0xe9") as caught:
        read_toml(path, "the --config file")
    assert str(path) in str(caught.value)


def test_symlink_loop_is_named_as_one(tmp_path):
    """A link pointing back to itself is called a symlink loop."""
    (tmp_path / "a").symlink_to(tmp_path / "b")
    (tmp_path / "b").symlink_to(tmp_path / "a")

    with pytest.raises(InvalidInputError, match="symlink loop"):
        read_text(tmp_path / "a", "the --config file")


def test_folder_and_missing_file_are_told_apart(tmp_path):
    """A folder and a missing file each get their own sentence, with the fix for a missing one."""
    with pytest.raises(InvalidInputError, match="is a folder"):
        read_text(tmp_path, "the --config file")
    with pytest.raises(InvalidInputError, match=r"does not exist\. Check the path"):
        read_text(tmp_path / "nope.toml", "the --config file", fix="Check the path.")


def test_invalid_toml_names_the_line(tmp_path):
    """Text that is not TOML is refused with the parser's line."""
    path = tmp_path / "bad.toml"
    path.write_text("[federated\n", encoding="utf-8")

    with pytest.raises(InvalidInputError, match=r"not valid TOML.*line 1"):
        read_toml(path, "the --config file")
