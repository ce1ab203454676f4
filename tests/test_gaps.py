"""Holes in time: missing bars are an error unless allowed; allowed, no order rests across one."""

from __future__ import annotations

import datetime as dt

import attrs
import polars as pl
import pytest
from data_support import real

import mmsim
from mmsim.core.orders import MarketOrder, Quotes
from mmsim.testing import check_invariants, has_gaps

T0 = dt.datetime(2024, 1, 1)
FREE = mmsim.Venue(
    maker_fee=0.0,
    taker_fee=0.0,
    tick_sizes={"A": 0.01, "B": 0.01},
    lot_sizes={"A": 0.001, "B": 0.001},
)


def bars(rows, symbol="A", minutes=None):
    """rows: (open, high, low, close) at the given minutes after T0 (default 0, 1, 2, ...)."""
    minutes = list(range(len(rows))) if minutes is None else minutes
    return pl.DataFrame(
        {
            "ts": [T0 + dt.timedelta(minutes=k) for k in minutes],
            "symbol": [symbol] * len(rows),
            "open": [float(r[0]) for r in rows],
            "high": [float(r[1]) for r in rows],
            "low": [float(r[2]) for r in rows],
            "close": [float(r[3]) for r in rows],
            "volume": [100.0] * len(rows),
        }
    ).with_columns(pl.col("ts").cast(pl.Datetime("us")))


def bid_every_bar(offset=0.5, qty=1.0):
    return mmsim.stateless(
        "bid", lambda i: Quotes(((i.bar.close - offset, qty),), ((i.bar.close + offset, qty),))
    )


# minutes 0, 1, 2, then nothing until 10, 11: bars 3..9 are missing for every symbol
HOLE = [0, 1, 2, 10, 11]
# the bar after the hole runs far through both quotes posted at minute 2's close
ROWS = [(100, 100.2, 99.8, 100), (100, 100.2, 99.8, 100), (100, 100.2, 99.8, 100)] + [
    (60, 140, 55, 100),
    (100, 100.2, 99.8, 100),
]


def test_a_hole_where_every_symbol_misses_bars_is_an_error_naming_it():
    frame = pl.concat([bars(ROWS, "A", HOLE), bars(ROWS, "B", HOLE)])
    assert has_gaps(frame)
    with pytest.raises(mmsim.DataError) as err:
        mmsim.backtest(frame, bid_every_bar(), venue=FREE)
    message = str(err.value)
    assert "'A'" in message and "2024-01-01 00:03:00" in message and "7 missing" in message
    assert "allow_gaps=True" in message and "align_bars(" in message
    assert isinstance(err.value, mmsim.BarsError)  # still a bad bars frame for validate_bars


def test_one_symbol_missing_a_bar_is_the_same_error():
    a = bars(ROWS[:4], "A", [0, 1, 2, 3])
    b = bars(ROWS[:3], "B", [0, 2, 3])
    with pytest.raises(mmsim.DataError, match=r"'B'.*2024-01-01 00:01:00.*1 missing"):
        mmsim.backtest(pl.concat([a, b]), bid_every_bar(), venue=FREE)


def test_allowed_an_order_whose_next_bar_is_missing_expires_and_never_fills_later():
    frame = bars(ROWS, "A", HOLE)
    result = mmsim.backtest(frame, bid_every_bar(), venue=FREE, allow_gaps=True)
    after_hole = T0 + dt.timedelta(minutes=10)
    # the quotes of minute 2 rested for minute 3, which does not exist: nothing fills at minute 10
    assert result.fills.filter(pl.col("ts") == after_hole).height == 0
    assert result.symbols.filter(pl.col("ts") == T0 + dt.timedelta(minutes=2))["orders"][0] == 2
    assert result.equity["equity"].to_list() == pytest.approx([100_000.0] * 5)
    assert check_invariants(result, frame) == []


def test_allowed_a_market_order_waits_for_its_symbols_next_bar_and_counts_the_bars():
    """An exit sent at minute 2's close executes at the open of minute 10, 7 bars late."""
    frame = bars([(100, 100.2, 98, 100)] * 3 + [(90, 91, 89, 90), (90, 91, 89, 90)], "A", HOLE)
    buy_then_exit = mmsim.RiskRule(
        "buy_then_exit",
        lambda: 0,
        lambda k, inputs: (
            k + 1,
            mmsim.RiskDecision(
                inputs.orders if k == 0 else (),
                market_orders=(MarketOrder("A", -1, 1.0, "exit"),) if k == 2 else (),
            ),
        ),
    )
    strat = mmsim.stateless("bid", lambda i: Quotes(((99.0, 1.0),), ()))
    result = mmsim.backtest(frame, strat, venue=FREE, risk=buy_then_exit, allow_gaps=True)
    rows = result.fills.select("ts", "side", "price", "reason", "bars_waited").rows()
    assert rows == [
        (T0 + dt.timedelta(minutes=1), 1, 99.0, "quote", 0),
        (T0 + dt.timedelta(minutes=10), -1, 90.0, "exit", 7),
    ]
    assert check_invariants(result, frame) == []


def test_a_fill_across_a_hole_is_a_violation():
    """A run on the full market, doctored to lose the bar before a fill: the fill's order was
    not placed one interval before it."""
    frame = bars(
        [(100, 100.2, 99.8, 100)] * 2 + [(100, 100.2, 99, 100)] + [(100, 100.2, 99.8, 100)]
    )
    result = mmsim.backtest(frame, bid_every_bar(), venue=FREE)
    fill_ts = T0 + dt.timedelta(minutes=2)
    assert result.fills["ts"].to_list() == [fill_ts]
    assert check_invariants(result, frame) == []
    before = pl.col("ts") != T0 + dt.timedelta(minutes=1)
    doctored = attrs.evolve(
        result, equity=result.equity.filter(before), symbols=result.symbols.filter(before)
    )
    violations = check_invariants(doctored, frame.filter(before))
    assert [(v.invariant, v.ts, v.symbol) for v in violations] == [("fill_time", fill_ts, "A")]


# --- real data: Binance's spot trading halt of 24 March 2023, two windows 57 days apart ----


def _halt_day():
    return mmsim.load_bars(
        real("andresciancio_freqtrade__binance_spot_1m_2023"),
        start="2023-03-24 12:00",
        end="2023-03-24 14:30",
    )


def test_real_the_2023_halt_is_an_error_without_allow_gaps():
    bars_ = _halt_day()
    with pytest.raises(mmsim.DataError, match=r"2023-03-24 12:40:00.*80 missing"):
        mmsim.backtest(bars_, mmsim.fixed_spread())


def test_real_across_the_2023_halt_nothing_fills_at_the_first_bar_after_it():
    bars_ = _halt_day()
    result = mmsim.backtest(bars_, mmsim.fixed_spread(), allow_gaps=True)
    reopen = dt.datetime(2023, 3, 24, 14, 0)
    assert result.fills.filter(pl.col("ts") == reopen).height == 0
    assert result.fills.filter(pl.col("ts") > reopen).height > 0  # quoting resumes after it
    assert check_invariants(result, bars_) == []


def test_real_two_windows_weeks_apart():
    folder = real("benicio1007_bot_trading__binance_spot_1m")
    bars_ = mmsim.load_bars(
        [folder / "Q4_2024", folder / "2025"],
        symbols=["BTCUSDT"],
        start="2024-11-04 19:00",
        end="2025-01-01 04:00",
    )
    with pytest.raises(mmsim.DataError, match=r"BTCUSDT.*2024-11-04 20:20:00.*82480 missing"):
        mmsim.backtest(bars_, mmsim.fixed_spread())
    result = mmsim.backtest(bars_, mmsim.fixed_spread(), allow_gaps=True)
    first = dt.datetime(2025, 1, 1, 3, 0)
    assert result.fills.filter(pl.col("ts") == first).height == 0
    step = (
        result.equity.filter(pl.col("ts") == first)["equity"][0]
        - result.equity.filter(pl.col("ts") < first)["equity"][-1]
    )
    # no fill at the jump: only the position carried across it moves equity
    carried = result.symbols.filter(pl.col("ts") < first)["position"][-1]
    moved = (
        result.symbols.filter(pl.col("ts") == first)["mark"][0]
        - result.symbols.filter(pl.col("ts") < first)["mark"][-1]
    )
    assert step == pytest.approx(carried * moved, rel=1e-9, abs=1e-6)
    assert check_invariants(result, bars_) == []
