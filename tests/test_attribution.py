"""PnL attribution: the components of every bar and symbol sum exactly to the equity change."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest
from hypothesis import given, settings

from mmsim.results.attribution import (
    COMPONENTS,
    attribution,
    attribution_bars,
    cumulative_attribution,
)
from mmsim.results.metrics import pnl_expr
from mmsim.testing.markets import runs


def _tolerance(result) -> float:
    """Float rounding bound: 1e-9 of everything that was added up (cash, traded notional)."""
    volume = (
        float((result.fills["price"] * result.fills["qty"]).sum()) if result.fills.height else 0.0
    )
    moved = float((result.symbols["position"].abs() * result.symbols["mark"]).sum())
    return 1e-9 * (float(result.config["initial_cash"]) + volume + moved)


@settings(max_examples=150)
@given(runs())
def test_components_sum_to_the_equity_change_every_bar(result):
    """For any market, strategies, venue and risk rules, the attribution components of each bar,
    summed over symbols, equal that bar's change in mark-to-market equity."""
    tol = _tolerance(result)
    per_bar = attribution_bars(result.fills, result.symbols)
    assert (
        per_bar.select((pl.sum_horizontal(*COMPONENTS) - pl.col("pnl")).abs().max()).item() <= tol
    )
    by_ts = per_bar.group_by("ts", maintain_order=True).agg(pl.col("pnl").sum())
    change = (
        result.equity["equity"]
        .diff()
        .fill_null(result.equity["equity"][0] - result.config["initial_cash"])
    )
    assert by_ts["ts"].to_list() == result.equity["ts"].to_list()
    assert (by_ts["pnl"] - change).abs().max() <= tol
    # running totals: per symbol they are the ledger's realized + unrealized - fees + funding
    running = per_bar.with_columns(pl.col("pnl").cum_sum().over("symbol").alias("cum"))
    ledger = result.symbols.select("ts", "symbol", pnl_expr().alias("ledger"))
    joined = running.join(ledger, on=["ts", "symbol"])
    assert joined.height == result.symbols.height
    assert (joined["cum"] - joined["ledger"]).abs().max() <= tol
    totals = attribution(result.fills, result.symbols)
    total = totals.filter(pl.col("symbol") == "TOTAL").row(0, named=True)
    assert abs(total["pnl"] - (result.final_equity - result.config["initial_cash"])) <= tol
    assert abs(sum(total[c] for c in COMPONENTS) - total["pnl"]) <= tol
    cum = cumulative_attribution(result.fills, result.symbols)
    assert abs(cum["pnl"][-1] - total["pnl"]) <= tol


@settings(max_examples=60)
@given(runs())
def test_fee_components_match_the_fills_and_the_ledger(result):
    """Maker fees, rebates and taker fees add up to minus the fees the ledger charged."""
    totals = (
        attribution(result.fills, result.symbols)
        .filter(pl.col("symbol") == "TOTAL")
        .row(0, named=True)
    )
    fees = totals["maker_fees"] + totals["rebates"] + totals["taker_fees"]
    assert abs(fees + float(result.equity["fees"][-1])) <= _tolerance(result)
    assert totals["maker_fees"] <= 0 <= totals["rebates"]
    assert totals["taker_fees"] <= 0
    assert abs(totals["funding"] - float(result.equity["funding"][-1])) <= _tolerance(result)


def _frames():
    t = [dt.datetime(2024, 1, 1, h) for h in range(3)]
    symbols = pl.DataFrame(
        {
            "ts": t,
            "symbol": ["X"] * 3,
            "position": [0.0, 1.0, 1.0],
            "mark": [100.0, 102.0, 101.0],
            "realized": [0.0] * 3,
            "unrealized": [0.0, 3.0, 2.0],
            "fees": [0.0, 0.05, 0.05],
            "funding": [0.0, 0.0, -0.5],
        }
    )
    fills = pl.DataFrame(
        {
            "ts": [t[1]],
            "symbol": ["X"],
            "side": [1],
            "price": [99.0],
            "qty": [1.0],
            "fee": [0.05],
            "liquidity": ["maker"],
            "reason": ["quote"],
            "level": [0],
        }
    ).with_columns(pl.col("side").cast(pl.Int8))
    return fills, symbols


def test_a_bought_bid_earns_its_distance_to_the_close_then_carries_the_mark_move():
    fills, symbols = _frames()
    bars = attribution_bars(fills, symbols)
    assert bars["spread_capture"].to_list() == [0.0, 3.0, 0.0]  # bought at 99, bar closed at 102
    assert bars["inventory"].to_list() == [0.0, 0.0, -1.0]  # long 1 while 102 -> 101
    assert bars["maker_fees"].to_list() == [0.0, -0.05, 0.0]
    assert bars["funding"].to_list() == [0.0, 0.0, -0.5]
    assert bars["pnl"].sum() == pytest.approx(1.45)  # = unrealized 2 - fees 0.05 - funding 0.5


def test_a_fill_outside_the_symbols_frame_is_an_error_naming_the_row():
    fills, symbols = _frames()
    with pytest.raises(ValueError, match="fill row 0"):
        attribution_bars(fills.with_columns(pl.lit("Y").alias("symbol")), symbols)
