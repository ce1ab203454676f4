"""Hand-computed runs through the whole step: timing, funding, liquidation, exits, stops, gaps."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

import mmsim
from mmsim.core.orders import Quotes
from mmsim.strategies.base import stateless
from mmsim.testing import assert_invariants

T0 = dt.datetime(2024, 1, 1)
FREE = mmsim.Venue(
    maker_fee=0.0,
    taker_fee=0.0,
    tick_sizes={"A": 0.01, "B": 0.01},
    lot_sizes={"A": 0.001, "B": 0.001},
)


def bars(rows, symbol="A"):
    """rows: (open, high, low, close[, funding_rate]) per minute."""
    return pl.DataFrame(
        {
            "ts": [T0 + dt.timedelta(minutes=k) for k in range(len(rows))],
            "symbol": [symbol] * len(rows),
            "open": [float(r[0]) for r in rows],
            "high": [float(r[1]) for r in rows],
            "low": [float(r[2]) for r in rows],
            "close": [float(r[3]) for r in rows],
            "volume": [100.0] * len(rows),
            "funding_rate": [float(r[4]) if len(r) > 4 else 0.0 for r in rows],
        }
    ).with_columns(pl.col("ts").cast(pl.Datetime("us")))


def script(plan):
    """A strategy that quotes plan[k] = (bid, ask, qty) at the k-th bar close."""

    def init():
        return 0

    def update(k, inputs):
        bid, ask, qty = plan[k] if k < len(plan) else (None, None, 0)
        return k + 1, Quotes(((bid, qty),) if bid else (), ((ask, qty),) if ask else (), None)

    return mmsim.Strategy("script", init, update)


def test_quotes_decided_at_a_close_rest_during_the_next_bar_only():
    frame = bars([(100, 100.5, 99.5, 100), (100, 100.2, 98.0, 99), (99, 99.5, 97.0, 98)])
    result = mmsim.backtest(frame, script([(99.0, None, 1.0)]), venue=FREE)
    # the bid posted at bar 0's close fills in bar 1 (low 98 < 99 - 0.01), not again in bar 2
    assert result.fills.select("ts", "side", "price", "qty").rows() == [
        (T0 + dt.timedelta(minutes=1), 1, 99.0, 1.0)
    ]
    assert result.symbols["bid"].to_list() == [99.0, None, None]
    assert result.symbols["position"].to_list() == [0.0, 1.0, 1.0]
    assert result.equity["equity"].to_list() == pytest.approx([10_000.0 * 10, 100_000.0, 99_999.0])


def test_funding_pays_minus_position_times_mark_times_rate():
    frame = bars([(100, 101, 99, 100), (100, 101, 98, 100), (100, 111, 99, 110, 0.001)])
    result = mmsim.backtest(frame, script([(99.0, None, 2.0)]), venue=FREE)
    assert result.equity["funding"].to_list() == pytest.approx([0.0, 0.0, -2 * 110 * 0.001])
    assert_invariants(result, frame)


def test_liquidation_closes_everything_at_the_close_with_the_taker_fee_and_halts():
    venue = mmsim.Venue(
        maker_fee=0.0,
        taker_fee=0.001,
        maintenance_margin_rate=0.1,
        tick_sizes={"A": 0.01},
        lot_sizes={"A": 0.001},
    )
    frame = bars([(100, 101, 99, 100), (100, 100, 98, 99), (99, 99, 80, 85), (85, 86, 84, 85)])
    result = mmsim.backtest(
        frame, script([(99.5, None, 50.0), (None, None, 0)]), venue=venue, initial_cash=1_000.0
    )
    # long 50 @ 99.5, then close 85: equity 1000 - 725 = 275, margin 50*85*0.1/275 = 1.55 >= 1
    liq = result.fills.filter(pl.col("reason") == "liquidation").row(0, named=True)
    assert (liq["side"], liq["price"], liq["qty"], liq["liquidity"]) == (-1, 85.0, 50.0, "taker")
    assert liq["fee"] == pytest.approx(85 * 50 * 0.001)
    assert result.halted.startswith("liquidation")
    assert result.equity["halted"].to_list() == [False, False, True, True]
    assert result.final_equity == pytest.approx(1_000 - 50 * 14.5 - 4.25)
    assert_invariants(result, frame)


def test_emergency_exit_sells_at_the_next_open_with_slippage_and_taker_fee():
    venue = mmsim.Venue(
        maker_fee=0.0,
        taker_fee=0.0005,
        market_slippage_bps=10.0,
        tick_sizes={"A": 0.01},
        lot_sizes={"A": 0.001},
    )
    frame = bars(
        [
            (100, 101, 99, 100),
            (100, 100, 98, 99),
            (99, 99, 90, 92),
            (93, 94, 92, 93),
            (93, 94, 92, 93),
        ]
    )
    plan = [(99.5, None, 100.0)] + [(80.0, None, 1.0)] * 4
    result = mmsim.backtest(
        frame,
        script(plan),
        venue=venue,
        initial_cash=10_000.0,
        risk=mmsim.emergency_exit(max_drawdown=0.05),
    )
    exit_fill = result.fills.filter(pl.col("liquidity") == "taker").row(0, named=True)
    # drawdown 7.5% at bar 2's close -> market sell at bar 3's open 93 slipped 10 bps
    assert exit_fill["ts"] == T0 + dt.timedelta(minutes=3)
    assert exit_fill["price"] == pytest.approx(93 * 0.999)
    assert exit_fill["reason"].startswith("emergency_exit")
    assert result.symbols["orders"].to_list()[2] == 0  # no quoting on the exit bar
    assert result.events.height == 1 and result.halted is None
    assert_invariants(result, frame)


def test_early_stop_flattens_then_halts_and_trades_no_more():
    frame = bars(
        [
            (100, 101, 99, 100),
            (100, 100, 98, 99),
            (99, 99, 90, 90),
            (91, 92, 90, 91),
            (91, 92, 80, 91),
        ]
    )
    plan = [(99.5, None, 100.0)] + [(85.0, None, 1.0)] * 4
    result = mmsim.backtest(
        frame,
        script(plan),
        venue=FREE,
        initial_cash=10_000.0,
        risk=mmsim.early_stop(min_equity_fraction=0.95),
    )
    assert result.halted.startswith("early_stop")
    assert result.fills["reason"].to_list()[-1].startswith("early_stop")
    assert result.symbols["position"].to_list()[-1] == 0.0
    assert (
        result.fills.filter(pl.col("ts") == T0 + dt.timedelta(minutes=4)).height == 0
    )  # bid at 85 would have filled
    assert_invariants(result, frame)


def test_a_symbol_missing_a_bar_neither_quotes_nor_fills_and_keeps_its_mark():
    a = bars([(100, 101, 99, 100), (100, 101, 98, 100), (100, 101, 98, 100)])
    b = bars([(10, 10.1, 9.9, 10), (10, 10.1, 9.0, 10)], symbol="B")
    b_gap = b.filter(pl.col("ts") != T0 + dt.timedelta(minutes=1))
    frame = pl.concat([a, b_gap])
    with pytest.raises(mmsim.BarsError, match="different timestamp grids"):
        mmsim.backtest(frame, script([(99.5, None, 1.0)] * 3), venue=FREE)
    strat = stateless("q", lambda i: Quotes(((i.bar.close * 0.99, 1.0),), (), None))
    result = mmsim.backtest(frame, strat, venue=FREE, allow_gaps=True)
    b_rows = result.symbols.filter(pl.col("symbol") == "B")
    assert b_rows["mark"].to_list() == [10.0, 10.0, 10.0]
    assert b_rows["orders"].to_list() == [1, 0, 0]  # no bar at minute 1: nothing posted there
    assert (
        result.fills.filter(pl.col("symbol") == "B").height == 0
    )  # its bid expired with the missing bar


def test_per_symbol_strategies_must_cover_every_symbol():
    frame = pl.concat([bars([(100, 101, 99, 100)] * 2), bars([(10, 11, 9, 10)] * 2, "B")])
    with pytest.raises(ValueError, match=r"no strategy for symbol\(s\) \['B'\]"):
        mmsim.backtest(frame, {"A": mmsim.fixed_spread()})
    with pytest.raises(ValueError, match="not in the bars"):
        mmsim.backtest(
            frame, {"A": mmsim.fixed_spread(), "B": mmsim.fixed_spread(), "C": mmsim.fixed_spread()}
        )


def test_result_folder_round_trips_and_is_written_atomically(tmp_path):
    frame = bars([(100, 101, 99, 100), (100, 101, 98, 100)])
    result = mmsim.backtest(frame, mmsim.fixed_spread(half_spread_bps=50), venue=FREE)
    out = result.save(tmp_path / "run")
    back = mmsim.load_result(out)
    assert back.equity.equals(result.equity) and back.fills.equals(result.fills)
    assert back.config["initial_cash"] == result.config["initial_cash"]
    with pytest.raises(FileExistsError):
        result.save(tmp_path / "run")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]  # no temporary folder left behind


def test_a_halt_cancels_the_quotes_a_rule_kept():
    """A user's rule that halts but returns its orders: the engine posts none of them."""
    halt_at_second_close = mmsim.RiskRule(
        "halt_keeping_orders",
        lambda: 0,
        lambda k, inputs: (
            k + 1,
            mmsim.RiskDecision(inputs.orders, halt="stop" if k >= 1 else None),
        ),
    )
    frame = bars(
        [(100, 101, 99, 100), (100, 101, 99, 100), (100, 101, 90, 100), (100, 101, 90, 100)]
    )
    result = mmsim.backtest(
        frame, script([(99.5, None, 1.0)] * 4), venue=FREE, risk=halt_at_second_close
    )
    assert result.halted == "stop"
    assert result.symbols["orders"].to_list() == [1, 0, 0, 0]
    assert result.fills.filter(pl.col("ts") >= T0 + dt.timedelta(minutes=2)).height == 0
    assert_invariants(result, frame)
