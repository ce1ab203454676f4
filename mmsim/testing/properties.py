"""Strategy-level properties, each one line to apply to any strategy on any bars frame.

    assert_bid_below_ask(strategy, bars)           every bid below every ask of the same quotes
    assert_quotes_never_cross(strategy, bars)      bids below the close, asks above it
    assert_skew_reduces_inventory(strategy, bars)  a longer position never moves the quotes up
    assert_no_quotes_without_bar(strategy, bars)   nothing posted or filled on a missing bar, nor
                                                   after a halt
    assert_deterministic(strategy, bars)           same input => same quotes (a second call agrees)
    assert_no_look_ahead(strategy, bars)           the quotes up to t are the same on bars[:t]
    assert_strategy_invariants(strategy, bars)     the run keeps every ledger invariant
    assert_strategy_leverage_caps(strategy, bars)  leverage_caps, then `risk`, hold the caps when
                                                   orders are placed

Each `assert_*` has a `check_*` twin returning the Violations. Keyword arguments: venue, risk
(the rule the strategy runs under, default none), initial_cash, allow_gaps (None: allowed when
the frame has gaps). `strategy` is a Strategy or a mapping symbol -> Strategy, as in `backtest`.
None of these needs Hypothesis: give them any frame (a generated one, or history).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable

import attrs
import polars as pl

from mmsim.core.backtest import backtest
from mmsim.core.orders import Quotes
from mmsim.core.risk import NO_RISK
from mmsim.core.specs import with_specs
from mmsim.testing.fixtures import then_halt
from mmsim.testing.invariants import (
    Violation,
    check_halt,
    check_invariants,
    check_leverage_caps,
    check_missing_bars,
    format_violations,
)
from mmsim.testing.trace import engine_setup, has_gaps, quote_trace

EPOCH = dt.datetime(1970, 1, 1)
INVENTORY = (-0.5, -0.1, -0.01, 0.0, 0.01, 0.1, 0.5)


def _when(ts_us: int) -> dt.datetime:
    return EPOCH + dt.timedelta(microseconds=ts_us)


def _run_kwargs(kwargs: dict) -> dict:
    known = ("venue", "risk", "initial_cash", "allow_gaps", "matching", "accounting", "interval_us")
    return {k: kwargs[k] for k in known if k in kwargs and kwargs[k] is not None}


def _fmt(x) -> str:
    return "None" if x is None else f"{x:.10g}"


def _best(quotes: Quotes) -> tuple[float | None, float | None]:
    bid = max((p for p, _ in quotes.bids), default=None)
    ask = min((p for p, _ in quotes.asks), default=None)
    return bid, ask


def _show(quotes: Quotes) -> str:
    bids = ", ".join(f"{_fmt(p)} x {_fmt(q)}" for p, q in quotes.bids) or "-"
    asks = ", ".join(f"{_fmt(p)} x {_fmt(q)}" for p, q in quotes.asks) or "-"
    return f"bids [{bids}] asks [{asks}]"


def _same(a, b) -> bool:
    try:
        return bool(a == b)
    except Exception:  # e.g. numpy arrays in a state: compare what they print
        return repr(a) == repr(b)


# --- the quotes themselves ------------------------------------------------------------------


def check_bid_below_ask(strategy, bars: pl.DataFrame, **kwargs) -> list[Violation]:
    """Every bid of a strategy's quotes is below every ask of the same quotes (never crossed nor
    locked)."""
    out = []
    for call in quote_trace(bars, strategy, **_run_kwargs(kwargs)):
        bid, ask = _best(call.quotes)
        if bid is not None and ask is not None and not bid < ask:
            out.append(
                Violation(
                    "bid_below_ask",
                    _when(call.ts),
                    call.symbol,
                    f"best bid {_fmt(bid)} >= best ask {_fmt(ask)}: {_show(call.quotes)}",
                )
            )
    return out


def check_quotes_never_cross(strategy, bars: pl.DataFrame, **kwargs) -> list[Violation]:
    """Every bid is below the bar's close and every ask above it: no quote would trade at once
    (the venue moves those one tick behind the close, or refuses them in "reject" mode; a
    strategy that leans through the market on purpose fails this property and should skip it)."""
    out = []
    for call in quote_trace(bars, strategy, **_run_kwargs(kwargs)):
        close = call.bar.close
        bid, ask = _best(call.quotes)
        if (bid is not None and bid >= close) or (ask is not None and ask <= close):
            out.append(
                Violation(
                    "quotes_never_cross",
                    _when(call.ts),
                    call.symbol,
                    f"quotes cross the close {_fmt(close)}: {_show(call.quotes)}",
                )
            )
    return out


def _spread_evenly(calls, limit: int):
    if len(calls) <= limit:
        return calls
    return [calls[round(i * (len(calls) - 1) / (limit - 1))] for i in range(limit)]


def _share(fraction: float) -> str:
    return f"{fraction:+g}" if fraction else "0"


def _valid_best(quotes: Quotes) -> tuple[float | None, float | None]:
    # a price <= 0 (or not finite) is no quote: the engine refuses it
    bid = max((p for p, _ in quotes.bids if 0 < p < math.inf), default=None)
    ask = min((p for p, _ in quotes.asks if 0 < p < math.inf), default=None)
    return bid, ask


def check_skew_reduces_inventory(
    strategy,
    bars: pl.DataFrame,
    *,
    inventory: tuple[float, ...] = INVENTORY,
    max_calls: int = 50,
    rel_tol: float = 1e-9,
    **kwargs,
) -> list[Violation]:
    """A longer position never moves the quotes up: at the same bar and strategy state, the
    best bid, the best ask and the reservation price do not rise as the position grows
    (positions worth `inventory` x equity, entry at the close; prices <= 0 are no quotes). So
    a long leans to sell and a short to buy: fills tend to shrink the inventory, never grow it.
    A side that leans by size instead may trade price for it: a bid that rises while the bid
    size falls, or an ask that rises while the ask size grows, is not counted (e.g. size
    shaping with a size-dependent impact term). One violation per call: the rise nearest to a
    flat position."""
    grid = sorted(set(inventory))
    # adjacent pairs of the grid, nearest to flat first (the plainest example of a rise)
    pairs = sorted(zip(grid, grid[1:]), key=lambda ab: (max(abs(ab[0]), abs(ab[1])), -ab[1]))
    out = []
    for call in _spread_evenly(quote_trace(bars, strategy, **_run_kwargs(kwargs)), max_calls):
        inputs, close = call.inputs, call.bar.close
        equity = inputs.equity if inputs.equity > 0 else 1.0
        seen = {}
        for fraction in grid:
            position = fraction * equity / close
            probe = attrs.evolve(inputs, position=position, entry_price=close if position else 0.0)
            _, quotes = call.strategy.update(call.state, probe)
            r = quotes.reservation_price
            sizes = (
                sum(q for p, q in quotes.bids if p > 0),
                sum(q for p, q in quotes.asks if p > 0),
            )
            seen[fraction] = (
                position,
                *_valid_best(quotes),
                r if r is not None and 0 < r < math.inf else None,
                sizes,
            )
        for f_a, f_b in pairs:
            a, b = seen[f_a], seen[f_b]
            bid_by_size = b[4][0] < a[4][0] * (1 - rel_tol)  # the bid shrank: it leans by size
            ask_by_size = b[4][1] > a[4][1] * (1 + rel_tol)  # the ask grew
            rose = [
                (label, x, y)
                for label, x, y, excused in (
                    ("best bid", a[1], b[1], bid_by_size),
                    ("best ask", a[2], b[2], ask_by_size),
                    ("reservation price", a[3], b[3], False),
                )
                if x is not None and y is not None and y > x + rel_tol * abs(x) and not excused
            ]
            if rose:
                label, x, y = rose[0]
                out.append(
                    Violation(
                        "skew_reduces_inventory",
                        _when(call.ts),
                        call.symbol,
                        f"position {_fmt(a[0])} -> {_fmt(b[0])}"
                        f" ({_share(f_a)} -> {_share(f_b)} x equity): "
                        f"{label} rose {_fmt(x)} -> {_fmt(y)}",
                    )
                )
                break
    return out


# --- what the engine does with them ---------------------------------------------------------


def _with_gaps(bars: pl.DataFrame) -> pl.DataFrame:
    """Every third bar of each symbol removed (staggered by symbol), first two bars kept."""
    frame = bars.sort("symbol", "ts").with_columns(
        pl.int_range(pl.len()).over("symbol").alias("_row"),
        pl.col("symbol").rank("dense").cast(pl.Int64).alias("_sym"),
    )
    keep = (pl.col("_row") < 2) | ((pl.col("_row") + pl.col("_sym")) % 3 != 0)
    return frame.filter(keep).drop("_row", "_sym").sort("ts", "symbol")


def check_no_quotes_without_bar(strategy, bars: pl.DataFrame, **kwargs) -> list[Violation]:
    """On a copy of the bars with every third bar of each symbol removed, and with the run
    halted (after `risk`) two thirds of the way through: the strategy is never asked to quote
    a bar a symbol does not have, nothing is posted or filled there, and nothing is posted
    at or after the halt nor filled after it (exit orders at the next open excepted)."""
    gapped = _with_gaps(bars)
    n_ts = gapped["ts"].n_unique()
    risk = then_halt(kwargs.get("risk") or NO_RISK, max(1, (2 * n_ts) // 3))
    run = {**_run_kwargs(kwargs), "risk": risk, "allow_gaps": True}
    present = set(zip(gapped["ts"].dt.epoch("us").to_list(), gapped["symbol"].to_list()))
    out = [
        Violation(
            "missing_bar",
            _when(c.ts),
            c.symbol,
            "the strategy was asked to quote a bar the symbol does not have",
        )
        for c in quote_trace(gapped, strategy, **run)
        if (c.ts, c.symbol) not in present
    ]
    run.pop("interval_us", None)
    result = backtest(gapped, strategy, **run)
    return out + check_missing_bars(result, gapped) + check_halt(result, gapped)


def check_deterministic(strategy, bars: pl.DataFrame, **kwargs) -> list[Violation]:
    """Same input, same quotes: two runs from a fresh `init()` quote the same, and calling
    `update(state, inputs)` again on a recorded call returns the same quotes and state (no
    hidden randomness, clock or global, and no mutation of the state it was given)."""
    first = quote_trace(bars, strategy, **_run_kwargs(kwargs))
    second = quote_trace(bars, strategy, **_run_kwargs(kwargs))
    out = []
    for a, b in zip(first, second):
        if (a.k, a.symbol) != (b.k, b.symbol) or not _same(a.quotes, b.quotes):
            out.append(
                Violation(
                    "deterministic",
                    _when(a.ts),
                    a.symbol,
                    f"two runs quote differently: {_show(a.quotes)} vs {_show(b.quotes)}",
                )
            )
            break
    if len(first) != len(second):
        out.append(
            Violation(
                "deterministic", None, None, f"two runs made {len(first)} and {len(second)} calls"
            )
        )
    for call in first:
        again_state, again = call.strategy.update(call.state, call.inputs)
        if not _same(again, call.quotes):
            out.append(
                Violation(
                    "deterministic",
                    _when(call.ts),
                    call.symbol,
                    f"a second update(state, inputs) quotes {_show(again)}, the run quoted "
                    f"{_show(call.quotes)} (hidden state, or the state was mutated)",
                )
            )
        elif not _same(again_state, call.new_state):
            out.append(
                Violation(
                    "deterministic",
                    _when(call.ts),
                    call.symbol,
                    "a second update(state, inputs) returns a different state",
                )
            )
        if len(out) >= 20:
            break
    return out


def check_no_look_ahead(
    strategy, bars: pl.DataFrame, *, cuts: int = 4, **kwargs
) -> list[Violation]:
    """The strategy never reads the future: for `cuts` timestamps t spread over the frame, the
    run on the bars up to t quotes exactly as the run on all bars does up to t (features
    included: a feature that peeks ahead changes when the future is cut off)."""
    run = _run_kwargs(kwargs)
    setup = engine_setup(bars, strategy, **run)
    full = quote_trace(bars, strategy, **run)
    ts = [s.ts for s in setup.steps()]
    starts = bars.group_by("symbol", maintain_order=True).agg(pl.col("ts").min())["ts"].max()
    first_cut = next(k for k, t in enumerate(ts) if _when(t) >= starts)
    candidates = list(range(first_cut, len(ts) - 1))
    picks = (
        sorted(
            {candidates[round(i * (len(candidates) - 1) / max(cuts - 1, 1))] for i in range(cuts)}
        )
        if candidates
        else []
    )
    out = []
    ts_col = pl.col("ts").cast(pl.Datetime("us"))
    for cut in picks:
        short = bars.filter(ts_col <= _when(ts[cut]))
        # the bar interval and the tick and lot read from the data are the whole frame's
        pinned = {
            **run,
            "interval_us": setup.interval_us,
            "venue": with_specs(setup.venue, setup.specs),
        }
        truncated = quote_trace(short, strategy, **pinned)
        upto = [c for c in full if c.k <= cut]
        for a, b in zip(upto, truncated):
            if (a.k, a.symbol) != (b.k, b.symbol) or not _same(a.quotes, b.quotes):
                out.append(
                    Violation(
                        "no_look_ahead",
                        _when(a.ts),
                        a.symbol,
                        f"quotes change when the bars after {_when(ts[cut])} are removed:"
                        " with them "
                        f"{_show(a.quotes)}, without {_show(b.quotes)}",
                    )
                )
                break
        else:
            if len(upto) != len(truncated):
                out.append(
                    Violation(
                        "no_look_ahead",
                        _when(ts[cut]),
                        None,
                        f"{len(upto)} strategy calls up to the cut with the future,"
                        f" {len(truncated)} without",
                    )
                )
    return out


def check_strategy_invariants(strategy, bars: pl.DataFrame, **kwargs) -> list[Violation]:
    """The run of the strategy (under `risk`, on `venue`) keeps every invariant of
    `check_invariants`, fill prices included."""
    run = _run_kwargs(kwargs)
    run.pop("interval_us", None)
    run["allow_gaps"] = run.get("allow_gaps", has_gaps(bars))
    return check_invariants(backtest(bars, strategy, **run), bars)


def check_strategy_leverage_caps(
    strategy,
    bars: pl.DataFrame,
    *,
    max_leverage: float = 3.0,
    max_symbol_leverage: float = 2.0,
    **kwargs,
) -> list[Violation]:
    """Under `leverage_caps(max_leverage, max_symbol_leverage)` followed by `risk` (if given),
    the orders resting after every bar respect both caps (see `check_leverage_caps`): the
    caps hold for the strategy's order shapes, and the user's rule does not undo them."""
    from mmsim.core.risk import chain, leverage_caps

    run = _run_kwargs(kwargs)
    caps = leverage_caps(max_leverage=max_leverage, max_symbol_leverage=max_symbol_leverage)
    run["risk"] = chain(caps, run["risk"]) if "risk" in run else caps
    return check_leverage_caps(
        bars, strategy, max_leverage=max_leverage, max_symbol_leverage=max_symbol_leverage, **run
    )


# --- the registry and the assert_* twins ------------------------------------------------------

PROPERTIES: dict[str, Callable[..., list[Violation]]] = {
    "invariants": check_strategy_invariants,
    "leverage_caps": check_strategy_leverage_caps,
    "bid_below_ask": check_bid_below_ask,
    "quotes_never_cross": check_quotes_never_cross,
    "skew_reduces_inventory": check_skew_reduces_inventory,
    "no_quotes_without_bar": check_no_quotes_without_bar,
    "deterministic": check_deterministic,
    "no_look_ahead": check_no_look_ahead,
}


def check_property(name: str, strategy, bars: pl.DataFrame, **kwargs) -> list[Violation]:
    """Run the property `name` (a key of PROPERTIES); keywords it does not use are ignored."""
    if name not in PROPERTIES:
        raise KeyError(f"unknown property {name!r}; the properties are {sorted(PROPERTIES)}")
    return PROPERTIES[name](strategy, bars, **kwargs)


def failure_message(name: str, violations: list[Violation]) -> str:
    """The property's name and promise, then its violations, one per line."""
    return f"{name}: {_promise(name)}\n" + format_violations(violations, "violation")


PROMISES = {
    "invariants": "the run keeps every invariant of the ledger and the fill rule",
    "leverage_caps": "the orders resting after each bar respect the leverage caps",
    "bid_below_ask": "every bid is below every ask",
    "quotes_never_cross": "bids rest below the close and asks above it",
    "skew_reduces_inventory": "the quotes must not rise as the position grows",
    "no_quotes_without_bar": "nothing is quoted or filled on a missing bar or after a halt",
    "deterministic": "the same input gives the same quotes",
    "no_look_ahead": "the quotes up to t do not change when the bars after t are removed",
}


def _promise(name: str) -> str:
    return PROMISES[name]


def assert_property(name: str, strategy, bars: pl.DataFrame, **kwargs) -> None:
    """Raise AssertionError listing the violations of property `name`, if any."""
    __tracebackhide__ = True  # pytest shows the caller's line, not the kit's
    violations = check_property(name, strategy, bars, **kwargs)
    if violations:
        raise AssertionError(failure_message(name, violations))


def _twin(name: str):
    def assert_it(strategy, bars: pl.DataFrame, **kwargs) -> None:
        __tracebackhide__ = True
        assert_property(name, strategy, bars, **kwargs)

    assert_it.__name__ = assert_it.__qualname__ = f"assert_{name}"
    assert_it.__doc__ = f"Raise AssertionError unless: {PROPERTIES[name].__doc__}"
    return assert_it


assert_strategy_invariants = _twin("invariants")
assert_strategy_leverage_caps = _twin("leverage_caps")
assert_bid_below_ask = _twin("bid_below_ask")
assert_quotes_never_cross = _twin("quotes_never_cross")
assert_skew_reduces_inventory = _twin("skew_reduces_inventory")
assert_no_quotes_without_bar = _twin("no_quotes_without_bar")
assert_deterministic = _twin("deterministic")
assert_no_look_ahead = _twin("no_look_ahead")


__all__ = [
    "INVENTORY",
    "PROPERTIES",
    "assert_bid_below_ask",
    "assert_deterministic",
    "assert_no_look_ahead",
    "assert_no_quotes_without_bar",
    "assert_property",
    "assert_quotes_never_cross",
    "assert_skew_reduces_inventory",
    "assert_strategy_invariants",
    "assert_strategy_leverage_caps",
    "check_bid_below_ask",
    "check_deterministic",
    "check_no_look_ahead",
    "check_no_quotes_without_bar",
    "check_property",
    "check_quotes_never_cross",
    "check_skew_reduces_inventory",
    "check_strategy_invariants",
    "check_strategy_leverage_caps",
    "failure_message",
]
