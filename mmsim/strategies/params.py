"""Parameter classes of strategies: validated fields with units, and the keyword-only factory.

A strategy's parameters are a frozen attrs class whose fields are declared with `param(...)`
(`mmsim.core.params`, as the venue's and the risk rules'): default, unit, one-line meaning and
checks in one place. The class docstring gets a generated
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
from collections.abc import Callable, Mapping
from typing import Any

import attrs

from mmsim.core.params import (
    Check,
    ParamError,
    ParamInfo,
    at_least,
    below,
    between,
    documented,
    duration,
    finite,
    format_default,
    is_number,
    non_negative,
    one_of,
    optional,
    param,
    param_infos,
    positive,
)
from mmsim.strategies.base import Strategy


class StrategyError(ValueError):
    """A strategy that cannot be built: unknown name, unknown keyword or a bad parameter value."""


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


weights_check = Check(
    lambda x: all(k.isidentifier() and is_number(w) for k, w in x),
    "a mapping of feature name (an identifier) -> finite weight",
)


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
                    default=inspect.Parameter.empty if p.required else p.default,
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
    "Check",
    "ParamError",
    "ParamInfo",
    "StrategyError",
    "at_least",
    "below",
    "between",
    "documented",
    "duration",
    "finite",
    "format_default",
    "make_params",
    "non_negative",
    "one_of",
    "optional",
    "param",
    "param_infos",
    "positive",
    "strategy_factory",
]
