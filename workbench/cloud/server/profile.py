"""What the loopback cloud is set up with: its service profile, the models it serves and the key
requests must send.

The profile itself (:class:`ServiceProfile`) is declared with the room's other configs in
:mod:`workbench.cloud.config`; this module turns a profile and model choices into what a
running server needs, and refuses a set-up that cannot work before anything listens.
"""

from __future__ import annotations

import os
from typing import Any

from workbench.cloud.config import FAULT_KINDS, ServiceProfile
from workbench.kit.errors import InvalidInputError, WorkbenchError

DEFAULT_CHAT_MODEL = "smollm2-135m"
DEFAULT_EMBEDDING_MODEL = "minilm"


class ServerStartError(WorkbenchError):
    """The loopback cloud could not start: a port in use, a host refused, a model that won't load."""


def load_runner(model: Any, task: str) -> tuple[Any, str]:
    """A runner and the name it is served under, from an alias/path or an already loaded runner.

    Raises
    ------
    InvalidInputError
        When the model does the other task, naming the flag that chose it.
    """
    if model is None:
        return None, ""
    if isinstance(model, str):
        from workbench.models import load_model

        runner = load_model(model, progress=False)
        name = model
    else:
        runner, name = model, model.info.name
    if runner.task != task:
        role = "--chat-model" if task == "text-generation" else "--embedding-model"
        raise InvalidInputError(
            f"`{role.strip('-').replace('-', '_')}` {name!r} is a {runner.task} model; "
            f"{role} needs a {task} model."
        )
    return runner, name


def read_server_key(env: str | None) -> str | None:
    """The key requests must send, from the environment variable ``env`` (``None``: open).

    Raises
    ------
    ServerStartError
        When ``env`` is set but the variable is not, so the server would refuse everyone.
    """
    if env is None:
        return None
    value = os.environ.get(env, "")
    if not value:
        raise ServerStartError(
            f"The server was told to require the API key in the environment variable {env}, "
            f"but {env} is not set (or is empty). Set it first, e.g. `export {env}=...`, or "
            "start the server without --api-key-env."
        )
    return value


__all__ = [
    "DEFAULT_CHAT_MODEL",
    "DEFAULT_EMBEDDING_MODEL",
    "FAULT_KINDS",
    "ServerStartError",
    "ServiceProfile",
    "load_runner",
    "read_server_key",
]
