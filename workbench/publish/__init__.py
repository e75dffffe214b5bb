"""Publishing: runs bound into a Voila app folder, served on 127.0.0.1, or exported as one
static HTML page."""

from __future__ import annotations

from workbench.publish.app import (
    DASHBOARDS_DIR,
    DEFAULT_PORT,
    JUPYTER_DATA_DIR,
    KIND_DASHBOARDS,
    NOTEBOOK,
    OFFLINE_TEMPLATE,
    STATIC_ROWS,
    PublishError,
    ServeError,
    bind_parameters,
    check_port,
    dashboard_for_kinds,
    export_static,
    list_dashboards,
    publish,
    published_app,
    scrub_paths,
    serve,
    voila_command,
    voila_config,
    voila_environment,
)

__all__ = [
    "DASHBOARDS_DIR",
    "DEFAULT_PORT",
    "JUPYTER_DATA_DIR",
    "KIND_DASHBOARDS",
    "NOTEBOOK",
    "OFFLINE_TEMPLATE",
    "STATIC_ROWS",
    "PublishError",
    "ServeError",
    "bind_parameters",
    "check_port",
    "dashboard_for_kinds",
    "export_static",
    "list_dashboards",
    "publish",
    "published_app",
    "scrub_paths",
    "serve",
    "voila_command",
    "voila_config",
    "voila_environment",
]
