"""The aligned frames' per-symbol tables: several collected at once equal each collected alone."""

from __future__ import annotations

import polars as pl

import mmsim
from mmsim.results.aligned import align


def _three_symbols_one_without_fills() -> mmsim.Result:
    bars = mmsim.synthetic_bars(("BTCUSDT", "ETHUSDT", "SOLUSDT"), days=1, interval="1m", seed=5)
    strategies = {
        "BTCUSDT": mmsim.fixed_spread(half_spread_bps=5.0),
        "ETHUSDT": mmsim.fixed_spread(half_spread_bps=5000.0),  # never filled
        "SOLUSDT": mmsim.fixed_spread(half_spread_bps=5.0),
    }
    return mmsim.backtest(bars, strategies)


def test_tables_collected_together_equal_each_alone():
    result = _three_symbols_one_without_fills()
    run = align(result.fills, result.symbols)
    assert set(result.fills["symbol"]) == {"BTCUSDT", "SOLUSDT"}
    fill_aggs = [pl.len().alias("n"), pl.col("qty").sum()]
    bar_aggs = [pl.col("position").abs().mean().alias("p"), pl.col("notional").max()]
    posted = result.posted.filter(pl.col("symbol") != "SOLUSDT").vstack(
        result.posted.head(1).with_columns(pl.lit("XRPUSDT").alias("symbol"))  # not in the run
    )
    post_aggs = [pl.col("orders").sum()]
    got = run.collect_per_symbol_and_total(
        (run.fills.lazy(), fill_aggs),
        (run.bars.lazy(), bar_aggs),
        (posted.lazy(), post_aggs, "symbol"),
    )
    fills_alone = (run.per_symbol(run.fills, *fill_aggs), run.fills.lazy().select(*fill_aggs))
    bars_alone = (run.per_symbol(run.bars, *bar_aggs), run.bars.lazy().select(*bar_aggs))
    for (by_symbol, total), (want_by_symbol, want_total) in zip(
        got[:2], (fills_alone, bars_alone), strict=True
    ):
        assert by_symbol.equals(want_by_symbol)
        assert total.equals(want_total.collect())
    assert got[0][0]["symbol"].to_list() == list(run.names)
    assert got[0][0].filter(pl.col("symbol") == "ETHUSDT")["n"].to_list() == [None]
    by_symbol, total = got[2]
    assert by_symbol["symbol"].to_list() == list(run.names)
    want = posted.group_by("symbol").agg(*post_aggs)
    orders = dict(zip(want["symbol"], want["orders"], strict=True))
    assert by_symbol["orders"].to_list() == [orders.get(name) for name in run.names]
    assert total["orders"].item() == posted["orders"].sum()


def test_per_symbol_of_one_symbol_without_rows_is_one_null_row():
    bars = mmsim.synthetic_bars(("BTCUSDT",), days=1, interval="1m", seed=5)
    result = mmsim.backtest(bars, mmsim.fixed_spread(half_spread_bps=5000.0))
    run = align(result.fills, result.symbols)
    assert result.fills.height == 0
    got = run.per_symbol(run.fills, pl.col("qty").sum(), pl.len().alias("n"))
    assert got.schema == pl.Schema({"symbol": pl.String, "qty": pl.Float64, "n": pl.UInt32})
    assert got.rows() == [("BTCUSDT", None, None)]
