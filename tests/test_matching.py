"""The bar fill rule: trade-through by n ticks, fill at the limit, volume cap, market orders."""

from __future__ import annotations

import pytest

from mmsim.core.bars import Bar
from mmsim.core.matching import fill_limit_orders, fill_market_orders, match_bar
from mmsim.core.orders import MarketOrder, Order
from mmsim.core.venue import SymbolSpec, Venue

SPEC = SymbolSpec(tick_size=0.1, lot_size=0.01)
BAR = Bar("A", 0, open=100.0, high=101.0, low=99.0, close=100.5, volume=10.0)


def test_buy_fills_when_low_trades_through_by_one_tick():
    venue = Venue(maker_fee=0.0002)
    (fill,) = fill_limit_orders((Order("A", 1, 99.1, 2.0),), BAR, SPEC, venue)
    assert (fill.side, fill.price, fill.qty, fill.liquidity) == (1, 99.1, 2.0, "maker")
    assert fill.fee == pytest.approx(99.1 * 2.0 * 0.0002)


def test_buy_at_the_low_does_not_fill_with_one_tick_penetration():
    assert fill_limit_orders((Order("A", 1, 99.0, 1.0),), BAR, SPEC, Venue()) == ()
    # one tick of 0.1 above the low is not enough either when two ticks are required
    assert (
        fill_limit_orders((Order("A", 1, 99.1, 1.0),), BAR, SPEC, Venue(penetration_ticks=2)) == ()
    )


def test_touch_fills_with_zero_penetration():
    fills = fill_limit_orders(
        (Order("A", 1, 99.0, 1.0), Order("A", -1, 101.0, 1.0)),
        BAR,
        SPEC,
        Venue(penetration_ticks=0),
    )
    assert [(f.side, f.price) for f in fills] == [(1, 99.0), (-1, 101.0)]


def test_sell_fills_when_high_trades_through_and_never_at_the_close():
    (fill,) = fill_limit_orders((Order("A", -1, 100.9, 1.0),), BAR, SPEC, Venue())
    assert fill.price == 100.9 != BAR.close
    assert fill_limit_orders((Order("A", -1, 101.0, 1.0),), BAR, SPEC, Venue()) == ()


def test_a_quote_the_market_gapped_through_fills_at_its_price_outside_the_bar():
    # the bar opened and stayed below the bid: the price moved through the resting quote
    # between the close it was placed at and this open, so it trades at its own price
    bid, ask = Order("A", 1, 102.0, 1.0), Order("A", -1, 98.0, 1.0)
    fills = fill_limit_orders((bid, ask), BAR, SPEC, Venue())
    assert [(f.side, f.price) for f in fills] == [(1, 102.0), (-1, 98.0)]
    assert fills[0].price > BAR.high and fills[1].price < BAR.low


def test_rebate_is_a_negative_fee():
    (fill,) = fill_limit_orders((Order("A", 1, 99.5, 1.0),), BAR, SPEC, Venue(maker_fee=-0.0001))
    assert fill.fee == pytest.approx(-0.00995)


def test_participation_cap_fills_inner_levels_first_and_cancels_the_rest():
    orders = (Order("A", 1, 99.5, 3.0, level=0), Order("A", 1, 99.3, 3.0, level=1))
    fills = fill_limit_orders(orders, BAR, SPEC, Venue(max_participation=0.4))  # 4.0 of volume 10
    assert [(f.level, f.qty) for f in fills] == [(0, 3.0), (1, 1.0)]


def test_market_orders_fill_at_the_slipped_open_with_the_taker_fee():
    venue = Venue(taker_fee=0.0005, market_slippage_bps=10.0)
    buy, sell = fill_market_orders(
        (MarketOrder("A", 1, 2.0, "exit"), MarketOrder("A", -1, 1.0, "exit")), BAR, venue
    )
    assert buy.price == pytest.approx(100.1) and sell.price == pytest.approx(99.9)
    assert buy.fee == pytest.approx(100.1 * 2.0 * 0.0005)
    assert (buy.liquidity, buy.reason) == ("taker", "exit")


def test_a_symbol_without_a_bar_fills_nothing():
    fills = match_bar(
        (Order("A", 1, 99.5, 1.0),),
        (MarketOrder("A", 1, 1.0),),
        (None,),
        ("A",),
        {"A": SPEC},
        Venue(),
    )
    assert fills == ()
