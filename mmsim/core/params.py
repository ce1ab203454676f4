"""Parameters as frozen attrs fields: default, unit, one-line meaning and checks in one place.

Strategies, the venue and the risk rules declare their parameters the same way:

    @documented
    @attrs.frozen(slots=True)
    class LeverageCapsParams:
        max_leverage: float | None = param(None, unit="x equity", help="...",
                                           checks=optional(positive))

A check is a `Check(ok, expected)`; a value it refuses raises `ParamError`, whose message names
the parameter, the value and what was expected: "max_leverage must be a finite number > 0 or
None, got -2". `param_infos` lists a class's parameters (what `mmsim strategies` and
`mmsim risk` print) and `documented` appends them to its docstring.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, NamedTuple

import attrs

from mmsim.core.clock import parse_duration_us


class ParamError(ValueError):
    """A parameter value outside its domain; the message names the parameter and the value
    (and the owner when known: "early_stop: min_equity_fraction must be ...")."""

    def __init__(self, name: str, value: Any, expected: str, owner: str | None = None):
        self.param, self.value, self.expected, self.owner = name, value, expected, owner
        where = f"{owner}: " if owner else ""
        super().__init__(f"{where}{name} must be {expected}, got {value!r}")


def build_params(params_cls: type, owner: str, **values):
    """`params_cls(**values)`, a refused value's ParamError naming `owner` too."""
    try:
        return params_cls(**values)
    except ParamError as exc:
        raise ParamError(exc.param, exc.value, exc.expected, owner) from None


class Check(NamedTuple):
    """A test of a value and the words for what it accepts ("a finite number > 0").

    each: the value is a sequence of (key, item) pairs (a frozen mapping) and the test applies
    to every item; a refused item is named `name[key]`.
    """

    ok: Callable[[Any], bool]
    expected: str
    each: bool = False


def is_number(x) -> bool:
    """A finite int or float (not a bool)."""
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)


def is_int(x) -> bool:
    """An int (not a bool)."""
    return isinstance(x, int) and not isinstance(x, bool)


finite = Check(is_number, "a finite number")
positive = Check(lambda x: is_number(x) and x > 0, "a finite number > 0")
non_negative = Check(lambda x: is_number(x) and x >= 0, "a finite number >= 0")


def at_least(n: int) -> Check:
    """An integer >= n."""
    return Check(lambda x: is_int(x) and x >= n, f"an integer >= {n}")


def below(hi: float) -> Check:
    """A finite number < hi (e.g. distances below 10,000 bps keep prices positive)."""
    return Check(lambda x: is_number(x) and x < hi, f"a finite number < {hi:g}")


def between(lo: float, hi: float, *, closed: str = "neither") -> Check:
    """A finite number in the interval from lo to hi; closed: "neither", "left", "right" or
    "both" ends included, written as (lo, hi), [lo, hi), (lo, hi] or [lo, hi]."""
    left, right = closed in ("left", "both"), closed in ("right", "both")

    def ok(x) -> bool:
        return is_number(x) and (lo <= x if left else lo < x) and (x <= hi if right else x < hi)

    return Check(ok, f"a finite number in {'[('[not left]}{lo:g}, {hi:g}{')]'[right]}")


fraction = between(0.0, 1.0)  # a share strictly between none and all


def one_of(*choices: Any) -> Check:
    return Check(lambda x: x in choices, "one of " + ", ".join(repr(c) for c in choices))


def optional(check: Check) -> Check:
    """The check, or None (off)."""
    return Check(lambda x: x is None or check.ok(x), f"{check.expected} or None", check.each)


def each_value(check: Check) -> Check:
    """Every value of a frozen mapping ((key, value) pairs) passes `check`."""
    return check._replace(each=True)


def whole(n: int) -> Check:
    """A whole number >= n, in the words of settings files ("a whole number >= 1")."""
    return Check(lambda x: is_int(x) and x >= n, f"a whole number >= {n}")


flag = Check(lambda x: isinstance(x, bool), "true or false")


def check_value(name: str, value: Any, *checks: Check) -> Any:
    """`value` if every check accepts it, else ParamError naming `name` (outside attrs classes:
    a function's arguments, a settings file's values)."""
    for check in _as_checks(checks):
        if not check.ok(value):
            raise ParamError(name, value, check.expected)
    return value


def _duration(x) -> bool:
    try:
        parse_duration_us(x)
    except (ValueError, TypeError):
        return False
    return not isinstance(x, bool)


duration = Check(_duration, "a duration such as '30m', '8h', '1d'")


def _as_checks(checks) -> tuple[Check, ...]:
    if not checks:
        return ()
    if callable(checks[0]):  # a single (test, expected) pair
        checks = (checks,)
    return tuple(Check(*c) for c in checks)


@attrs.frozen(slots=True)
class Validator:
    """The attrs validator of a field's checks: the first one refused raises ParamError."""

    checks: tuple[Check, ...]

    def __call__(self, instance, attribute, value) -> None:
        for check in self.checks:
            if not check.each:
                if not check.ok(value):
                    raise ParamError(attribute.name, value, check.expected)
                continue
            if not (value is None and check.ok(None)):
                for key, item in value:
                    if not check.ok(item):
                        raise ParamError(f"{attribute.name}[{key!r}]", item, check.expected)


def validator(*checks: Check) -> Validator:
    """An attrs validator from checks (for fields declared with `attrs.field`)."""
    return Validator(_as_checks(checks))


def param(
    default: Any = attrs.NOTHING,
    *,
    unit: str,
    help: str,
    checks: tuple[Check, ...] | Check = (),
    converter: Callable[[Any], Any] | None = None,
    factory: Callable[[], Any] | None = None,
):
    """An attrs field with its unit and meaning as metadata and its checks as a validator
    (no default and no factory: the parameter is required)."""
    return attrs.field(
        default=default,
        factory=factory,
        validator=Validator(_as_checks(checks)),
        converter=converter,
        metadata={"unit": unit, "help": help},
    )


# --- listing and documentation from the metadata ---------------------------------------------


@attrs.frozen(slots=True)
class ParamInfo:
    """One parameter as `mmsim strategies`, `mmsim risk` and the docs show it."""

    name: str
    default: Any
    unit: str
    help: str

    @property
    def required(self) -> bool:
        return self.default is attrs.NOTHING


def param_infos(params_cls: type) -> tuple[ParamInfo, ...]:
    """The init parameters of a params class with their defaults, units and meanings."""
    out = []
    for f in attrs.fields(params_cls):
        if not f.init:
            continue
        default = f.default
        if isinstance(default, attrs.Factory):
            default = default.factory()
        meta = f.metadata
        out.append(ParamInfo(f.name, default, meta.get("unit", ""), meta.get("help", "")))
    return tuple(out)


def format_default(value: Any) -> str:
    if value is attrs.NOTHING:
        return "required"
    if value == ():
        return "{}"
    return repr(value)


def documented(cls: type) -> type:
    """Append a 'Parameters' section (name, unit, default, meaning) built from the fields."""
    lines = ["", "", "    Parameters (unit; default):"]
    for p in param_infos(cls):
        unit = f"{p.unit}; " if p.unit else ""
        lines.append(f"        {p.name} ({unit}{format_default(p.default)}): {p.help}")
    cls.__doc__ = (cls.__doc__ or "").rstrip() + "\n".join(lines) + "\n"
    return cls


__all__ = [
    "Check",
    "ParamError",
    "ParamInfo",
    "Validator",
    "at_least",
    "below",
    "between",
    "build_params",
    "documented",
    "duration",
    "each_value",
    "finite",
    "format_default",
    "fraction",
    "is_int",
    "is_number",
    "non_negative",
    "one_of",
    "optional",
    "param",
    "param_infos",
    "positive",
    "validator",
]
