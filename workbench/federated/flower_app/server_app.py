"""The ServerApp that ``flwr run`` starts on a SuperLink: the run config in, a saved run out.

It is the same ServerApp as on the inline and Ray launchers (:func:`~workbench.federated.apps.
make_server_app`), driven through :func:`~workbench.federated.runner.run_federated` so that the run
lands in the run store (``$WORKBENCH_RUNS_DIR`` of the SuperLink, else ``./runs`` in its working
folder; :func:`~workbench.federated.launchers.deployment.start_local_federation` sets the variable) with the
same tables as any other federated run. Progress goes to the run's log
(``flwr log RUN_ID``), one line per round.
"""

from __future__ import annotations

from typing import Any

from flwr.app import Context
from flwr.serverapp import Grid, ServerApp

from workbench.federated.config import FedConfig
from workbench.federated.launchers.ray import PollingGrid
from workbench.federated.runner import run_federated

# Replies are pulled from the SuperLink this often (Flower's HTTP grid waits 3 s between pulls).
POLL_S = 0.25

app = ServerApp()


@app.main()
def main(grid: Grid, context: Context) -> None:
    """Run the federation described by the run config on the SuperLink's nodes and save it."""
    config = FedConfig.from_flower(context.run_config).replace(launcher="deployment")

    def on_grid(server_app: ServerApp, _client_app: Any, _config: FedConfig) -> None:
        server_app(grid=PollingGrid(grid, poll_s=POLL_S), context=context)

    def on_round(row: dict[str, Any]) -> None:
        print(
            f"round {row['round']}/{config.rounds}: accuracy {row['accuracy']:.4f}, "
            f"loss {row['loss']:.4f}, clients completed {row['clients_completed']}, "
            f"wall {row['wall_time_s']:.1f} s",
            flush=True,
        )

    result = run_federated(config, observer=on_round, launcher=on_grid)
    print(
        f"workbench run {result.run_id} saved: {len(result.rounds)} rounds, final accuracy "
        f"{result.final_accuracy:.4f}",
        flush=True,
    )
