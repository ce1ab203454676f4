"""Run specs: a grid point resolved into one backtest's configuration, named by a stable hash.

A run id is 16 hex digits of a BLAKE2b hash of the resolved configuration (strategy parameters
with defaults filled in, risk, venue, cash, window) and of the bars' fingerprint. The stored
config also keeps, under "build" (outside the hash), the exact keywords the run was built from,
so `spec_of_row` can rebuild the run from its sweep row alone.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from typing import Any

import attrs
import polars as pl

from mmsim.core.risk import basic_risk
from mmsim.core.venue import Venue
from mmsim.strategies.base import Strategy

StrategyRef = str | Callable[..., Strategy]


@attrs.frozen(slots=True)
class RunSpec:
    """Everything a worker needs for one backtest (immutable, picklable).

    strategy: a registry name, "module:function", or a factory callable; params: per symbol,
    the factory's keyword arguments; risk: `basic_risk` keywords or None (no risk rules);
    window: [start, end) in µs since epoch, or None for all bars. engine: the backtest engine
    ("auto", "fast" or "reference"; every engine gives the same row, so it is not in the run id).
    """

    run_id: str
    point: dict[str, Any] = attrs.field(eq=False)
    strategy: Any = attrs.field(eq=False)
    params: dict[str, dict[str, Any]] = attrs.field(eq=False)
    risk: dict[str, Any] | None = attrs.field(eq=False)
    venue: dict[str, Any] = attrs.field(eq=False)
    initial_cash: float
    allow_gaps: bool
    symbols: tuple[str, ...]
    window: tuple[int, int] | None = None
    config: str = attrs.field(default="", eq=False)
    error: str | None = attrs.field(default=None, eq=False)
    keep_equity: bool = attrs.field(default=False, eq=False)
    engine: str = attrs.field(default="auto", eq=False)


def _strategy_factory(factory: Any, ref: str) -> Callable[..., Strategy]:
    """`factory` if it is a Python function annotated `-> Strategy`; checked before any call.

    A name from a config file runs as code, so it must name a strategy factory, never an
    arbitrary callable such as "os:system".
    """
    import inspect
    import typing

    if not inspect.isfunction(factory):
        raise ValueError(
            f"strategy {ref!r} is not a Python function; name a strategy factory "
            "(def make(**params) -> mmsim.Strategy)"
        )
    try:
        returns = typing.get_type_hints(factory).get("return")
    except Exception:  # unresolvable annotations: treated as none
        returns = None
    if not (isinstance(returns, type) and issubclass(returns, Strategy)):
        raise ValueError(
            f"strategy {ref!r} is not annotated to return a Strategy; a 'module:function' "
            "must name a strategy factory (def make(**params) -> mmsim.Strategy)"
        )
    return factory


def resolve_strategy(ref: StrategyRef) -> Callable[..., Strategy]:
    """A factory `f(**params) -> Strategy` from a callable, "module:function" or a registry name."""
    if callable(ref):
        return ref
    if not isinstance(ref, str) or not ref:
        raise ValueError(f"strategy must be a factory callable or a name, got {ref!r}")
    if ":" in ref:
        import importlib

        module, _, name = ref.partition(":")
        try:
            factory = getattr(importlib.import_module(module), name)
        except (ImportError, AttributeError) as exc:
            raise ValueError(
                f"strategy {ref!r}: cannot import {name!r} from {module!r} ({exc})"
            ) from exc
        return _strategy_factory(factory, ref)
    try:
        from mmsim.strategies import make_strategy
    except ImportError as exc:
        raise ValueError(
            f"strategy {ref!r} by name needs the registry mmsim.strategies.make_strategy, which "
            "this mmsim lacks; pass a factory (e.g. mmsim.avellaneda_stoikov) or 'module:function'"
        ) from exc
    return lambda **params: make_strategy(ref, **params)


def strategy_label(ref: StrategyRef) -> str:
    """A stable text naming the strategy factory (for the run config and its hash)."""
    if isinstance(ref, str):
        return ref
    module = getattr(ref, "__module__", None) or "?"
    return f"{module}:{getattr(ref, '__qualname__', repr(ref))}"


def plain(value: Any) -> Any:
    """A JSON-ready, hash-stable form: attrs -> dict, tuples -> lists, ints -> floats."""
    if attrs.has(type(value)):
        return {a.name: plain(getattr(value, a.name)) for a in attrs.fields(type(value)) if a.init}
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return float(value)
    return repr(value)


def _params(params: Any) -> dict[str, Any]:
    value = plain(params)
    return value if isinstance(value, dict) else {"repr": value}


def config_hash(config: Mapping[str, Any], fingerprint: str) -> str:
    """The run id: 16 hex digits of a BLAKE2b hash of the resolved config and data fingerprint."""
    text = json.dumps({"config": plain(config), "data": fingerprint}, sort_keys=True)
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()


def data_fingerprint(bars: pl.DataFrame) -> str:
    """A hash of the bars' columns, dtypes and values (independent of how they were loaded)."""
    h = hashlib.blake2b(digest_size=16)
    for name in sorted(bars.columns):
        col = bars[name]
        h.update(f"{name}:{col.dtype}:{col.len()}:{col.null_count()};".encode())
        if col.dtype.is_temporal():
            col = col.to_physical()
        if col.dtype.is_numeric() or col.dtype == pl.Boolean:
            h.update(col.fill_null(0).to_numpy().tobytes())
            if col.null_count():
                h.update(col.is_null().to_numpy().tobytes())
        elif col.dtype in (pl.String, pl.Categorical) or isinstance(col.dtype, pl.Enum):
            # the same bytes as the row-by-row join below, joined by Polars
            text = col.cast(pl.String).fill_null("\x01").str.join("\x00")
            h.update(text.item().encode())
        else:
            h.update("\x00".join("\x01" if x is None else str(x) for x in col.to_list()).encode())
    return h.hexdigest()


class _NotJson(ValueError):
    pass


def _exact(value: Any) -> Any:
    """`value` as JSON keeps it (ints stay ints, floats floats); raises _NotJson otherwise."""
    if isinstance(value, bool) or value is None or isinstance(value, str | int | float):
        return value
    if isinstance(value, Mapping):
        return {str(k): _exact(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_exact(v) for v in value]
    item = getattr(value, "item", None)  # a numpy scalar from a generated grid
    if callable(item) and getattr(value, "shape", None) == ():
        return _exact(item())
    raise _NotJson(repr(value))


def _build_keywords(
    params: Mapping[str, Any], risk: Mapping[str, Any] | None, venue: Mapping[str, Any]
) -> dict[str, Any] | None:
    """The keywords a worker builds the run from, JSON-exact; None when JSON cannot hold them."""
    try:
        return _exact({"params": params, "risk": risk, "venue": venue})
    except _NotJson:
        return None


def _split_point(
    point: Mapping[str, Any], symbols: tuple[str, ...]
) -> tuple[dict, dict[str, dict], dict, dict, dict]:
    """Route each grid key to strategy (all / one symbol), risk, venue or top-level settings."""
    common: dict[str, Any] = {}
    by_symbol: dict[str, dict[str, Any]] = {}
    risk: dict[str, Any] = {}
    venue: dict[str, Any] = {}
    top: dict[str, Any] = {}
    for key, value in point.items():
        head, dot, name = key.partition(".")
        if key == "initial_cash":
            top[key] = value
        elif not dot:
            common[key] = value
        elif not name:
            raise ValueError(f"grid key {key!r} has nothing after the dot")
        elif head == "risk":
            risk[name] = value
        elif head == "venue":
            venue[name] = value
        elif head in symbols:
            by_symbol.setdefault(head, {})[name] = value
        else:
            raise ValueError(
                f"grid key {key!r}: prefix {head!r} is not 'risk', 'venue' or a symbol "
                f"of the bars {list(symbols)}"
            )
    return common, by_symbol, risk, venue, top


def make_spec(
    point: Mapping[str, Any],
    *,
    strategy: StrategyRef,
    symbols: tuple[str, ...],
    fingerprint: str,
    params: Mapping[str, Any] | None = None,
    risk: Mapping[str, Any] | None = None,
    venue: Mapping[str, Any] | Venue | None = None,
    initial_cash: float = 100_000.0,
    allow_gaps: bool = False,
    window: tuple[int, int] | None = None,
    keep_equity: bool = False,
    engine: str = "auto",
) -> RunSpec:
    """Resolve one grid point into a RunSpec; the factory, Venue and risk are built here once to
    validate the point and resolve their defaults. An invalid point gives a spec with `error` set
    (stored as a failed run) rather than an exception."""
    fixed_venue = plain(venue) if isinstance(venue, Venue) else dict(venue or {})
    common, by_symbol, risk_grid, venue_grid, top = _split_point(point, symbols)
    per_symbol = {s: {**(params or {}), **common, **by_symbol.get(s, {})} for s in symbols}
    risk_kwargs = None if risk is None and not risk_grid else {**(risk or {}), **risk_grid}
    venue_kwargs = {**fixed_venue, **venue_grid}
    cash = float(top.get("initial_cash", initial_cash))
    label = strategy_label(strategy)
    config: dict[str, Any] = {
        "strategy": label,
        "symbols": list(symbols),
        "risk": risk_kwargs,
        "venue": venue_kwargs,
        "initial_cash": cash,
        "allow_gaps": allow_gaps,
        "window": list(window) if window else None,
    }
    error = None
    try:
        factory = resolve_strategy(strategy)
        built = {s: factory(**kw) for s, kw in per_symbol.items()}
        # resolved params (defaults filled in) plus any keyword the params do not keep
        config["strategies"] = {
            s: {"name": st.name, "params": {**_params(st.params), **plain(per_symbol[s])}}
            for s, st in built.items()
        }
        config["venue"] = plain(Venue(**venue_kwargs))
        if risk_kwargs is not None:
            basic_risk(**risk_kwargs)
    except Exception as exc:  # an invalid point is a failed run, not a failed sweep
        config["strategies"] = {s: {"params": plain(kw)} for s, kw in per_symbol.items()}
        error = f"{type(exc).__name__}: {exc}"
    return RunSpec(
        run_id=config_hash(config, fingerprint),
        point=dict(point),
        strategy=strategy,
        params=per_symbol,
        risk=risk_kwargs,
        venue=venue_kwargs,
        initial_cash=cash,
        allow_gaps=allow_gaps,
        symbols=symbols,
        window=window,
        config=json.dumps(
            {**plain(config), "build": _build_keywords(per_symbol, risk_kwargs, venue_kwargs)},
            sort_keys=True,
        ),
        error=error,
        keep_equity=keep_equity,
        engine=engine,
    )


def spec_of_row(
    row: Mapping[str, Any],
    fingerprint: str,
    *,
    strategy: StrategyRef | None = None,
    engine: str = "auto",
) -> RunSpec:
    """The RunSpec of a sweep row (its `run_id` and `config`), checked against the bars'
    fingerprint: the hash of the row's config and these bars must be its run id.

    strategy: the factory to build it with, when the stored name cannot be imported here (a
    factory defined in a script or a notebook); by default the one the config names.
    """
    run_id = row.get("run_id")
    text = row.get("config")
    if not isinstance(text, str):
        raise ValueError(f"sweep row {run_id!r} has no config column to rebuild the run from")
    config = json.loads(text)
    build = config.pop("build", None)
    if build is None:
        raise ValueError(
            f"sweep run {run_id} was stored without the exact keywords it was built from (by "
            "an older mmsim, or with parameters JSON cannot hold): run it again with "
            "mmsim.backtest and the parameters in its row"
        )
    if config_hash(config, fingerprint) != run_id:
        raise ValueError(
            f"sweep run {run_id} was not computed on these bars (their fingerprint gives "
            f"another run id): pass the bars the sweep ran on"
        )
    window = config.get("window")
    return RunSpec(
        run_id=run_id,
        point={},
        strategy=config["strategy"] if strategy is None else strategy,
        params=build["params"],
        risk=build["risk"],
        venue=build["venue"],
        initial_cash=float(config["initial_cash"]),
        allow_gaps=bool(config["allow_gaps"]),
        symbols=tuple(config["symbols"]),
        window=(int(window[0]), int(window[1])) if window else None,
        config=row["config"],
        engine=engine,
    )


__all__ = [
    "RunSpec",
    "StrategyRef",
    "config_hash",
    "data_fingerprint",
    "make_spec",
    "plain",
    "resolve_strategy",
    "spec_of_row",
    "strategy_label",
]
