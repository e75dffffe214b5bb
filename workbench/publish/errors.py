"""What publishing and serving refuse, as errors the command line reports in one paragraph."""

from __future__ import annotations

from workbench.kit.errors import WorkbenchError


class PublishError(WorkbenchError):
    """A dashboard that cannot be published as asked: bad runs, template or output folder."""


class ServeError(WorkbenchError):
    """A published folder that cannot be served: not an app, or a port in use."""


__all__ = ["PublishError", "ServeError"]
