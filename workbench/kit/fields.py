"""Config fields that carry their own help, unit, bounds and CLI flag.

Every config in the workbench is a frozen dataclass whose fields are declared with :func:`spec`.
One declaration then serves everywhere a field appears:

* ``__post_init__`` calls :func:`check_fields`, which turns a bad value into the one-paragraph
  error naming the field (and its flag) and the fix, before any work starts;
* ``workbench.kit.cli.add_config_flags`` builds the command-line flags, with help and default
  taken from the field;
* ``widgets.forms`` builds sliders, dropdowns and text boxes from the same fields.

>>> from dataclasses import dataclass
>>> @dataclass(frozen=True)
... class Load:
...     users: int = spec(4, help="concurrent users", low=1, high=1000, whole=True)
...     def __post_init__(self):
...         check_fields(self)
>>> Load(users=0)
Traceback (most recent call last):
...
workbench.kit.errors.InvalidInputError: `users` (--users) must be a whole number from 1 to 1000, got 0.
"""

from __future__ import annotations

import dataclasses
from dataclasses import MISSING, dataclass
from typing import Any

from workbench.kit import checks


@dataclass(frozen=True)
class FieldSpec:
    """What one config field means and accepts.

    ``low``/``high`` bound a number (``low_open``/``high_open`` exclude the bound itself);
    ``whole`` asks for an int; ``choices`` for one of a few strings; ``optional`` lets ``None``
    through (its flag then reads ``none`` as ``None``, and ``none_means`` says what that means). ``flag`` is the CLI flag (default ``--field-name``; ``""`` for a field no command
    sets, so errors name no flag) and ``aliases`` older flags that still work. ``fix`` is the sentence an error adds to say how to fix a bad value. ``label``,
    ``step`` and ``widget_range`` only shape the widget (a slider needs both ends even where the
    field has no upper bound).
    """

    help: str
    unit: str = ""
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    whole: bool = False
    choices: tuple[str, ...] = ()
    optional: bool = False
    none_means: str = ""
    flag: str | None = None
    aliases: tuple[str, ...] = ()
    fix: str = ""
    label: str = ""
    step: float | None = None
    widget_range: tuple[float, float] | None = None

    def check(self, name: str, value: Any, *, owner: str = "", flags: bool = True) -> Any:
        """``value`` if it fits this field (ints for whole numbers), else :class:`InvalidInputError`
        (naming the field's CLI flag unless ``flags`` is false)."""
        if value is None and self.optional:
            return None
        flag = "" if not flags else self.flag if self.flag is not None else flag_for(name)
        if self.choices:
            return checks.choice(name, value, self.choices, owner=owner, flag=flag, fix=self.fix)
        if self.low is None and self.high is None and not self.whole:
            return value
        return checks.number(
            name,
            value,
            low=self.low,
            high=self.high,
            low_open=self.low_open,
            high_open=self.high_open,
            whole=self.whole,
            owner=owner,
            flag=flag,
            fix=self.fix,
        )


def spec(
    default: Any = MISSING, *, default_factory: Any = MISSING, help: str, **kwargs: Any
) -> Any:
    """A dataclass field carrying a :class:`FieldSpec` (see its attributes for ``kwargs``)."""
    return dataclasses.field(
        default=default,
        default_factory=default_factory,
        metadata={"help": help, "spec": FieldSpec(help=help, **kwargs)},
    )


def specs(config: Any) -> dict[str, FieldSpec]:
    """The :class:`FieldSpec` of every field of a config class or instance declared with :func:`spec`."""
    return {f.name: f.metadata["spec"] for f in dataclasses.fields(config) if "spec" in f.metadata}


def help_of(config: Any, name: str) -> str:
    """The help sentence of one field (``""`` when it has none)."""
    return _field(config, name).metadata.get("help", "")


def default_of(config: Any, name: str) -> Any:
    """The default value of one field (``MISSING`` when it has none)."""
    field = _field(config, name)
    if field.default_factory is not MISSING:
        return field.default_factory()
    return field.default


def flag_for(name: str) -> str:
    """The CLI flag a field gets by default: ``num_clients`` -> ``--num-clients``."""
    return "--" + name.replace("_", "-")


def flag_of(config: Any, name: str) -> str:
    """The CLI flag of one field (``""`` when no command sets it)."""
    field_spec = specs(config).get(name)
    if field_spec is not None and field_spec.flag is not None:
        return field_spec.flag
    return flag_for(name)


def check_fields(config: Any, *, owner: str = "", flags: bool = True) -> None:
    """Check every field of ``config`` declared with bounds or choices; whole numbers given as
    floats with no fraction (``8.0``, from TOML or JSON) are stored as ints. ``flags=False`` for
    a config no command line sets (it comes from a file): its errors then name no flag.

    Raises
    ------
    InvalidInputError
        For the first field out of its range, naming the field, its flag and the fix.
    """
    for name, field_spec in specs(config).items():
        value = getattr(config, name)
        checked = field_spec.check(name, value, owner=owner, flags=flags)
        if checked is not value:
            object.__setattr__(config, name, checked)


def _field(config: Any, name: str) -> dataclasses.Field:
    for field in dataclasses.fields(config):
        if field.name == name:
            return field
    raise KeyError(name)


__all__ = [
    "FieldSpec",
    "check_fields",
    "default_of",
    "flag_for",
    "flag_of",
    "help_of",
    "spec",
    "specs",
]
