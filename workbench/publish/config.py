"""Publishing's settings: the folders it ships, the layout of a published folder, what Voilà is
told (host, port, culling, which files a page may fetch), and the typed settings of ``workbench
serve`` and ``workbench export``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from workbench.kit.fields import check_fields, spec

PACKAGE_DIR = Path(__file__).resolve().parent
DASHBOARDS_DIR = PACKAGE_DIR / "dashboards"  # the dashboard templates, <name>.ipynb
JUPYTER_DATA_DIR = PACKAGE_DIR / "share" / "jupyter"  # put on JUPYTER_PATH for the page template

# Templates
OFFLINE_TEMPLATE = "workbench-offline"  # the Voilà page template that fetches nothing online
TEMPLATE_NAME = r"[A-Za-z0-9_-]+"  # a dashboard template's name, the stem of its .ipynb
KIND_DASHBOARDS = {
    "federated": "federated",
    "bench": "decision",
    "cloud": "decision",
    "hybrid": "decision",
    "cost": "decision",
}
FALLBACK_DASHBOARD = "runs"  # the run browser, for other kinds and mixes

# A published folder
NOTEBOOK = "dashboard.ipynb"
CONFIG_FILE = "voila.json"
RUNS_FOLDER = "runs"
README_FILE = "README.md"

# Serving
HOST = "127.0.0.1"  # never another interface: a published folder is served to this machine only
DEFAULT_PORT = 8866  # Voilà's own default
# A kernel no page is connected to (a link preview, a crawler, a tab that lost its connection)
# is shut down after this much idle time; a closed tab releases its kernel at once.
CULL_INTERVAL_S = 10
CULL_IDLE_TIMEOUT_S = 60
STOP_TIMEOUT_S = 30  # Voilà's time to shut its kernels down after SIGTERM
# A kernel of the decision dashboard holds about 450 MB; 16 of them stay well within 12 GB.
MAX_KERNELS = 16
RETRY_AFTER_S = 20  # how long a visitor beyond MAX_KERNELS is asked to wait
HEALTH_PATH = "/health"  # answers without the token and without starting a kernel
PARENT_POLL_S = 1.0  # how often the guarded Voilà checks that its parent process is alive
GUARD_MODULE = "workbench.publish.guard"  # Voilà with the guards: python -m GUARD_MODULE
# Only the runs' own files may be fetched from the page; notebooks, code and config never.
FILE_ALLOWLIST = [r"runs/[^/]+/run\.json", r"runs/[^/]+/[a-z0-9_]+\.csv"]
FILE_DENYLIST = [r".*\.(ipynb|py)", r"(.*/)?\..*"]

# Static export
STATIC_ROWS = 50  # rows per table in a static export


@dataclass(frozen=True)
class ServeSettings:
    """How ``workbench serve`` serves a published folder."""

    port: int = spec(DEFAULT_PORT, help="the port", low=1, high=65535, whole=True)
    token: str | None = spec(
        None,
        help="ask every visitor for ?token=TOKEN in the address (default $WORKBENCH_SERVE_TOKEN, "
        "which keeps it out of the process list)",
        optional=True,
    )
    open_browser: bool = spec(False, help="open the page in a browser", flag="--open")
    preheat: bool = spec(
        False,
        help="keep a kernel that has already run the dashboard ready for the next visitor",
    )
    max_kernels: int = spec(
        MAX_KERNELS,
        help="the most visitors served at once (a kernel each, about 450 MB for the decision "
        "dashboard); the next ones get a 'busy, retry in N s' page",
        low=1,
        high=1000,
        whole=True,
    )

    def __post_init__(self) -> None:
        check_fields(self, owner="workbench serve")


@dataclass(frozen=True)
class ExportSettings:
    """What ``workbench export`` puts in its one HTML page."""

    max_rows: int = spec(STATIC_ROWS, help="rows per table", low=1, whole=True)

    def __post_init__(self) -> None:
        check_fields(self, owner="workbench export")


__all__ = [
    "CONFIG_FILE",
    "DASHBOARDS_DIR",
    "DEFAULT_PORT",
    "FALLBACK_DASHBOARD",
    "HEALTH_PATH",
    "HOST",
    "JUPYTER_DATA_DIR",
    "KIND_DASHBOARDS",
    "MAX_KERNELS",
    "NOTEBOOK",
    "OFFLINE_TEMPLATE",
    "RUNS_FOLDER",
    "STATIC_ROWS",
    "ExportSettings",
    "ServeSettings",
]
