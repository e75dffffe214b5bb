"""The inline launcher: the ServerApp and every ClientApp in the calling process, no Ray.

:class:`InlineGrid` is a Flower ``Grid`` that hands each pushed message straight to
``ClientApp.__call__`` with that node's own ``Context``, and keeps the replies until they are
pulled. It is what makes a 100-client run start and finish in seconds inside a kernel.

It leans on a few flwr internals (``TaskIdentity``, message ids written into the metadata, the
``Error`` reply a raising ClientApp becomes), the same ones Flower's own in-memory runtime uses;
``pyproject.toml`` pins flwr to a minor version and tests/federated/test_fed_core.py checks them.
"""

from __future__ import annotations

import itertools
import threading
import traceback
from collections.abc import Iterable

from flwr.app import Context, Error, Message, RecordDict
from flwr.clientapp import ClientApp
from flwr.common.constant import SUPERLINK_NODE_ID, ErrorCode
from flwr.serverapp import Grid, ServerApp
from flwr.supercore.run import Run
from flwr.supercore.task_identity import TaskIdentity

from workbench.federated.config import FedConfig

# Flower reserves node ids 0 and 1 (1 is the SuperLink itself); client nodes start above them.
FIRST_NODE_ID = 1000
_ONE_SERVER = threading.Lock()  # TaskIdentity is process-wide: one inline ServerApp at a time


class InlineGrid(Grid):
    """A Grid whose nodes are ClientApp calls in this process."""

    def __init__(self, client_app: ClientApp, num_clients: int, *, run_id: int = 1) -> None:
        self._client_app = client_app
        self._run = Run.create_empty(run_id)
        self._contexts = {
            FIRST_NODE_ID + i: Context(
                run_id=run_id,
                node_id=FIRST_NODE_ID + i,
                node_config={"partition-id": i, "num-partitions": num_clients},
                state=RecordDict(),
                run_config={},
            )
            for i in range(num_clients)
        }
        self._replies: dict[str, Message] = {}
        # Message ids need only be unique within the run: a counter costs less than uuid4.
        self._ids = itertools.count(1)

    def set_run(self, run: Run) -> None:
        self._run = run

    @property
    def run(self) -> Run:
        return self._run

    def create_message(self, content, message_type, dst_node_id, group_id, ttl=None) -> Message:
        return Message(content, dst_node_id, message_type, ttl=ttl, group_id=group_id)

    def get_node_ids(self) -> Iterable[int]:
        return list(self._contexts)

    def push_messages(self, messages: Iterable[Message]) -> Iterable[str]:
        ids = []
        for message in messages:
            message_id = f"{next(self._ids):032x}"
            message.metadata.__dict__["_message_id"] = message_id
            context = self._contexts.get(message.metadata.dst_node_id)
            if context is None:
                reply = Message(
                    Error(code=ErrorCode.UNKNOWN, reason="no such node"), reply_to=message
                )
            else:
                reply = self._deliver(message, context)
            reply.metadata.__dict__["_message_id"] = f"{next(self._ids):032x}"
            self._replies[message_id] = reply
            ids.append(message_id)
        return ids

    def _deliver(self, message: Message, context: Context) -> Message:
        try:
            return self._client_app(message=message, context=context)
        except Exception as exc:  # a raising ClientApp is a failed reply, as in Flower
            reason = f"{type(exc).__name__}: {exc}"
            error = Error(code=ErrorCode.CLIENT_APP_RAISED_EXCEPTION, reason=reason)
            reply = Message(error, reply_to=message)
            reply.metadata.__dict__["_traceback"] = traceback.format_exc()
            return reply

    def pull_messages(self, message_ids: Iterable[str]) -> Iterable[Message]:
        return [self._replies.pop(i) for i in list(message_ids) if i in self._replies]

    def send_and_receive(self, messages: Iterable[Message], *, timeout: float | None = None):
        return self.pull_messages(self.push_messages(messages))


def launch_inline(server_app: ServerApp, client_app: ClientApp, config: FedConfig) -> None:
    """The inline launcher: ``config.num_clients`` client nodes in this thread."""
    run_inline(server_app, client_app, config.num_clients)


def run_inline(server_app: ServerApp, client_app: ClientApp, num_clients: int) -> None:
    """Run ``server_app`` against ``num_clients`` inline client nodes, in this thread."""
    grid = InlineGrid(client_app, num_clients)
    context = Context(
        run_id=grid.run.run_id,
        node_id=SUPERLINK_NODE_ID,
        node_config={},
        state=RecordDict(),
        run_config={},
    )
    with _ONE_SERVER:
        saved = (TaskIdentity._task_id, TaskIdentity._run_id, TaskIdentity._node_id)
        TaskIdentity.task_id = 1
        TaskIdentity.run_id = grid.run.run_id
        TaskIdentity.node_id = SUPERLINK_NODE_ID
        try:
            server_app(grid=grid, context=context)
        finally:
            TaskIdentity._task_id, TaskIdentity._run_id, TaskIdentity._node_id = saved
