"""`load_bars`: one entry point for caches, dump folders and generic files; real-data backtests."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest
from data_support import kline_csv, real, write_dump

import mmsim
from mmsim.cli import main
from mmsim.data import DataError

OHLCV = ["open", "high", "low", "close", "volume"]


@pytest.fixture
def dump_folder(tmp_path):
    """Two symbols, two days as daily ZIPs, in Binance's own folder layout."""
    bars = mmsim.synthetic_bars(
        ("BTCUSDT", "ETHUSDT"), days=2, interval="1m", seed=8, funding=False
    )
    parts = bars.with_columns(pl.col("ts").dt.date().alias("day")).partition_by(
        "symbol", "day", as_dict=True
    )
    for (symbol, day), part in parts.items():
        folder = tmp_path / "data" / "spot" / "daily" / "klines" / symbol / "1m"
        write_dump(folder, f"{symbol}-1m-{day:%Y-%m-%d}.zip", kline_csv(part.drop("day")))
    return tmp_path, bars


def test_a_folder_of_binance_zips_loads_aligned(dump_folder):
    folder, bars = dump_folder
    got = mmsim.load_bars(folder)
    assert got.select("ts", pl.col("symbol").cast(pl.String), *OHLCV).equals(
        bars.select("ts", "symbol", *OHLCV)
    )
    assert got.schema["symbol"] == pl.Categorical
    assert mmsim.load_bars(str(folder / "**" / "BTCUSDT-1m-*.zip")).height == bars.height // 2


def test_a_folder_with_a_parquet_cache_reads_only_the_cache(dump_folder):
    folder, bars = dump_folder
    cache = mmsim.load_bars(folder)
    cache.filter(pl.col("symbol") == "BTCUSDT").write_parquet(folder / "BTCUSDT.parquet")
    got = mmsim.load_bars(folder)  # the ZIPs beside the cache are not read again
    assert got["symbol"].cast(pl.String).unique().to_list() == ["BTCUSDT"]
    assert got.equals(cache.filter(pl.col("symbol") == "BTCUSDT"))
    both = mmsim.load_bars([folder / "BTCUSDT.parquet", *sorted(folder.rglob("ETHUSDT-*.zip"))])
    assert both.equals(cache)


def test_symbols_window_and_resample_options(dump_folder):
    folder, _ = dump_folder
    got = mmsim.load_bars(
        folder, symbols=["ethusdt"], start="2024-01-01 06:00", end="2024-01-01", resample="15m"
    )
    assert got["symbol"].cast(pl.String).unique().to_list() == ["ETHUSDT"]
    assert got["ts"].min() == dt.datetime(2024, 1, 1, 6)
    assert got["ts"].max() == dt.datetime(2024, 1, 1, 23, 45)
    assert got.height == 18 * 4
    with pytest.raises(DataError, match="no bars in .* for symbols \\['XRPUSDT'\\]"):
        mmsim.load_bars(folder, symbols=["XRPUSDT"])


def test_the_same_symbol_in_two_sources_must_agree(dump_folder):
    folder, bars = dump_folder
    btc = bars.filter(pl.col("symbol") == "BTCUSDT")
    btc.with_columns(pl.col("volume") * 2).write_csv(folder / "BTCUSDT_1m.csv")
    with pytest.raises(DataError, match="conflicting candles for BTCUSDT"):
        mmsim.load_bars(folder)


def test_real_multi_symbol_backtest_on_binance_spot_minutes():
    """Three real symbols, two days of 1m bars, fixed-spread quoting through the whole pipeline."""
    bars = mmsim.load_bars(
        real("benicio1007_bot_trading__binance_spot_1m", "Q4_2024"), end="2024-10-03 03:00"
    )
    assert bars.height == 3 * 2 * 1440
    result = mmsim.backtest(
        bars,
        mmsim.fixed_spread(half_spread_bps=4, order_value=2_000.0, max_position_value=20_000.0),
        venue=mmsim.Venue(maker_fee=0.0, taker_fee=0.0005),
        risk=mmsim.basic_risk(max_leverage=3.0, min_order_value=10.0),
        initial_cash=100_000.0,
    )
    assert result.equity.height == 2 * 1440
    fills = result.fills.group_by("symbol").len()
    assert set(fills["symbol"]) == {"BTCUSDT", "ETHUSDT", "SOLUSDT"}
    assert fills["len"].min() > 100  # real 1m ranges trade through 4 bps quotes often
    # every fill is at a price the bar actually traded through
    joined = result.fills.join(
        bars.with_columns(pl.col("symbol").cast(pl.String)), on=["ts", "symbol"], how="left"
    )
    assert (
        joined.filter((pl.col("price") < pl.col("low")) | (pl.col("price") > pl.col("high"))).height
        == 0
    )
    total = result.summary.filter(pl.col("symbol") == "TOTAL").row(0, named=True)
    assert total["pnl"] == pytest.approx(result.equity["equity"][-1] - 100_000.0, abs=1e-6)


def test_real_backtest_across_the_2023_halt_and_uneven_ends():
    """SOL has a last bar BTC and ETH lack: they sit that step out and keep their marks."""
    bars = mmsim.load_bars(
        real("andresciancio_freqtrade__binance_spot_1m_2023"), start="2023-05-01 18:00"
    )
    halt = mmsim.load_bars(
        real("andresciancio_freqtrade__binance_spot_1m_2023"),
        start="2023-03-24 12:00",
        end="2023-03-24 14:30",
    )
    assert mmsim.gap_report(halt)["missing_bars"].to_list() == [80, 80, 80]
    both = pl.concat([halt, bars])
    result = mmsim.backtest(
        both,
        mmsim.fixed_spread(half_spread_bps=3, order_value=1_000.0),
        venue=mmsim.Venue(maker_fee=0.0, taker_fee=0.0005),
        allow_gaps=True,
    )
    last = dt.datetime(2023, 5, 1, 21, 2)
    marks = result.symbols.filter(pl.col("ts") == last)
    closes = both.filter(pl.col("ts") == last - dt.timedelta(minutes=1))
    for symbol in ("BTCUSDT", "ETHUSDT"):
        assert (
            marks.filter(pl.col("symbol") == symbol)["mark"][0]
            == closes.filter(pl.col("symbol") == symbol)["close"][0]
        )
        assert marks.filter(pl.col("symbol") == symbol)["bid"][0] is None  # no quote without a bar
    assert result.fills.filter((pl.col("ts") == last) & (pl.col("symbol") != "SOLUSDT")).height == 0
    assert result.equity.height == both["ts"].n_unique()


def test_data_check_command_prints_symbols_and_gaps(capsys):
    folder = real("damiankluk_freqtrade__binance_spot_1m_2021")
    assert main(["data", "check", str(folder)]) == 0
    out = capsys.readouterr().out
    assert "BTCUSDT" in out and "43079" in out
    assert "6 gap(s), 363 missing bar(s)" in out
    assert (
        main(
            [
                "data",
                "check",
                str(real("timheyes_btc_eth_pair_trading__cryptodatadownload_binance_spot_1h")),
            ]
        )
        == 2
    )
    assert "duplicated candle" in capsys.readouterr().err
