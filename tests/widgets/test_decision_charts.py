"""The decision's charts (workbench.cost.plots): labels inside the figure, quality unknown drawn
apart, overloaded policies left out with a note, and unchanged charts not drawn twice."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import PathCollection
from matplotlib.text import Text

from workbench.cost import plots


@pytest.fixture
def options():
    """Four options: two of known quality, one unknown, one ruled out, one that cannot serve."""
    return pd.DataFrame(
        {
            "option": ["This machine", "Llama 3.1 8B on Groq", "AWS g6.xlarge (L4)", "Jetson"],
            "usd_per_1k_requests": [0.05, 0.0246, 9.79, math.nan],
            "p95_ms": [708.0, 1210.0, 33.0, 147.0],
            "quality": [0.41, math.nan, 0.82, 0.5],
            "ruled_out": ["", "", "latency objective", ""],
        }
    )


@pytest.fixture
def policies():
    """Three routing policies; local-only is overloaded."""
    return pd.DataFrame(
        {
            "policy": ["local-only", "cloud-only", "overflow(k=2)"],
            "p95_ms": [4_368_228.0, 1210.0, 710.0],
            "monthly_cost": [3.07, 4.54, 3.10],
            "pareto": [True, False, True],
            "overloaded": [True, False, False],
        }
    )


def _texts(figure) -> list[str]:
    return [t.get_text() for t in figure.findobj(Text) if t.get_text()]


def _inside(figure) -> bool:
    """Whether everything drawn (texts, legend, colour bar) lies inside the figure, which a page
    scaling the image to its container then shows whole."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(figure)
    canvas.draw()
    drawn = figure.get_tightbbox(canvas.get_renderer())
    width, height = figure.get_size_inches()
    slack = 0.02  # inches: antialiasing
    return (
        drawn.x0 >= -slack
        and drawn.y0 >= -slack
        and drawn.x1 <= width + slack
        and drawn.y1 <= height + slack
    )


def test_cost_latency_quality_labels_every_drawn_option(options):
    """Each option with a cost and a latency is a labelled point; the ruled-out one says so."""
    texts = _texts(plots.cost_latency_quality(options))

    assert "This machine" in texts
    assert "Llama 3.1 8B on Groq" in texts
    assert "AWS g6.xlarge (L4) (ruled out)" in texts


def test_quality_unknown_is_drawn_as_hollow_grey_points_with_a_legend(options):
    """The option of unknown quality is a white-filled point named "quality unknown"."""
    figure = plots.cost_latency_quality(options)
    unknown = [c for c in figure.axes[0].collections if c.get_label() == "quality unknown"]

    assert len(unknown) == 1
    assert np.allclose(unknown[0].get_facecolor()[0][:3], [1, 1, 1])
    assert "quality unknown" in _texts(figure)


def test_an_option_without_a_cost_is_named_in_a_note_not_drawn(options):
    """Jetson has no cost per 1k requests: it is listed as not drawn."""
    texts = _texts(plots.cost_latency_quality(options))

    assert any("not drawn" in t and "Jetson" in t for t in texts)
    assert "Jetson" not in texts


def test_cost_latency_quality_takes_a_table_without_quality_or_p95():
    """An older options table (p50 only, no quality) draws every point as quality unknown."""
    frame = pd.DataFrame(
        {"option": ["a", "b"], "usd_per_1k_requests": [1.0, 2.0], "p50_ms": [5, 9]}
    )

    figure = plots.cost_latency_quality(frame)

    assert figure.axes[0].get_ylabel() == "p50 latency"
    assert "quality unknown" in _texts(figure)


def test_pareto_leaves_overloaded_policies_out_with_a_note(policies):
    """local-only is not a point; a note in the figure names it as overloaded."""
    figure = plots.pareto(policies)
    drawn = sum(
        len(c.get_offsets()) for c in figure.axes[0].collections if isinstance(c, PathCollection)
    )
    lines = [line for line in figure.axes[0].get_lines() if len(line.get_xdata())]

    assert drawn + sum(len(line.get_xdata()) for line in lines) == 2
    assert any("overloaded: local-only" in t for t in _texts(figure))


def test_pareto_draws_every_policy_of_a_table_without_an_overloaded_column(policies):
    """Without the column, nothing is left out and there is no note."""
    figure = plots.pareto(policies.drop(columns="overloaded"))

    assert not any("not drawn" in t for t in _texts(figure))


def test_every_label_of_every_chart_stays_inside_its_figure(options, policies):
    """Titles, tick labels, long tornado labels and point labels are inside the image, so a page
    that scales the image to its container shows them whole."""
    sensitivity = pd.DataFrame(
        {
            "input": ["input_usd_per_mtok", "requests_per_month"],
            "owner": ["Llama 3.1 8B Instruct Turbo on Together", "workload"],
            "cost_at_low": [1.2, 1.3],
            "cost_at_high": [1.8, math.nan],
            "base_cost": [1.48, 1.48],
        }
    )
    curve = pd.DataFrame(
        {
            "requests_per_month": [1e3, 1e6, 1e3, 1e6],
            "option": ["a", "a", "b", "b"],
            "monthly_usd": [0.1, 100.0, 50.0, 50.0],
        }
    )
    figures = [
        plots.cost_latency_quality(options),
        plots.pareto(policies),
        plots.tornado(sensitivity),
        plots.cost_vs_volume(curve),
        plots.latency_distributions({"local": [700, 710, 1200], "cloud": [1200, 1210]}, 2000),
    ]

    for figure in figures:
        assert _inside(figure), figure.axes[0].get_title()


def test_image_draws_a_chart_once_per_distinct_input():
    """Equal inputs give the image drawn before; a changed input draws a new one."""
    calls = []

    def chart(frame):
        calls.append(1)
        return plots.latency_distributions({"local": frame["ms"].to_numpy()}, 100.0)

    first = pd.DataFrame({"ms": [10.0, 12.0, 15.0]})
    a = plots.image(chart, first)
    b = plots.image(chart, first.copy())
    c = plots.image(chart, first.assign(ms=[10.0, 12.0, 16.0]))

    assert a == b and a != c
    assert len(calls) == 2
    assert a.startswith(b"\x89PNG")


def test_image_writes_svg_with_text_kept_as_text():
    """fmt="svg" gives an SVG whose labels are text elements, the same bytes each time."""
    data = plots.image(plots.latency_distributions, {"local": [10.0, 20.0]}, 15.0, fmt="svg")
    again = plots._to_svg(plots.latency_distributions({"local": [10.0, 20.0]}, 15.0))

    assert b"<svg" in data and b"<text" in data
    assert data == again


def test_image_refuses_an_unknown_format():
    """A format other than png or svg is named in the error."""
    from workbench.kit.errors import InvalidInputError

    with pytest.raises(InvalidInputError, match="jpeg"):
        plots.image(plots.latency_distributions, {"local": [1.0]}, fmt="jpeg")
