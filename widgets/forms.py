"""Controls built from config fields: one declaration (``workbench.kit.fields.spec``) gives the
CLI flag, the check and the widget, so no panel declares a control twice.

>>> from workbench.federated.config import FedConfig
>>> controls = form(FedConfig, ["num_clients", "rounds"], value=FedConfig())
>>> controls["num_clients"].max
1000
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import ipywidgets as w

from workbench.kit.fields import FieldSpec, default_of, specs

LABEL_WIDTH = "150px"


def control(config: Any, name: str, *, value: Any = None, **overrides: Any) -> w.Widget:
    """A widget for one field of ``config`` (a config class or instance).

    Choices give a dropdown; a bounded number (or one with ``widget_range``) a slider; other
    numbers a text box that only takes numbers; anything else a text box. The description is the
    field's ``label``, the tooltip its help. ``value`` (else the instance's value, else the
    field's default) sets the start; ``overrides`` go to the widget as they are.
    """
    field_spec = specs(config)[name]
    if value is None:
        value = getattr(config, name) if not isinstance(config, type) else default_of(config, name)
    options: dict[str, Any] = {
        "description": field_spec.label or name.replace("_", " ").capitalize(),
        "tooltip": field_spec.help,
        "style": {"description_width": LABEL_WIDTH},
    }
    if field_spec.choices:
        widget = w.Dropdown(options=field_spec.choices, value=value, **options)
    else:
        widget = _number_widget(field_spec, value, options, overrides)
    for key, setting in overrides.items():
        setattr(widget, key, setting)
    return widget


def form(
    config: Any, names: Iterable[str], *, value: Any = None, **overrides: Mapping[str, Any]
) -> dict[str, w.Widget]:
    """A control per name, in order; ``value`` is a config instance to start from and
    ``overrides[name]`` the settings of one control."""
    source = value if value is not None else config
    return {name: control(source, name, **dict(overrides.get(name, {}))) for name in names}


def values(controls: Mapping[str, w.Widget]) -> dict[str, Any]:
    """The current value of each control, by field name: ready for ``Config(**values)``."""
    return {name: widget.value for name, widget in controls.items()}


def _number_widget(
    field_spec: FieldSpec, value: Any, options: dict[str, Any], overrides: Mapping[str, Any]
) -> w.Widget:
    low, high = field_spec.widget_range or (field_spec.low, field_spec.high)
    whole = field_spec.whole or (isinstance(value, int) and not isinstance(value, bool))
    if isinstance(value, bool):
        return w.Checkbox(value=value, **options)
    if low is not None and high is not None:
        high = max(high, value) if value is not None else high
        if whole:
            return w.IntSlider(
                value=value, min=int(low), max=int(high), continuous_update=False, **options
            )
        step = field_spec.step or (high - low) / 100
        return w.FloatSlider(
            value=value, min=low, max=high, step=step, continuous_update=False, **options
        )
    if value is None or isinstance(value, int | float):
        number = w.IntText if whole else w.FloatText
        return number(value=value or 0, **options)
    if isinstance(value, tuple):  # a list field: typed as "1,8,32", as on the command line
        return w.Text(value=",".join(str(v) for v in value), **options)
    return w.Text(value=str(value), **options)


__all__ = ["control", "form", "values"]
