"""What every room's charts share: a figure as PNG bytes (for an ipywidgets Image, a static
export or a file)."""

from __future__ import annotations

import io

from matplotlib.axes import Axes
from matplotlib.figure import Figure


def to_png(chart: Figure | Axes, dpi: int = 100) -> bytes:
    """A chart (a Figure, or an Axes' whole figure) as PNG bytes.

    The PNG carries no "Software" field, so the same chart gives the same bytes on every machine
    (a static export can be compared, and names no library version).
    """
    fig = chart.figure if isinstance(chart, Axes) else chart
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, metadata={"Software": None})
    return buffer.getvalue()


__all__ = ["to_png"]
