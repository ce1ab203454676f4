"""Venue.post_only: "clamp" (the default) moves a quote through the close one tick behind it,
"reject" refuses it, False lets it rest; the comparison with the close is on the tick grid."""

import numpy as np
import polars as pl
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import mmsim
from mmsim.core.orders import Quotes
from mmsim.core.placement import behind_close, crosses, place_quotes
from mmsim.core.venue import SymbolSpec, round_price

SPEC = SymbolSpec(0.01, 0.001)
THROUGH = Quotes(bids=((100.5, 1.0),), asks=((99.5, 1.0),))


def test_quotes_through_the_close_move_one_tick_behind_it_by_default():
    orders, rejected = place_quotes("X", THROUGH, 100.0, SPEC)
    assert [(o.side, o.price, o.qty, o.clamped_from) for o in orders] == [
        (1, 99.99, 1.0, 100.5),
        (-1, 100.01, 1.0, 99.5),
    ]
    assert rejected == ()


def test_quotes_through_the_close_are_rejected_in_reject_mode():
    for mode in ("reject", True):
        orders, rejected = place_quotes("X", THROUGH, 100.0, SPEC, post_only=mode)
        assert orders == ()
        assert [(r.order.side, r.reason) for r in rejected] == [
            (1, "post_only"),
            (-1, "post_only"),
        ]


def test_quotes_through_the_close_rest_without_post_only():
    orders, rejected = place_quotes("X", THROUGH, 100.0, SPEC, post_only=False)
    assert [(o.side, o.price, o.clamped_from) for o in orders] == [
        (1, 100.5, None),
        (-1, 99.5, None),
    ]
    assert rejected == ()


def test_a_quote_behind_the_close_is_left_alone():
    quotes = Quotes(bids=((99.99, 1.0),), asks=((100.01, 1.0),))
    orders, rejected = place_quotes("X", quotes, 100.0, SPEC)
    assert [(o.price, o.clamped_from) for o in orders] == [(99.99, None), (100.01, None)]


def test_crosses_includes_a_quote_at_the_close_and_works_on_arrays():
    assert crosses(1, 100.0, 100.0) and crosses(-1, 100.0, 100.0)
    assert not crosses(1, 99.99, 100.0) and not crosses(-1, 100.01, 100.0)
    assert crosses(1, np.array([99.0, 100.0, 101.0]), 100.0).tolist() == [False, True, True]
    assert crosses(1, np.array([99.0, 100.0, 101.0]), 100.0, 0.01).tolist() == [
        False,
        True,
        True,
    ]


def test_crosses_compares_on_the_tick_grid():
    # 2146.44 + 0.01 is 2146.4500000000003 in floats: on the grid it is the close itself
    close = 2146.44 + 0.01
    assert close != 2146.45
    assert crosses(1, 2146.45, close, 0.01) and crosses(-1, 2146.45, close, 0.01)
    assert not crosses(1, 2146.44, close, 0.01) and not crosses(-1, 2146.46, close, 0.01)
    assert behind_close(1, close, 0.01) == 2146.44
    assert behind_close(-1, close, 0.01) == 2146.46


def test_a_close_between_grid_prices_clamps_to_the_nearest_grid_price_behind_it():
    assert behind_close(1, 100.004, 0.01) == 100.0
    assert behind_close(-1, 100.004, 0.01) == 100.01
    orders, _ = place_quotes("X", THROUGH, 100.004, SPEC)
    assert [o.price for o in orders] == [100.0, 100.01]


def test_a_bid_that_would_clamp_to_zero_is_rejected():
    orders, rejected = place_quotes("X", Quotes(bids=((0.02, 1.0),)), 0.01, SPEC)
    assert orders == () and [r.reason for r in rejected] == ["post_only"]


TICKS = st.sampled_from([0.01, 0.1, 0.001, 0.5, 1e-5, 2.0**-10])


@given(
    tick=TICKS,
    ticks=st.integers(1, 10**9),
    side=st.sampled_from([1, -1]),
    lean=st.integers(0, 50),
)
def test_a_clamped_quote_rests_exactly_one_tick_behind_a_close_on_the_grid(tick, ticks, side, lean):
    close = round_price(ticks * tick, tick, 1)  # a close on the tick grid, as data gives it
    asked = round_price(close + side * lean * tick, tick, side)  # at or through the close
    assume(asked > 0)
    orders, rejected = place_quotes(
        "X",
        Quotes(bids=((asked, 1.0),)) if side > 0 else Quotes(asks=((asked, 1.0),)),
        close,
        SymbolSpec(tick, 1.0),
    )
    if side > 0 and ticks == 1:  # close - tick is 0: no price to move to
        assert [r.reason for r in rejected] == ["post_only"]
        return
    (order,) = orders
    assert order.clamped_from == asked
    assert round((close - order.price) / tick) == side  # exactly one tick behind
    assert not crosses(side, order.price, close, tick)


def test_venue_post_only_defaults_to_clamp_and_names_the_modes():
    assert mmsim.Venue().post_only == "clamp"
    assert mmsim.Venue(post_only=True).post_only == "reject"
    assert mmsim.Venue(post_only=False).post_only is False
    for bad in ("no", 1, None):
        with pytest.raises(ValueError, match="post_only must be 'clamp'.*'reject'.*False"):
            mmsim.Venue(post_only=bad)


def test_engine_follows_the_venue_setting():
    bars = mmsim.synthetic_bars(("ETHUSDT",), days=0.05, interval="1m", seed=1, funding=False)
    above = mmsim.stateless(
        "bid_above_close",
        lambda inputs: Quotes(bids=((inputs.bar.close * 1.001, 0.1),)),
    )
    clamp = mmsim.backtest(bars, above)
    strict = mmsim.backtest(bars, above, venue=mmsim.Venue(post_only="reject"))
    loose = mmsim.backtest(bars, above, venue=mmsim.Venue(post_only=False))
    n = bars.height
    assert strict.rejections.filter(pl.col("reason") == "post_only").height == n
    assert strict.fills.height == 0
    assert strict.symbols["clamped"].sum() == 0
    assert loose.rejections.height == 0
    assert loose.symbols["bid"].null_count() == 0
    assert loose.fills.height > 0  # trade-through fills it when the low runs a tick under it
    tick = clamp.config["specs"]["ETHUSDT"]["tick_size"]
    assert clamp.rejections.height == 0
    assert clamp.symbols["clamped"].to_list() == [1] * n
    behind = clamp.symbols.join(bars.select("ts", "symbol", "close"), on=["ts", "symbol"])
    assert ((behind["close"] - behind["bid"]) / tick).round(6).to_list() == [1.0] * n
    total = clamp.summary.filter(pl.col("symbol") == "TOTAL").row(0, named=True)
    assert (total["clamped"], total["clamped_share"], total["quoting_one_side"]) == (n, 1.0, 1.0)
