"""Trade-level matching: orders resting in a bar fill from that bar's prints of the tape."""

from __future__ import annotations

import attrs
import polars as pl
import pytest
from conftest import scaled
from hypothesis import given, settings
from hypothesis import strategies as st

import mmsim
from mmsim.core.bars import Bar
from mmsim.core.orders import Order
from mmsim.core.trade_matching import slice_tape, trade_limit_fills, trade_matching
from mmsim.core.venue import SymbolSpec, Venue
from mmsim.testing import REGIMES, has_gaps
from mmsim.testing.markets import market_makers, market_specs, risk_rules, venues
from mmsim.testing.tapes import tape_from_bars

MINUTE = 60_000_000
SPEC = SymbolSpec(tick_size=0.01, lot_size=0.001)
VENUE = Venue(maker_fee=0.0002)


def tape(*prints) -> pl.DataFrame:
    """Prints (seconds into the first minute, price, qty, aggressor side) of BTCUSD."""
    return pl.DataFrame(
        {
            "ts": [int(s * 1e6) for s, *_ in prints],
            "symbol": "BTCUSD",
            "price": [p for _, p, _, _ in prints],
            "qty": [q for *_, q, _ in prints],
            "side": [d for *_, d in prints],
        },
        schema_overrides={"side": pl.Int8},
    ).with_columns(pl.from_epoch("ts", time_unit="us"))


def bar(ts: int = 0) -> Bar:
    return Bar("BTCUSD", ts, 100.0, 101.0, 99.0, 100.0, 10.0)


def fills(prints, orders, queue_ahead=0.5):
    sliced = slice_tape(tape(*prints), "1m")
    return trade_limit_fills(tuple(orders), bar(), SPEC, VENUE, sliced, queue_ahead)


def test_bid_fills_from_sell_prints_below_it_up_to_their_size():
    got = fills([(1, 99.98, 0.3, -1), (2, 99.97, 0.2, -1)], [Order("BTCUSD", 1, 99.99, 1.0)])
    assert [(f.price, f.qty) for f in got] == [(99.99, 0.5)]
    assert got[0].fee == pytest.approx(99.99 * 0.5 * 0.0002)


def test_buy_prints_never_fill_a_bid_and_sell_prints_never_fill_an_ask():
    got = fills(
        [(1, 99.0, 5.0, 1), (2, 101.0, 5.0, -1)],
        [Order("BTCUSD", 1, 100.0, 1.0), Order("BTCUSD", -1, 100.5, 1.0)],
    )
    assert got == ()


def test_prints_at_the_price_fill_only_the_share_not_queued_ahead():
    order = [Order("BTCUSD", -1, 100.01, 1.0)]
    prints = [(1, 100.01, 0.8, 1)]
    assert [f.qty for f in fills(prints, order, queue_ahead=0.75)] == [0.2]
    assert fills(prints, order, queue_ahead=1.0) == ()
    assert [f.qty for f in fills(prints, order, queue_ahead=0.0)] == [0.8]


def test_price_equality_is_on_the_tick_grid_not_in_floats():
    # 100.03 - 0.01 - 0.01 is 100.00999999999999 in floats: still the price 100.01
    order = [Order("BTCUSD", -1, 100.03 - 0.01 - 0.01, 1.0)]
    assert [f.qty for f in fills([(1, 100.01, 0.5, 1)], order, queue_ahead=0.0)] == [0.5]
    assert fills([(1, 100.01, 0.5, 1)], order, queue_ahead=1.0) == ()


def test_one_print_fills_the_best_bid_first_and_never_more_than_it_traded():
    orders = [Order("BTCUSD", 1, 99.98, 1.0, level=1), Order("BTCUSD", 1, 99.99, 1.0, level=0)]
    got = fills([(1, 99.90, 1.5, -1)], orders)
    assert [(f.level, f.qty) for f in got] == [(0, 1.0), (1, 0.5)]
    assert sum(f.qty for f in got) == 1.5


def test_a_print_between_two_bids_fills_only_the_one_above_it():
    orders = [Order("BTCUSD", 1, 99.98, 1.0, level=1), Order("BTCUSD", 1, 100.0, 1.0, level=0)]
    got = fills([(1, 99.99, 5.0, -1)], orders)
    assert [(f.level, f.qty) for f in got] == [(0, 1.0)]


def test_prints_fill_in_time_order():
    # the first print reaches only the 100.00 bid; the second, lower, then fills the 99.98 bid
    orders = [Order("BTCUSD", 1, 100.0, 1.0, level=0), Order("BTCUSD", 1, 99.98, 1.0, level=1)]
    got = fills([(1, 99.99, 1.0, -1), (2, 99.90, 1.0, -1)], orders, queue_ahead=0.0)
    assert [(f.level, f.qty) for f in got] == [(0, 1.0), (1, 1.0)]
    # the other way round, the low print goes to the best bid and the later one finds no order
    got = fills([(1, 99.90, 1.0, -1), (2, 99.99, 1.0, -1)], orders, queue_ahead=0.0)
    assert [(f.level, f.qty) for f in got] == [(0, 1.0)]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (pl.col("ts").reverse(), r"row 1: .*earlier than the previous print"),
        (pl.Series([1, 0], dtype=pl.Int8).alias("side"), r"row 1: side 0 .*\+1 or -1"),
        (pl.Series([99.0, float("nan")]).alias("price"), r"row 1: price nan"),
        (pl.Series([1.0, 0.0]).alias("qty"), r"row 1: qty 0\.0"),
    ],
)
def test_a_tape_out_of_time_order_or_with_a_bad_print_is_refused(change, message):
    # the frame's order is the order prints fill in: a tape out of order would fill otherwise
    prints = tape((1, 99.0, 1.0, -1), (2, 99.5, 1.0, 1)).with_columns(change)
    with pytest.raises(ValueError, match="symbol 'BTCUSD' " + message):
        trade_matching(prints, interval="1m")


def test_the_stage_holds_the_tape_cut_per_bar_and_side_before_the_fold():
    prints = tape((1, 99.0, 1.0, -1), (2, 99.5, 2.0, 1), (3, 98.0, 0.5, -1), (61, 99.1, 0.1, 1))
    match = trade_matching(prints, interval="1m")
    assert match.fill_limits.tape.slices == {
        ("BTCUSD", 0): ((99.0, 98.0), (1.0, 0.5), (99.5,), (2.0,)),
        ("BTCUSD", MINUTE): ((), (), (99.1,), (0.1,)),
    }
    assert match.fill_limits.tape.bar("BTCUSD", 5 * MINUTE) == ((), (), (), ())


def test_partial_fills_are_rounded_down_to_the_lot():
    got = fills([(1, 99.0, 0.12345, -1)], [Order("BTCUSD", 1, 99.5, 1.0)])
    assert [f.qty for f in got] == [0.123]


def test_prints_of_the_next_bar_do_not_fill_this_bar():
    got = fills([(60, 99.0, 5.0, -1), (61, 99.0, 5.0, -1)], [Order("BTCUSD", 1, 99.5, 1.0)])
    assert got == ()


def test_a_bar_off_the_tapes_grid_is_an_error_not_an_empty_bar():
    sliced = slice_tape(tape((1, 99.0, 1.0, -1)), "1h")
    with pytest.raises(ValueError, match="not on the tape's bar grid"):
        trade_limit_fills((Order("BTCUSD", 1, 99.5, 1.0),), bar(MINUTE), SPEC, VENUE, sliced, 0.5)
    shifted = slice_tape(tape((1, 99.0, 1.0, -1)), "1h", origin="2024-01-01T00:00:00")
    assert shifted.bar("BTCUSD", 0)[0] == (99.0,)


def test_queue_share_outside_zero_one_is_refused():
    with pytest.raises(
        ValueError, match=r"queue_ahead must be a finite number in \[0, 1\], got 1\.5"
    ):
        trade_matching(tape((1, 100.0, 1.0, 1)), interval="1m", queue_ahead=1.5)


def test_backtest_with_trade_matching_books_partial_fills_in_the_ledger():
    bars = pl.DataFrame(
        {
            "ts": [0, MINUTE, 2 * MINUTE],
            "symbol": "BTCUSD",
            "open": [100.0, 100.0, 100.0],
            "high": [100.0, 100.2, 100.0],
            "low": [100.0, 99.8, 100.0],
            "close": [100.0, 100.0, 100.0],
            "volume": [1.0, 1.0, 1.0],
        }
    ).with_columns(pl.from_epoch("ts", time_unit="us"))
    prints = tape((61, 99.8, 0.25, -1), (62, 100.2, 0.5, 1))
    venue = Venue(tick_sizes={"BTCUSD": 0.01}, lot_sizes={"BTCUSD": 0.001})
    strategy = mmsim.fixed_spread(half_spread_bps=10, order_value=100.0)
    result = mmsim.backtest(
        bars, strategy, venue=venue, matching=trade_matching(prints, interval="1m")
    )
    assert result.fills.select("side", "price", "qty").rows() == [(1, 99.9, 0.25), (-1, 100.1, 0.5)]
    assert result.symbols["position"].to_list() == [0.0, -0.25, -0.25]


def test_quotes_exactly_at_the_bars_low_and_high_fill_on_the_tape_as_on_touch():
    # the property's boundary, pinned: bid 99.9 and ask 100.1 are the next bar's low and high
    bars = pl.DataFrame(
        {
            "ts": [0, MINUTE, 2 * MINUTE],
            "symbol": "BTCUSD",
            "open": [100.0, 100.0, 100.0],
            "high": [100.0, 100.1, 100.0],
            "low": [100.0, 99.9, 100.0],
            "close": [100.0, 100.0, 100.0],
            "volume": [1.0, 1.0, 1.0],
        }
    ).with_columns(pl.from_epoch("ts", time_unit="us"))
    venue = Venue(tick_sizes={"BTCUSD": 0.01}, lot_sizes={"BTCUSD": 0.001}, penetration_ticks=0)
    strategy = mmsim.fixed_spread(half_spread_bps=10, order_value=100.0)
    by_bars = mmsim.backtest(bars, strategy, venue=venue)
    by_tape = mmsim.backtest(
        bars,
        strategy,
        venue=venue,
        matching=trade_matching(tape_from_bars(bars), interval="1m", queue_ahead=0.0),
    )
    assert by_bars.fills.select("side", "price").rows() == [(1, 99.9), (-1, 100.1)]
    assert by_tape.fills.equals(by_bars.fills)


@settings(max_examples=scaled(40))
@given(
    market=market_specs(regimes=REGIMES, intervals=("1m", "1h"), max_bars=30),
    strategy=market_makers(),
    risk=st.one_of(st.just(mmsim.chain()), risk_rules()),
    data=st.data(),
)
def test_a_tape_touching_each_bars_prices_fills_as_the_bar_rule_on_touch(
    market, strategy, risk, data
):
    """On a tape that prints each bar's open, high, low and close (both sides, unlimited size,
    nothing queued ahead), trade-level fills equal the bar rule with penetration_ticks=0."""
    bars = market.bars()
    venue = attrs.evolve(
        data.draw(venues(bars=bars), label="venue"), penetration_ticks=0, max_participation=None
    )
    common = dict(risk=risk, venue=venue, allow_gaps=has_gaps(bars))
    by_bars = mmsim.backtest(bars, strategy, **common)
    by_tape = mmsim.backtest(
        bars,
        strategy,
        matching=trade_matching(
            tape_from_bars(bars), interval=market.interval, queue_ahead=0.0, origin=market.start
        ),
        **common,
    )
    assert by_tape.fills.equals(by_bars.fills)
    assert by_tape.equity.equals(by_bars.equity)
