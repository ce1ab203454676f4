"""Parameter spaces derived from a strategy's frozen attrs parameter class.

`param_domains(cls)` reads each init field's validators: attrs' own `gt/ge/lt/le`, `in_`,
`optional`, `and_` (a list) and `instance_of` are introspected exactly; any other validator (a
closure, a custom check) is probed: called on a ladder of candidate values, with the edges of
the accepted interval found by bisection and snapped to the simplest number between the last
value refused and the first accepted (0 for "> 0", 10000 for "< 10000"). Strings are probed
with the default, the string constants found in the validator's closures and, when the default
is a duration ('1d'), a few durations (offered even with no validator: the class constructor
then rejects what it refuses). The field's annotation (or its default) says int, float,
bool or str. Nothing here needs Hypothesis; `param_space` and `strategy_space` build Hypothesis
strategies from the domains (the `testing` extra).

Sampling ranges (`Domain.sampling_range`): a side with no bound gets a soft one, 100 x |default|
(at least 100) away for floats and max(2 x |default|, 10) for integers, and an excluded bound
is moved inwards by 1e-6 x |default| (so "> 0" draws no denormal); pass an override (a value,
a (low, high) pair or a Hypothesis strategy) to change it.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import math
import re
import types
from collections.abc import Callable
from typing import Any

import attrs

from mmsim.core.clock import parse_duration_us
from mmsim.testing._registry import remember

KINDS = ("float", "int", "bool", "choice", "fixed")


@attrs.frozen(slots=True)
class Domain:
    """The values one parameter may take, as its validators say (immutable).

    kind: float, int, bool, choice or fixed (only the default is known to be valid);
    low / high: bounds (None = unbounded), excluded when low_open / high_open; choices: the
    values of a choice; optional: None is valid too; source: "validators" (introspected),
    "probe" (found by calling an opaque validator) or "default".
    """

    name: str
    kind: str = attrs.field(validator=attrs.validators.in_(KINDS))
    default: Any = None
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    choices: tuple = ()
    optional: bool = False
    source: str = "validators"

    def contains(self, value) -> bool:
        """Whether `value` lies in the domain (None only when optional)."""
        if value is None:
            return self.optional
        if self.kind in ("choice", "fixed"):
            return value in (self.choices or (self.default,))
        if self.kind == "bool":
            return isinstance(value, bool)
        if self.low is not None and (value < self.low or (self.low_open and value == self.low)):
            return False
        return not (
            self.high is not None and (value > self.high or (self.high_open and value == self.high))
        )

    def sampling_range(self) -> tuple[float, float]:
        """The closed (low, high) values are drawn from: the bounds, soft ones where there is
        none (100 x |default|, at least 100, away; ints max(2 x |default|, 10)), and an excluded
        bound moved inwards by 1e-6 x |default| (ints: 1) so "> 0" never draws 5e-324."""
        number = isinstance(self.default, int | float) and not isinstance(self.default, bool)
        d = self.default if number else 0
        if self.kind == "int":
            span, margin = max(2 * abs(int(d)), 10), 1
        else:
            span = max(100.0 * abs(float(d)), 100.0)
            margin = 1e-6 * abs(float(d)) if d else 1e-9
        low, high = self.low, self.high
        if low is None and high is None:
            low, high = -span, span
        elif high is None:
            high = low + span
        elif low is None:
            low = high - span
        if self.low is not None and self.low_open:
            low = low + (margin if self.kind == "int" else max(margin, 1e-9 * abs(low)))
        if self.high is not None and self.high_open:
            high = high - (margin if self.kind == "int" else max(margin, 1e-9 * abs(high)))
        return low, high


# --- introspection of attrs validators ------------------------------------------------------


@attrs.define
class _Found:
    kind: str | None = None
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    choices: tuple | None = None
    optional: bool = False
    opaque: bool = False


def _walk(validator, found: _Found) -> None:
    if validator is None:
        return
    inner = getattr(validator, "_validators", None)
    if inner is not None:  # and_ / a list of validators
        for one in inner:
            _walk(one, found)
        return
    if type(validator).__name__ == "_OptionalValidator":
        found.optional = True
        _walk(validator.validator, found)
        return
    op = getattr(validator, "compare_op", None)
    if op is not None and hasattr(validator, "bound"):
        bound = validator.bound
        if op in (">", ">=") and (found.low is None or bound >= found.low):
            found.low_open = op == ">" or (bound == found.low and found.low_open)
            found.low = bound
        elif op in ("<", "<=") and (found.high is None or bound <= found.high):
            found.high_open = op == "<" or (bound == found.high and found.high_open)
            found.high = bound
        return
    if hasattr(validator, "options") and type(validator).__name__ == "_InValidator":
        options = tuple(validator.options)
        found.choices = (
            options if found.choices is None else tuple(o for o in found.choices if o in options)
        )
        return
    if type(validator).__name__ == "_InstanceOfValidator":
        types_ = validator.type if isinstance(validator.type, tuple) else (validator.type,)
        for t, kind in ((bool, "bool"), (int, "int"), (float, "float"), (str, "str")):
            if t in types_:
                found.kind = found.kind or kind
                break
        return
    found.opaque = True


def _annotation_kind(field: attrs.Attribute) -> tuple[str | None, bool]:
    annotation = field.type
    text = annotation if isinstance(annotation, str) else repr(annotation)
    if isinstance(annotation, type):
        text = annotation.__name__
    words = set(re.findall(r"[A-Za-z_]+", text))
    optional = "None" in words or "Optional" in words
    for word in ("bool", "int", "float", "str"):
        if word in words and not (word == "int" and "float" in words):
            return word, optional
    return None, optional


def _default_kind(default) -> str | None:
    for t, kind in ((bool, "bool"), (int, "int"), (float, "float"), (str, "str")):
        if isinstance(default, t):
            return kind
    return None


# --- probing opaque validators --------------------------------------------------------------


def _accepts(field: attrs.Attribute, value) -> bool:
    try:
        field.validator(None, field, value)
    except Exception:  # any refusal, whatever its type, means "not in the domain"
        return False
    return True


def _ladder(kind: str) -> list:
    if kind == "int":
        mags = sorted({m * 10**k for k in range(0, 10) for m in (1, 2, 5)} | set(range(1, 11)))
        return sorted({0, *mags, *(-m for m in mags)})
    mags = sorted({m * 10.0**k for k in range(-6, 10) for m in (1.0, 2.0, 5.0)})
    return sorted({0.0, *mags, *(-m for m in mags)})


def _simplest_between(a: float, b: float) -> float:
    """The number with the fewest significant digits in [min(a, b), max(a, b)]."""
    lo, hi = min(a, b), max(a, b)
    if lo <= 0.0 <= hi:
        return 0.0
    for digits in range(1, 17):
        for x in (a, b):
            nice = float(f"{x:.{digits}g}")
            if lo <= nice <= hi:
                return nice
    return b


def _edge(field, kind: str, refused, accepted) -> tuple[float, bool]:
    """The bound between a refused and an accepted value, and whether it is itself excluded."""
    if kind == "int":
        while abs(accepted - refused) > 1:
            mid = (accepted + refused) // 2
            if _accepts(field, mid):
                accepted = mid
            else:
                refused = mid
        return accepted, False
    for _ in range(200):
        mid = (accepted + refused) / 2
        if mid in (accepted, refused):
            break
        if _accepts(field, mid):
            accepted = mid
        else:
            refused = mid
    edge = _simplest_between(refused, accepted)
    return edge, not _accepts(field, edge)


def _probe_numeric(field, kind: str, default, found: _Found) -> bool:
    ladder = _ladder(kind)
    if isinstance(default, int | float) and not isinstance(default, bool):
        ladder = sorted({*ladder, default})
    ok = [_accepts(field, x) for x in ladder]
    if not any(ok):
        return False
    centre = (
        ladder.index(default) if default in ladder and ok[ladder.index(default)] else ok.index(True)
    )
    i = j = centre
    while i > 0 and ok[i - 1]:
        i -= 1
    while j < len(ladder) - 1 and ok[j + 1]:
        j += 1
    low, low_open, high, high_open = None, False, None, False
    if i > 0:
        low, low_open = _edge(field, kind, ladder[i - 1], ladder[i])
    if j < len(ladder) - 1:
        high, high_open = _edge(field, kind, ladder[j + 1], ladder[j])
    # intersect with what introspection found
    if low is not None and (found.low is None or low > found.low):
        found.low, found.low_open = low, low_open
    if high is not None and (found.high is None or high < found.high):
        found.high, found.high_open = high, high_open
    return True


def _string_constants(obj, depth: int = 6, seen: set | None = None) -> list[str]:
    """Short strings reachable from a callable's code constants, the module constants it names and
    its closures (a validator's choices, mostly)."""
    seen = set() if seen is None else seen
    if depth < 0 or id(obj) in seen:
        return []
    seen.add(id(obj))
    out: list[str] = []
    if isinstance(obj, str):
        return [obj] if 0 < len(obj) <= 40 and " " not in obj else []
    if isinstance(obj, tuple | list | frozenset | set):
        for x in obj:
            out += _string_constants(x, depth - 1, seen)
        return out
    if isinstance(obj, types.FunctionType):
        code = obj.__code__
        out += _string_constants(
            tuple(c for c in code.co_consts if isinstance(c, str | tuple)), depth - 1, seen
        )
        # module-level string constants the function names (e.g. INFINITE = "inf")
        named = tuple(obj.__globals__.get(n) for n in code.co_names)
        out += _string_constants(tuple(x for x in named if isinstance(x, str)), depth - 1, seen)
        for cell in obj.__closure__ or ():
            with contextlib.suppress(ValueError):  # an empty cell
                out += _string_constants(cell.cell_contents, depth - 1, seen)
        return out
    if callable(obj) and attrs.has(type(obj)):  # e.g. mmsim.core.params.Validator (slots)
        out += _string_constants(attrs.astuple(obj, recurse=False), depth - 1, seen)
    elif callable(obj) and hasattr(obj, "__dict__"):
        out += _string_constants(tuple(vars(obj).values()), depth - 1, seen)
    return out


_DURATIONS = ("1m", "15m", "1h", "8h", "1d", "1w")


def _is_duration(value) -> bool:
    try:
        parse_duration_us(value)
    except (TypeError, ValueError):
        return False
    return isinstance(value, str)


def _probe_choices(field, default) -> tuple:
    if field.validator is None:  # any string passes; offer durations when the default is one
        return tuple(dict.fromkeys((default, *_DURATIONS))) if _is_duration(default) else ()
    candidates = [default] if default is not None else []
    candidates += _string_constants(field.validator)
    if _is_duration(default):
        candidates += list(_DURATIONS)
    return tuple(dict.fromkeys(c for c in candidates if c is not None and _accepts(field, c)))


# --- the domain of each field ---------------------------------------------------------------


def _domain(field: attrs.Attribute) -> Domain:
    default = field.default
    if isinstance(default, attrs.Factory):  # type: ignore[arg-type]
        default = default.factory() if not default.takes_self else None
    if default is attrs.NOTHING:
        default = None
    found = _Found()
    _walk(field.validator, found)
    annotated, optional_type = _annotation_kind(field)
    kind = found.kind or annotated or _default_kind(default)
    optional = found.optional or (default is None and optional_type)
    source = "validators"
    if found.opaque:
        source = "probe"
        optional = _accepts(field, None)
    if found.choices is not None:
        choices = tuple(c for c in found.choices if not found.opaque or _accepts(field, c))
        return Domain(
            field.name, "choice", default, choices=choices, optional=optional, source=source
        )
    if kind == "bool":
        choices = tuple(b for b in (False, True) if not found.opaque or _accepts(field, b))
        return Domain(
            field.name,
            "bool" if len(choices) == 2 else "fixed",
            default,
            choices=choices if len(choices) < 2 else (),
            optional=optional,
            source=source,
        )
    if kind in ("int", "float"):
        if found.opaque and not _probe_numeric(field, kind, default, found):
            return Domain(field.name, "fixed", default, optional=optional, source="default")
        return Domain(
            field.name,
            kind,
            default,
            found.low,
            found.high,
            found.low_open,
            found.high_open,
            optional=optional,
            source=source,
        )
    choices = _probe_choices(field, default) if found.opaque or kind == "str" else ()
    if len(choices) > 1:
        source = "probe" if found.opaque else "default"
        return Domain(
            field.name, "choice", default, choices=choices, optional=optional, source=source
        )
    return Domain(
        field.name, "fixed", default, optional=optional and found.opaque, source="default"
    )


def param_domains(params_cls: type) -> dict[str, Domain]:
    """The domain of every init field of a frozen attrs parameter class, from its validators."""
    if not attrs.has(params_cls):
        raise TypeError(f"{params_cls!r} is not an attrs class; a parameter space needs one")
    return dict(_domains(params_cls))


@functools.lru_cache(maxsize=256)
def _domains(params_cls: type) -> tuple[tuple[str, Domain], ...]:
    return tuple((f.name, _domain(f)) for f in attrs.fields(params_cls) if f.init)


# --- from a strategy factory to its parameter class -----------------------------------------


def params_class_of(factory: Callable) -> type:
    """The parameter class of a strategy factory: `factory.params_class`, else the class of
    `factory().params` (the strategy built with its defaults)."""
    cls = getattr(factory, "params_class", None)
    if cls is None:
        try:
            built = factory()
        except TypeError as exc:
            raise TypeError(
                f"cannot find the parameter class of {getattr(factory, '__name__', factory)!r}: "
                f"calling it with no arguments failed ({exc}); pass params_cls=..."
            ) from None
        cls = type(getattr(built, "params", None))
    if not attrs.has(cls):
        raise TypeError(
            f"{getattr(factory, '__name__', factory)!r} builds strategies whose params are "
            f"{cls.__name__}, not an attrs class; pass params_cls=..."
        )
    return cls


def takes_keywords(factory: Callable, names) -> bool:
    """Whether `factory(**{name: ...})` is a valid call for every name (keyword factory)."""
    try:
        signature = inspect.signature(factory)
    except (TypeError, ValueError):
        return False
    params = signature.parameters.values()
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
        return True
    keywordable = {p.name for p in params if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)}
    return set(names) <= keywordable


def init_values(params) -> dict[str, Any]:
    """A params value as the keyword arguments that rebuild it."""
    return {f.name: getattr(params, f.name) for f in attrs.fields(type(params)) if f.init}


@attrs.frozen(slots=True)
class Built:
    """How the kit built a value: `factory(*args, **kwargs)`."""

    factory: Callable
    args: tuple
    kwargs: dict = attrs.field(eq=False)


# --- Hypothesis strategies (the `testing` extra) --------------------------------------------


def _field_strategy(domain: Domain, override):
    from mmsim.testing._extra import hypothesis_module

    st = hypothesis_module("hypothesis.strategies", needed_by="param_space")
    if isinstance(override, st.SearchStrategy):
        return override
    if override is not None and not (isinstance(override, tuple) and len(override) == 2):
        return st.just(override)
    if domain.kind == "fixed":
        base = st.just(domain.default)
    elif domain.kind == "choice":
        base = st.sampled_from(domain.choices or (domain.default,))
    elif domain.kind == "bool":
        base = st.booleans()
    else:
        low, high = override if override is not None else domain.sampling_range()
        if domain.kind == "int":
            base = st.integers(math.ceil(low), math.floor(high))
        else:
            base = st.floats(
                low, high, allow_nan=False, allow_infinity=False, allow_subnormal=False
            )
    return st.one_of(st.none(), base) if domain.optional and override is None else base


def _field_strategies(params_cls: type, overrides: dict) -> dict:
    domains = param_domains(params_cls)
    unknown = sorted(set(overrides) - set(domains))
    if unknown:
        raise TypeError(
            f"{params_cls.__name__} has no parameter(s) {unknown}; it has {sorted(domains)}"
        )
    return {name: _field_strategy(d, overrides.get(name)) for name, d in domains.items()}


def tracked(build: Callable) -> Callable:
    """`build` with a refused combination (ValueError/TypeError) turned into a rejected example,
    printed under the builder's own name in Hypothesis' falsifying examples."""
    from mmsim.testing._extra import hypothesis_module

    hyp = hypothesis_module(needed_by="param_space")

    @functools.wraps(build)
    def guarded(*args, **kwargs):
        try:
            built = build(*args, **kwargs)
        except (ValueError, TypeError):  # a combination the class refuses, e.g. a cross-field rule
            hyp.reject()
        remember(built, Built(build, args, kwargs))  # so a saved failing case can rebuild it
        return built

    return guarded


def param_space(params_cls: type, **overrides):
    """A Hypothesis strategy of valid `params_cls` values, each field drawn from its domain.

    overrides: name=value (fixed), name=(low, high) (bounds), or name=<SearchStrategy>.
    Combinations the class refuses (cross-field checks) are rejected, not reported.
    """
    return _hypothesis_builds(tracked(params_cls), _field_strategies(params_cls, overrides))


def strategy_space(factory: Callable, *, params_cls: type | None = None, **overrides):
    """A Hypothesis strategy of Strategies built by `factory` over its parameter space.

    factory: a keyword factory (`fixed_spread(half_spread_bps=...)`) or one taking a params
    value; its parameter class is `params_cls`, `factory.params_class`, or the class of
    `factory().params`. Falsifying examples print as the factory call, e.g.
    `fixed_spread(half_spread_bps=1.0, order_value=1.0, max_position_value=None)`.
    """
    cls = params_cls or params_class_of(factory)
    fields = _field_strategies(cls, overrides)
    if takes_keywords(factory, fields):
        return _hypothesis_builds(tracked(factory), fields)
    return _hypothesis_builds(tracked(factory), (param_space(cls, **overrides),), positional=True)


def _hypothesis_builds(target, fields, positional: bool = False):
    from mmsim.testing._extra import hypothesis_module

    st = hypothesis_module("hypothesis.strategies", needed_by="param_space")
    return st.builds(target, *fields) if positional else st.builds(target, **fields)
