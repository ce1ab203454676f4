"""The trade-through threshold on the tick grid: a resting buy at p fills exactly when
low <= p - n*tick, a sell when high >= p + n*tick, whatever the floats of p - n*tick; the
participation cap counts whole lots."""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal

import attrs
import polars as pl
import pytest
from conftest import scaled
from hypothesis import example, given, settings
from hypothesis import strategies as st

import mmsim
from mmsim.core.bars import Bar
from mmsim.core.intensity import fill_probability, intensity_matching, quote_distance
from mmsim.core.matching import fill_limit_orders, per_symbol_matching
from mmsim.core.orders import MAKER, Fill, Order, Quotes
from mmsim.core.venue import SymbolSpec, Venue
from mmsim.testing import check_invariants

T0 = dt.datetime(2025, 3, 10)
TICKS = (0.01, 0.1, 0.001, 0.5, 0.05, 1e-5, 1e-8)


def on_grid(ticks: int, tick: float) -> float:
    """The float a CSV gives for `ticks` whole ticks: the nearest double to the decimal."""
    return float(Decimal(ticks) * Decimal(repr(tick)))


def bar(low, high, open_=None, close=None, volume=1e9, ts=0):
    open_ = (low + high) / 2 if open_ is None else open_
    close = open_ if close is None else close
    return Bar("X", ts, open_, high, low, close, volume)


def test_eth_bid_one_tick_above_the_low_fills_with_one_tick_penetration():
    """March 2025 ETHUSDT: a bid at 2146.45 against a low of 2146.44 (tick 0.01, n = 1);
    2146.45 - 0.01 is 2146.4399999999996 in floats, so a float comparison misses it."""
    assert 2146.45 - 0.01 < 2146.44
    spec = SymbolSpec(tick_size=0.01, lot_size=0.0001)
    order = Order("X", 1, 2146.45, 1.0)
    fills = fill_limit_orders((order,), bar(2146.44, 2147.0), spec, Venue(penetration_ticks=1))
    assert [(f.side, f.price, f.qty) for f in fills] == [(1, 2146.45, 1.0)]


def _eth_frame():
    rows = [(2146.60, 2146.70, 2146.50, 2146.55), (2146.55, 2146.60, 2146.44, 2146.50)]
    return pl.DataFrame(
        {
            "ts": [T0, T0 + dt.timedelta(minutes=1)],
            "symbol": ["ETHUSDT"] * 2,
            "open": [r[0] for r in rows],
            "high": [r[1] for r in rows],
            "low": [r[2] for r in rows],
            "close": [r[3] for r in rows],
            "volume": [10.0, 10.0],
        }
    ).with_columns(pl.col("ts").cast(pl.Datetime("us")))


ETH_VENUE = Venue(tick_sizes={"ETHUSDT": 0.01}, lot_sizes={"ETHUSDT": 0.0001}, penetration_ticks=1)
BID_2146_45 = mmsim.stateless("bid", lambda i: Quotes(((2146.45, 1.0),), ()))


def test_eth_bid_fills_in_a_backtest_and_the_invariants_agree():
    frame = _eth_frame()
    result = mmsim.backtest(frame, BID_2146_45, venue=ETH_VENUE)
    assert result.fills.select("side", "price", "qty").rows() == [(1, 2146.45, 1.0)]
    assert check_invariants(result, frame) == []


def _float_rule(orders, bar_, spec, venue):
    """The threshold computed in floats (low <= p - n*tick): misses the ETH fill."""
    through = venue.penetration_ticks * spec.tick_size
    return tuple(
        Fill(bar_.ts, o.symbol, o.side, o.price, o.qty, 0.0, MAKER, level=o.level)
        for o in orders
        if (bar_.low <= o.price - through if o.side > 0 else bar_.high >= o.price + through)
    )


def test_a_resting_order_whose_bar_reached_its_threshold_but_did_not_fill_is_a_violation():
    frame = _eth_frame()
    venue = Venue(
        tick_sizes={"ETHUSDT": 0.01},
        lot_sizes={"ETHUSDT": 0.0001},
        penetration_ticks=1,
        maker_fee=0.0,
    )
    result = mmsim.backtest(
        frame, BID_2146_45, venue=venue, matching=per_symbol_matching(_float_rule)
    )
    assert result.fills.height == 0
    violations = check_invariants(result, frame)
    assert [(v.invariant, v.ts, v.symbol) for v in violations] == [
        ("missed_fill", T0 + dt.timedelta(minutes=1), "ETHUSDT")
    ]


@settings(max_examples=scaled(400))
@given(
    tick=st.sampled_from(TICKS),
    price_ticks=st.integers(10, 10**9),
    distance=st.integers(-3, 4),
    n=st.integers(0, 2),
    side=st.sampled_from((1, -1)),
)
@example(tick=0.01, price_ticks=214645, distance=1, n=1, side=1)  # the ETH bid
@example(tick=0.1, price_ticks=951234567, distance=2, n=2, side=-1)
@example(tick=0.001, price_ticks=123456789, distance=0, n=0, side=1)
def test_an_order_fills_exactly_when_the_bar_reaches_n_ticks_through_it(
    tick, price_ticks, distance, n, side
):
    """Prices on the grid (as a CSV gives them): the bar's low (buy) or high (sell) `distance`
    ticks through the order; it fills iff distance >= n."""
    price = on_grid(price_ticks, tick)
    extreme = on_grid(price_ticks - side * distance, tick)
    low, high = (extreme, price + 1000 * tick) if side > 0 else (price - 1000 * tick, extreme)
    low = max(low, tick)
    spec = SymbolSpec(tick_size=tick, lot_size=1.0)
    order = Order("X", side, price, 3.0)
    fills = fill_limit_orders((order,), bar(low, high), spec, Venue(penetration_ticks=n))
    assert (len(fills) == 1) == (distance >= n)


@settings(max_examples=scaled(60))
@given(
    tick=st.sampled_from(TICKS),
    price_ticks=st.integers(1000, 10**8),
    distances=st.tuples(st.integers(-2, 3), st.integers(-2, 3)),
    n=st.integers(0, 2),
)
@example(tick=0.01, price_ticks=214645, distances=(1, -1), n=1)
@example(tick=0.1, price_ticks=42496607, distances=(0, 0), n=0)  # bid 4249660.6 kept on its tick
def test_in_a_backtest_fills_match_the_rule_and_the_invariants_hold(
    tick, price_ticks, distances, n
):
    """A bid and an ask quoted one tick off the close; the next bar reaches `distances` ticks
    through them: the run fills each iff its distance >= n, and check_invariants agrees."""
    close = on_grid(price_ticks, tick)
    bid, ask = on_grid(price_ticks - 1, tick), on_grid(price_ticks + 1, tick)
    low, high = (
        on_grid(price_ticks - 1 - distances[0], tick),
        on_grid(price_ticks + 1 + distances[1], tick),
    )
    low, high = min(low, close), max(high, close)
    frame = pl.DataFrame(
        {
            "ts": [T0, T0 + dt.timedelta(minutes=1)],
            "symbol": ["X", "X"],
            "open": [close, close],
            "high": [close, high],
            "low": [close, low],
            "close": [close, close],
            "volume": [1e6, 1e6],
        }
    ).with_columns(pl.col("ts").cast(pl.Datetime("us")))
    venue = Venue(tick_sizes={"X": tick}, lot_sizes={"X": 1.0}, penetration_ticks=n)
    strat = mmsim.stateless("quote", lambda i: Quotes(((bid, 1.0),), ((ask, 1.0),)))
    result = mmsim.backtest(frame, strat, venue=venue, initial_cash=1e12)
    filled = set(result.fills["side"].to_list())
    assert (1 in filled) == (distances[0] >= n)
    assert (-1 in filled) == (distances[1] >= n)
    assert check_invariants(result, frame) == []


@settings(max_examples=scaled(300))
@given(
    lot=st.sampled_from((1.0, 0.1, 0.001, 1e-5, 0.5)),
    cap_lots=st.integers(0, 10**7),
    sizes=st.lists(st.integers(1, 10**7), min_size=1, max_size=4),
    share=st.sampled_from((0.1, 0.25, 0.3, 0.7, 1.0)),
)
@example(lot=0.1, cap_lots=3, sizes=[1, 1, 1], share=0.1)
@example(lot=0.001, cap_lots=22497289, sizes=[3289, 34823147, 96765366, 2], share=0.03)
@example(lot=1e-05, cap_lots=71151970, sizes=[82229905, 3854, 2], share=0.3)
def test_the_participation_cap_fills_whole_lots_innermost_first(lot, cap_lots, sizes, share):
    """With max_participation x and a bar whose x * volume is `cap_lots` lots (in floats), the
    side fills min(cap_lots, its lots) lots, innermost level first, never a lot more or less."""
    volume = float(Decimal(cap_lots) * Decimal(repr(lot)) / Decimal(repr(share)))
    orders = tuple(Order("X", 1, 100.0 - k, on_grid(q, lot), level=k) for k, q in enumerate(sizes))
    spec = SymbolSpec(tick_size=0.01, lot_size=lot)
    venue = Venue(penetration_ticks=0, max_participation=share)
    fills = fill_limit_orders(orders, bar(50.0, 101.0, volume=volume), spec, venue)
    got = [round(f.qty / lot) for f in fills]
    want, room = [], cap_lots
    for q in sizes:
        take = min(q, room)
        if take <= 0:
            break
        want.append(take)
        room -= take
    assert got == want
    assert [f.level for f in fills] == list(range(len(want)))
    assert all(f.qty == pytest.approx(on_grid(w, lot), rel=1e-12) for f, w in zip(fills, want))


def test_intensity_measures_a_quotes_distance_in_whole_ticks():
    """A bid one tick below an open of 2146.45 is exactly one tick away (δ = 0.01, not the
    float 2146.45 - 2146.44 = 0.0099999999997635): a draw equal to the chance of a one-tick
    quote does not fill it (u < p(δ) is the rule)."""
    assert 2146.45 - 2146.44 != 0.01
    assert quote_distance(2146.45, 2146.44, 1, "price", 0.01) == 0.01
    assert quote_distance(2146.45, 2146.47, -1, "bps", 0.01) == 0.02 / 2146.45 * 1e4
    match = intensity_matching(A=140.0, kappa=1.5, dt=0.005, units="price")
    u = float(fill_probability(match.params, 0.01))
    b = Bar("X", 0, 2146.45, 2147.0, 2146.0, 2146.45, 10.0, features={"u_bid": u, "u_ask": 0.9})
    spec = SymbolSpec(tick_size=0.01, lot_size=0.001)
    resting = (Order("X", 1, 2146.44, 1.0),)
    assert match(resting, (), (b,), ("X",), {"X": spec}, Venue()) == ()
    below = attrs.evolve(b, features={"u_bid": math.nextafter(u, 0.0), "u_ask": 0.9})
    assert len(match(resting, (), (below,), ("X",), {"X": spec}, Venue())) == 1
