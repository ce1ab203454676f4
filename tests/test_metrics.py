"""Metrics: each figure against a plain-Python reference or a case worked by hand."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

import mmsim
from mmsim.results.metrics import (
    DAY_US,
    DEFINITIONS,
    _empty_rejections,
    annual_return,
    compare,
    fill_rates,
    markouts,
    max_drawdown,
    max_drawdown_bars,
    performance,
    periods_per_year,
    risk_events,
    round_trips_expr,
    sharpe_ratio,
    sortino_ratio,
    summarize,
    trading_stats,
)
from mmsim.results.result import POSTED_SCHEMA
from mmsim.testing.markets import runs

MINUTE = 60_000_000
equities = st.lists(st.floats(1.0, 1e6), min_size=1, max_size=60)


@given(equities, st.floats(1.0, 1e6))
def test_sharpe_and_sortino_match_a_numpy_reference(values, cash):
    """Sharpe = mean/std and Sortino = mean/sqrt(mean(min(r,0)^2)) of returns from initial cash."""
    path = np.array([cash, *values])
    r = path[1:] / path[:-1] - 1
    series = pl.Series(values)
    sharpe = sharpe_ratio(series, MINUTE, cash)
    sortino = sortino_ratio(series, MINUTE, cash)
    k = math.sqrt(periods_per_year(MINUTE))
    if len(r) < 2 or r.std(ddof=1) == 0:
        assert sharpe is None
    else:
        assert sharpe == pytest.approx(r.mean() / r.std(ddof=1) * k, rel=1e-9, abs=1e-9)
    downside = math.sqrt(np.mean(np.minimum(r, 0) ** 2)) if len(r) else 0.0
    if len(r) < 2 or downside == 0:
        assert sortino is None
    else:
        assert sortino == pytest.approx(r.mean() / downside * k, rel=1e-9, abs=1e-9)


@given(equities, st.floats(1.0, 1e6))
def test_drawdown_depth_and_duration_match_a_loop(values, cash):
    """Depth is the largest 1 - e/peak and duration the longest run of bars below a peak."""
    peak, depth, run, longest = cash, 0.0, 0, 0
    for e in values:
        peak = max(peak, e)
        depth = max(depth, 1 - e / peak)
        run = run + 1 if e < peak else 0
        longest = max(longest, run)
    series = pl.Series(values)
    assert max_drawdown(series, cash) == pytest.approx(depth, abs=1e-12)
    assert max_drawdown_bars(series, cash) == longest


def test_annual_return_compounds_on_a_365_day_year():
    assert annual_return(0.10, 365, DAY_US) == pytest.approx(0.10)
    assert annual_return(0.21, 730, DAY_US) == pytest.approx(0.10)
    assert annual_return(-1.0, 10, DAY_US) == -1.0
    assert annual_return(0.5, 1, MINUTE) is None  # 1.5^525600 overflows: too short to annualise


def test_performance_of_a_dip_and_recovery():
    # 100 -> 90 -> 95 -> 110 on daily bars, from 100 cash
    perf = performance(pl.Series([100.0, 90.0, 95.0, 110.0]), 100.0, DAY_US)
    assert perf["return"] == pytest.approx(0.10)
    assert perf["max_drawdown"] == pytest.approx(0.10)
    assert perf["max_drawdown_bars"] == 2 and perf["max_drawdown_days"] == 2.0
    assert perf["calmar"] == pytest.approx(perf["annual_return"] / 0.10)


def _round_trips_reference(sides, qtys):
    pos, trips = 0.0, 0
    for s, q in zip(sides, qtys, strict=True):
        after = pos + s * q
        if pos != 0 and (abs(after) <= 1e-9 * q or (after > 0) != (pos > 0)):
            trips += 1
        pos = 0.0 if abs(after) <= 1e-9 * q else after
    return trips


@given(st.lists(st.tuples(st.sampled_from([1, -1]), st.sampled_from([0.5, 1.0, 2.0])), max_size=40))
def test_round_trips_count_returns_to_flat_and_flips(trades):
    """A fill that closes or flips a position completes one round trip."""
    sides = [s for s, _ in trades]
    qtys = [q for _, q in trades]
    fills = pl.DataFrame(
        {"symbol": ["X"] * len(trades), "side": sides, "qty": qtys},
        schema={"symbol": pl.String, "side": pl.Int8, "qty": pl.Float64},
    )
    got = fills.select(round_trips_expr().sum()).item() if trades else 0
    assert got == _round_trips_reference(sides, qtys)


@pytest.mark.parametrize(
    "horizons, said",
    [((0, 0), "distinct"), ((5, 1, 5), r"\[5\] twice"), ((-1,), ">= 0"), ((2.5,), "whole")],
)
def test_markout_horizons_are_distinct_whole_bars(horizons, said):
    """A horizon given twice would name one column twice (found by the randomized profile: the
    summary raised Polars' duplicate-name error)."""
    r = mmsim.backtest(mmsim.synthetic_bars(("BTCUSDT",), days=0.05, seed=1), mmsim.fixed_spread())
    with pytest.raises(ValueError, match=said):
        markouts(r.fills, r.symbols, horizons)
    with pytest.raises(ValueError, match=said):
        summarize(r.equity, r.symbols, r.fills, 100_000.0, 60_000_000, horizons=horizons)


@settings(max_examples=40)
@given(runs(max_bars=30), st.lists(st.integers(0, 8), min_size=1, max_size=3, unique=True))
def test_markouts_match_a_loop_over_fills(result, horizons):
    """Each maker fill's markout is side * (mark h bars after its bar - price), averaged."""
    marks = {}
    for s, frame in result.symbols.partition_by("symbol", as_dict=True).items():
        marks[s[0]] = (frame["ts"].to_list(), frame["mark"].to_list())
    expected: dict = {}
    for f in result.fills.filter(pl.col("liquidity") == "maker").iter_rows(named=True):
        ts, m = marks[f["symbol"]]
        k = ts.index(f["ts"])
        for h in horizons:
            if k + h < len(m):
                bps = f["side"] * (m[k + h] - f["price"]) / f["price"] * 1e4
                expected.setdefault((f["symbol"], f["side"], h), []).append(bps)
    got = markouts(result.fills, result.symbols, horizons)
    assert got.height == len(expected)
    for row in got.iter_rows(named=True):
        values = expected[(row["symbol"], row["side"], row["horizon"])]
        assert row["fills"] == len(values)
        assert row["markout_bps"] == pytest.approx(sum(values) / len(values), rel=1e-9, abs=1e-9)


@settings(max_examples=40)
@given(runs(max_bars=30))
def test_fill_rates_count_every_posted_order_that_met_a_bar(result):
    """Orders posted = the engine's per-bar order counts, less the last bar's and those of a bar
    before a hole in time (they meet no bar); maker fills never exceed the orders posted at
    their side and level."""
    rates = fill_rates(result.fills, result.posted)
    interval = pl.duration(microseconds=result.config["interval_us"])
    met = (pl.col("ts") + interval).is_in(result.equity["ts"].implode())
    resting = result.symbols.filter(met)["orders"].sum()
    assert int(rates["orders"].sum()) == resting
    assert (rates["fills"] <= rates["orders"]).all()
    maker = result.fills.filter(pl.col("liquidity") == "maker").height
    assert int(rates["fills"].sum()) == maker


def test_quoting_shares_count_bars_with_both_sides_one_side_and_none():
    symbols = pl.DataFrame(
        {
            "ts": [0, 1, 2, 3, 0, 1, 2, 3],
            "symbol": ["A"] * 4 + ["B"] * 4,
            "position": [0.0, 1.0, 1.0, -1.0, 0.0, 0.0, 0.0, 0.0],
            "mark": [1.5] * 8,
            "bid": [1.0, None, 1.0, None, None, None, None, 1.0],
            "ask": [2.0, 2.0, 2.0, None, None, None, None, 2.0],
            "orders": [2, 1, 2, 0, 0, 0, 0, 2],
            "clamped": [0, 1, 1, 0, 0, 0, 0, 0],
        }
    )
    equity = pl.DataFrame({"equity": [1.0] * 4})
    fills = pl.DataFrame(
        schema={
            "ts": pl.Int64,
            "symbol": pl.String,
            "side": pl.Int8,
            "price": pl.Float64,
            "qty": pl.Float64,
            "fee": pl.Float64,
            "liquidity": pl.String,
        }
    )
    posted = pl.DataFrame(schema=POSTED_SCHEMA)
    table = trading_stats(equity, symbols, fills, _empty_rejections(), posted)
    rows = {r["symbol"]: r for r in table.iter_rows(named=True)}
    a, b, total = rows["A"], rows["B"], rows["TOTAL"]
    assert (a["quoting_both"], a["quoting_one_side"], a["quoting_none"]) == (0.5, 0.25, 0.25)
    assert (b["quoting_both"], b["quoting_one_side"], b["quoting_none"]) == (0.25, 0.0, 0.75)
    assert (a["clamped"], a["clamped_share"]) == (2, 0.4)
    assert (b["clamped"], b["clamped_share"]) == (0, 0.0)
    assert (total["quoting_both"], total["clamped"], total["clamped_share"]) == (0.375, 2, 2 / 7)


def _exit_run():
    bars = mmsim.synthetic_bars(("BTCUSDT",), days=1, interval="1m", seed=3)
    return mmsim.backtest(
        bars,
        mmsim.fixed_spread(half_spread_bps=2, order_value=40_000.0),
        risk=mmsim.basic_risk(
            max_leverage=None, emergency_drawdown=0.001, stop_equity_fraction=0.99
        ),
        venue=mmsim.Venue(maker_fee=-0.0001, taker_fee=0.0005),
        initial_cash=100_000.0,
    )


def test_risk_events_list_exits_and_stops_with_their_bars():
    result = _exit_run()
    events = risk_events(result.events, result.equity)
    assert events.height == result.events.height > 0
    assert set(events["kind"]) <= {"emergency_exit", "early_stop", "liquidation"}
    for row in events.iter_rows(named=True):
        assert result.equity["ts"][row["bar"]] == row["ts"]
        assert row["reason"].startswith(row["kind"])
    summary = result.summary.filter(pl.col("symbol") == "TOTAL").row(0, named=True)
    assert summary["emergency_exits"] == (events["kind"] == "emergency_exit").sum()
    assert summary["early_stops"] == (events["kind"] == "early_stop").sum()
    taker = result.fills.filter(pl.col("liquidity") == "taker")
    assert taker.height > 0 and summary["taker_fills"] == taker.height
    assert summary["rebates"] > 0  # the venue pays makers


def test_summary_keeps_its_first_columns_and_adds_the_rest():
    result = _exit_run()
    first = [
        "symbol",
        "pnl",
        "realized",
        "unrealized",
        "fees",
        "funding",
        "fills",
        "volume",
        "final_position",
        "max_drawdown",
        "sharpe",
    ]
    assert result.summary.columns[: len(first)] == first
    for column in (
        "sortino",
        "calmar",
        "spread_capture",
        "inventory_pnl",
        "maker_fees",
        "rebates",
        "taker_fees",
        "turnover",
        "fill_rate",
        "round_trips",
        "quoted_spread_bps",
        "captured_spread_bps",
        "markout_1_bps",
        "markout_60_bps",
        "quoting_both",
        "quoting_one_side",
        "quoting_none",
        "clamped",
        "clamped_share",
        "max_leverage",
        "max_margin_ratio",
        "emergency_exits",
    ):
        assert column in result.summary.columns, column
    total = result.summary.filter(pl.col("symbol") == "TOTAL").row(0, named=True)
    assert total["pnl"] == pytest.approx(result.final_equity - 100_000.0, abs=1e-6)
    assert total["volume"] == pytest.approx(
        float((result.fills["price"] * result.fills["qty"]).sum())
    )
    again = summarize(
        result.equity,
        result.symbols,
        result.fills,
        100_000.0,
        MINUTE,
        rejections=result.rejections,
        events=result.events,
        posted=result.posted,
    )
    # the fast path's summary is computed from the kernel's tables: equal to 1e-9 relative
    assert_frame_equal(again, result.summary, rel_tol=1e-9, abs_tol=1e-12)


def test_quoted_spread_of_a_fixed_spread_is_twice_its_half_spread():
    bars = mmsim.synthetic_bars(("ETHUSDT",), days=0.5, interval="1m", seed=1)
    result = mmsim.backtest(bars, mmsim.fixed_spread(half_spread_bps=10, order_value=1_000.0))
    row = result.summary.filter(pl.col("symbol") == "ETHUSDT").row(0, named=True)
    tick_bps = 0.01 / 3_000 * 1e4  # ticks round bids down and asks up: at most a tick wider each
    assert 20.0 - 1e-9 <= row["quoted_spread_bps"] <= 20.0 + 2 * tick_bps * 1.2
    assert 0 < row["fill_rate"] < 1


def test_compare_gives_one_row_per_strategy_set():
    bars = mmsim.synthetic_bars(("BTCUSDT", "ETHUSDT"), days=0.5, interval="1m", seed=2)
    results = mmsim.run_backtests(
        bars,
        {
            "narrow": {"strategies": mmsim.fixed_spread(half_spread_bps=3)},
            "wide": {"strategies": mmsim.fixed_spread(half_spread_bps=30)},
        },
    )
    table = compare(results)
    assert table["name"].to_list() == ["narrow", "wide"]
    for name, r in results.items():
        row = table.filter(pl.col("name") == name).row(0, named=True)
        assert row["pnl"] == pytest.approx(r.final_equity - 100_000.0, abs=1e-6)
        assert row["fills"] == r.fills.height
    assert (
        table.filter(pl.col("name") == "narrow")["fills"][0]
        > table.filter(pl.col("name") == "wide")["fills"][0]
    )
    with pytest.raises(ValueError, match="at least one"):
        compare({})


def test_the_docs_metrics_table_has_one_line_per_definition():
    from pathlib import Path

    section = (Path(__file__).resolve().parents[1] / "docs" / "results.md").read_text()
    for name, definition in DEFINITIONS.items():
        assert f"| `{name}` | {definition} |" in section, name


def test_bars_with_no_timestamp_match_are_not_silently_dropped():
    t = dt.datetime(2024, 1, 1)
    symbols = pl.DataFrame(
        {"ts": [t], "symbol": ["X"], "mark": [1.0], "position": [0.0], "funding": [0.0]}
    )
    fills = pl.DataFrame(
        {
            "ts": [t + dt.timedelta(minutes=5)],
            "symbol": ["X"],
            "side": [1],
            "price": [1.0],
            "qty": [1.0],
            "fee": [0.0],
            "liquidity": ["maker"],
        }
    )
    with pytest.raises(ValueError, match="no bar"):
        mmsim.attribution_bars(fills, symbols)


@pytest.mark.parametrize("symbols", [("AAAUSDT",), ("AAAUSDT", "BBBUSDT")])
@pytest.mark.parametrize("spread_bps", [5.0, 5000.0])  # 5000: no fill at all
def test_per_symbol_and_total_are_the_two_reductions_they_stand_for(symbols, spread_bps):
    """Read once for a one-symbol run, the per-symbol and total figures are still those of
    `per_symbol` and of the reduction over every row (sums of no rows: 0 in the total, null
    per symbol)."""
    from mmsim.results.aligned import align

    bars = mmsim.synthetic_bars(symbols, days=0.3, seed=2)
    result = mmsim.backtest(bars, mmsim.fixed_spread(half_spread_bps=spread_bps))
    run = align(result.fills, result.symbols)
    for frame in (run.fills, run.bars):
        lazy = frame.lazy().with_columns(twice=pl.col("sid").cast(pl.Float64) * 2.5)
        aggs = (pl.len().alias("rows"), pl.col("twice").sum(), pl.col("twice").mean().alias("m"))
        by_symbol, total = run.per_symbol_and_total(lazy, *aggs)
        assert by_symbol.equals(run.per_symbol(lazy, *aggs), null_equal=True)
        assert total.equals(lazy.select(*aggs).collect(), null_equal=True)
        eager = (pl.len(), pl.col("sid").sum().alias("s"))
        eager_by, eager_total = run.per_symbol_and_total(frame, *eager)
        assert eager_by.equals(run.per_symbol(frame, *eager), null_equal=True)
        assert eager_total.equals(frame.select(*eager))
    assert (result.fills.height == 0) == (spread_bps > 100)
