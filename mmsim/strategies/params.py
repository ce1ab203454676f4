"""Parameter classes of strategies: validated fields with units, and the keyword-only factory.

A strategy's parameters are a frozen attrs class whose fields are declared with `param(...)`:
default, unit, one-line meaning and checks in one place. The class docstring gets a generated
"Parameters" section from them (`documented`), `mmsim strategies` prints them, and
`strategy_factory` turns `build(params) -> Strategy` into the keyword-only factory users call:

    @strategy_factory("tokyo", TokyoParams)
    def tokyo(params: TokyoParams) -> Strategy: ...

    tokyo(levels=3, spacing_bps=5)        # keyword-only; unknown or bad values raise StrategyError
    tokyo.from_params(TokyoParams(...))   # the same strategy from a params value
"""

from __future__ import annotations

import difflib
import functools
import inspect
import math
from collections.abc import Callable, Mapping
from typing import Any

import attrs

from mmsim.core.clock import parse_duration_us
from mmsim.strategies.base import Strategy


class StrategyError(ValueError):
    """A strategy that cannot be built: unknown name, unknown keyword or a bad parameter value."""


class ParamError(ValueError):
    """A parameter value outside its domain; the message names the parameter and the value."""

    def __init__(self, name: str, value: Any, expected: str):
        self.param, self.value = name, value
        super().__init__(f"{name} must be {expected}, got {value!r}")


# --- checks: each a (predicate, description) pair turned into an attrs validator -------------

Check = tuple[Callable[[Any], bool], str]


def _is_number(x) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)


def _is_int(x) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


finite: Check = (_is_number, "a finite number")
positive: Check = (lambda x: _is_number(x) and x > 0, "a finite number > 0")
non_negative: Check = (lambda x: _is_number(x) and x >= 0, "a finite number >= 0")


def at_least(n: int) -> Check:
    """An integer >= n."""
    return (lambda x: _is_int(x) and x >= n, f"an integer >= {n}")


def below(hi: float) -> Check:
    """A finite number < hi (e.g. distances below 10,000 bps keep prices positive)."""
    return (lambda x: _is_number(x) and x < hi, f"a finite number < {hi:g}")


def one_of(*choices: str) -> Check:
    return (lambda x: x in choices, "one of " + ", ".join(repr(c) for c in choices))


def optional(check: Check) -> Check:
    pred, text = check
    return (lambda x: x is None or pred(x), f"{text} or None")


def _duration(x) -> bool:
    try:
        parse_duration_us(x)
    except (ValueError, TypeError):
        return False
    return not isinstance(x, bool)


duration: Check = (_duration, "a duration such as '30m', '8h', '1d'")


def _validator(checks: tuple[Check, ...]):
    def validate(instance, attribute, value):
        for pred, text in checks:
            if not pred(value):
                raise ParamError(attribute.name, value, text)

    return validate


def param(
    default: Any,
    *,
    unit: str,
    help: str,
    checks: tuple[Check, ...] | Check = (),
    converter: Callable[[Any], Any] | None = None,
):
    """An attrs field with its unit and meaning as metadata and its checks as a validator."""
    if checks and callable(checks[0]):
        checks = (checks,)  # a single (predicate, text) pair
    return attrs.field(
        default=default,
        validator=_validator(tuple(checks)),
        converter=converter,
        metadata={"unit": unit, "help": help},
    )


def weights_map(value: Mapping[str, float] | tuple | None) -> tuple[tuple[str, float], ...]:
    """Converter: a {name: weight} mapping (e.g. a TOML table) to a sorted, hashable tuple."""
    if value is None:
        return ()
    items = value.items() if isinstance(value, Mapping) else value
    out = []
    for pair in items:
        if not (isinstance(pair, tuple | list) and len(pair) == 2 and isinstance(pair[0], str)):
            raise ParamError("feature_skews", value, "a mapping of feature name -> weight")
        out.append((pair[0], pair[1]))
    return tuple(sorted(out))


weights_check: Check = (
    lambda x: all(k.isidentifier() and _is_number(w) for k, w in x),
    "a mapping of feature name (an identifier) -> finite weight",
)


# --- documentation from the metadata ---------------------------------------------------------


@attrs.frozen(slots=True)
class ParamInfo:
    """One parameter as `mmsim strategies` and docs/strategies.md show it."""

    name: str
    default: Any
    unit: str
    help: str


def param_infos(params_cls: type) -> tuple[ParamInfo, ...]:
    """The init parameters of a params class with their defaults, units and meanings."""
    return tuple(
        ParamInfo(f.name, f.default, f.metadata.get("unit", ""), f.metadata.get("help", ""))
        for f in attrs.fields(params_cls)
        if f.init
    )


def format_default(value: Any) -> str:
    if isinstance(value, str):
        return repr(value)
    if value == ():
        return "{}"
    return repr(value)


def documented(cls: type) -> type:
    """Append a 'Parameters' section (name, unit, default, meaning) built from the fields."""
    lines = ["", "", "    Parameters (unit; default):"]
    for p in param_infos(cls):
        lines.append(f"        {p.name} ({p.unit}; {format_default(p.default)}): {p.help}")
    cls.__doc__ = (cls.__doc__ or "").rstrip() + "\n".join(lines) + "\n"
    return cls


# --- the factory -----------------------------------------------------------------------------


def make_params(params_cls: type, values: Mapping[str, Any], *, owner: str):
    """Build a params value from keywords; StrategyError names the unknown keyword or bad value."""
    known = [p.name for p in param_infos(params_cls)]
    for key in values:
        if key not in known:
            close = difflib.get_close_matches(key, known, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise StrategyError(
                f"{owner}: unknown parameter {key!r}{hint}; its parameters are {', '.join(known)}"
            )
    try:
        return params_cls(**values)
    except ParamError as exc:
        raise StrategyError(f"{owner}: bad parameter: {exc}") from None
    except (TypeError, ValueError) as exc:  # e.g. a comparison of a string with a number
        raise StrategyError(f"{owner}: bad parameter value in {dict(values)!r}: {exc}") from None


def strategy_factory(name: str, params_cls: type):
    """Decorate `build(params) -> Strategy` into a keyword-only factory over `params_cls`.

    The factory has the params class's fields as its keyword-only signature, `params_class`,
    `strategy_name` and `from_params` attributes, and the strategies it builds can be pickled
    (rebuilt from the factory and the params in another process).
    """

    def decorate(build: Callable[[Any], Strategy]) -> Callable[..., Strategy]:
        def from_params(params) -> Strategy:
            if not isinstance(params, params_cls):
                raise StrategyError(
                    f"{name}: expected {params_cls.__name__}, got {type(params).__name__}"
                )
            return attrs.evolve(build(params), name=name, params=params, origin=factory)

        @functools.wraps(build)
        def factory(**values) -> Strategy:
            return from_params(make_params(params_cls, values, owner=name))

        factory.__signature__ = inspect.Signature(
            [
                inspect.Parameter(
                    p.name,
                    inspect.Parameter.KEYWORD_ONLY,
                    default=p.default,
                    annotation=attrs.fields_dict(params_cls)[p.name].type,
                )
                for p in param_infos(params_cls)
            ],
            return_annotation="Strategy",
        )
        factory.params_class = params_cls
        factory.strategy_name = name
        factory.from_params = from_params
        return factory

    return decorate


__all__ = [
    "ParamError",
    "ParamInfo",
    "StrategyError",
    "at_least",
    "documented",
    "duration",
    "finite",
    "make_params",
    "non_negative",
    "one_of",
    "optional",
    "param",
    "param_infos",
    "positive",
    "strategy_factory",
]
