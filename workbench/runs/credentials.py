"""What looks like a credential: the one check that keeps API keys and tokens out of saved runs
and published dashboards, which are plain files that get shared.

A credential is the value (8 characters or more) of an environment variable whose name holds
KEY, TOKEN, SECRET, PASSWORD, PASSWD or CREDENTIAL. Only values are compared, never printed.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from typing import Any

from workbench.kit.errors import InvalidInputError
from workbench.kit.secrets import contains_secret

CREDENTIAL_NAME = re.compile(r"KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL", re.IGNORECASE)
MIN_CREDENTIAL_CHARS = 8  # shorter values ("1", "true") would match innocent text


def credential_values(environ: Mapping[str, str] | None = None) -> list[tuple[str, str]]:
    """``(name, value)`` of every environment variable that looks like a credential."""
    return [
        (name, value)
        for name, value in (os.environ if environ is None else environ).items()
        if CREDENTIAL_NAME.search(name) and len(value) >= MIN_CREDENTIAL_CHARS
    ]


def credential_in(text: str) -> str | None:
    """The name of an environment variable whose credential-looking value is in ``text``.

    The value is looked for as it is and as JSON, HTML, CSV and URLs write it
    (:func:`workbench.kit.secrets.contains_secret`), so a credential in a ``run.json``, a
    notebook, a published page or a table is found too.

    Returns
    -------
    str or None
        The variable's name (never its value), ``None`` when ``text`` holds no credential.
    """
    for name, value in credential_values():
        if contains_secret(text, value):
            return name
    return None


def refuse_credentials(value: Any, where: str) -> None:
    """Refuse a JSON value that holds a credential from the environment.

    Parameters
    ----------
    value
        JSON values (what a run saves in its config, label or summary).
    where
        What ``value`` is, for the message: ``"config"``.

    Raises
    ------
    InvalidInputError
        Naming the variable (not its value) and how to keep it out.
    """
    name = credential_in(json.dumps(value))
    if name is not None:
        raise InvalidInputError(
            f"`{where}` contains the value of the environment variable {name}, which looks "
            "like a credential. Runs are saved as plain files that get shared, so keep "
            "credentials out of them: pass the variable's name and read it where it is used."
        )


__all__ = ["CREDENTIAL_NAME", "credential_in", "credential_values", "refuse_credentials"]
