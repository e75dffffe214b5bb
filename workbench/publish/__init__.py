"""Publishing: runs bound into a Voila app folder, served on 127.0.0.1, or exported as one
static HTML page.

The room's modules: :mod:`~workbench.publish.config` (settings and the layout of a published
folder), :mod:`~workbench.publish.app` (writing the app folder), :mod:`~workbench.publish.clean`
(no paths or credentials leave the machine), :mod:`~workbench.publish.serve` (Voilà on
127.0.0.1), :mod:`~workbench.publish.export` (the static page) and
:mod:`~workbench.publish.charts` (its charts).
"""

from __future__ import annotations

from workbench.publish.app import (
    bind_parameters,
    dashboard_for_kinds,
    list_dashboards,
    publish,
    voila_config,
)
from workbench.publish.charts import chart_png
from workbench.publish.clean import scrub_paths
from workbench.publish.config import (
    DASHBOARDS_DIR,
    DEFAULT_PORT,
    JUPYTER_DATA_DIR,
    KIND_DASHBOARDS,
    NOTEBOOK,
    OFFLINE_TEMPLATE,
    STATIC_ROWS,
    ExportSettings,
    ServeSettings,
)
from workbench.publish.errors import PublishError, ServeError
from workbench.publish.export import export_static, static_html
from workbench.publish.serve import (
    check_port,
    published_app,
    serve,
    voila_command,
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
    "ExportSettings",
    "PublishError",
    "ServeError",
    "ServeSettings",
    "bind_parameters",
    "chart_png",
    "check_port",
    "dashboard_for_kinds",
    "export_static",
    "list_dashboards",
    "publish",
    "published_app",
    "scrub_paths",
    "serve",
    "static_html",
    "voila_command",
    "voila_config",
    "voila_environment",
]
