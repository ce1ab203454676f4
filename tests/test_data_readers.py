"""Generic OHLCV files (CCXT CSV, CryptoDataDownload, freqtrade JSON, Parquet): real and edge."""

from __future__ import annotations

import datetime as dt
import json

import polars as pl
import pytest
from data_support import real
from hypothesis import given, settings
from hypothesis import strategies as st

import mmsim
from mmsim.data import DataError, DroppedRowsWarning, read_bars
from mmsim.data.readers import symbol_from_name

OHLCV = ["open", "high", "low", "close", "volume"]


def counts(bars: pl.DataFrame) -> dict[str, int]:
    return dict(bars.group_by(pl.col("symbol").cast(pl.String)).len().iter_rows())


# --- the real sets of ../shared/data/real (SOURCES.md gives every figure checked here) ----------


def test_real_ccxt_csvs_with_iso_times_load_complete():
    bars = read_bars(real("benicio1007_bot_trading__binance_spot_1m", "Q4_2024"))
    assert counts(bars) == {"BTCUSDT": 50_000, "ETHUSDT": 50_000, "SOLUSDT": 50_000}
    assert bars["ts"].min() == dt.datetime(2024, 10, 1, 3)
    assert bars["ts"].max() == dt.datetime(2024, 11, 4, 20, 19)
    assert mmsim.gap_report(bars).height == 0
    first = bars.filter(pl.col("symbol") == "BTCUSDT").row(0, named=True)
    assert [first[c] for c in OHLCV] == [63443.76, 63460.0, 63440.0, 63440.01, 14.63212]


def test_real_freqtrade_json_2023_reports_the_halt_gap():
    """Binance's spot halt of 24 Mar 2023: 80 missing 1m bars in each symbol; SOL one bar longer."""
    bars = read_bars(real("andresciancio_freqtrade__binance_spot_1m_2023"))
    assert counts(bars) == {"BTCUSDT": 66_087, "ETHUSDT": 66_087, "SOLUSDT": 66_088}
    gaps = mmsim.gap_report(bars)
    halt = gaps.filter(pl.col("kind") == "gap")
    assert halt["symbol"].to_list() == ["BTCUSDT", "ETHUSDT", "SOLUSDT"]
    assert set(halt["start"]) == {dt.datetime(2023, 3, 24, 12, 40)}
    assert set(halt["end"]) == {dt.datetime(2023, 3, 24, 13, 59)}
    assert set(halt["missing_bars"]) == {80}
    trailing = gaps.filter(pl.col("kind") == "trailing")
    assert trailing.select("symbol", "start").rows() == [
        ("BTCUSDT", dt.datetime(2023, 5, 1, 21, 2)),
        ("ETHUSDT", dt.datetime(2023, 5, 1, 21, 2)),
    ]
    described = mmsim.describe_bars(bars)
    # 72 flat zero-volume bars before the halt in every symbol, plus one more SOL bar (2023-04-09)
    assert described["zero_volume_bars"].to_list() == [72, 72, 73]


def test_real_freqtrade_json_2021_has_one_two_hour_hole_and_btc_starts_a_minute_late():
    bars = read_bars(real("damiankluk_freqtrade__binance_spot_1m_2021"))
    assert counts(bars) == {"BTCUSDT": 43_079, "ETHUSDT": 43_079, "SOLUSDT": 43_079}
    gaps = mmsim.gap_report(bars)
    assert gaps.select("symbol", "kind", "missing_bars").rows() == [
        ("BTCUSDT", "leading", 1),
        ("BTCUSDT", "gap", 120),
        ("ETHUSDT", "gap", 120),
        ("SOLUSDT", "gap", 120),
        ("ETHUSDT", "trailing", 1),
        ("SOLUSDT", "trailing", 1),
    ]
    assert set(gaps.filter(pl.col("kind") == "gap")["start"]) == {dt.datetime(2021, 9, 29, 7)}


def test_real_cryptodatadownload_hourly_needs_consent_for_its_duplicates_and_bogus_first_candle():
    folder = real("timheyes_btc_eth_pair_trading__cryptodatadownload_binance_spot_1h")
    with pytest.raises(
        DataError,
        match=r"BTCUSDT_1h\.csv line 26131: duplicated candle for BTCUSDT at 2017-09-26 19:00:00",
    ):
        read_bars(folder)
    with (
        pytest.warns(DroppedRowsWarning, match="dropped 8 row"),
        pytest.raises(
            DataError, match=r"BTCUSDT_1h\.csv line 27102: implausible open .*open=16199\.91"
        ),
    ):
        read_bars(folder, drop=["duplicates"])
    with pytest.warns(DroppedRowsWarning) as caught:
        bars = read_bars(folder, drop=["duplicates", "jumps"])
    dropped = {w.message.problem.split(" ")[0]: w.message for w in caught}
    assert dropped["duplicates"].count == 8  # 4 repeated hours on 2017-09-26 in each file
    assert dropped["implausible"].count == 2  # the first candle of each file
    assert dropped["implausible"].rows["ts"].to_list() == [dt.datetime(2017, 8, 17, 4)] * 2
    assert counts(bars) == {"BTCUSDT": 27_095, "ETHUSDT": 27_095}
    assert bars["ts"].is_sorted()  # the files run newest first
    assert bars["ts"].min() == dt.datetime(2017, 8, 17, 5)
    assert bars["ts"].max() == dt.datetime(2020, 9, 19, 7)
    assert bars.columns == ["ts", "symbol", *OHLCV, "quote_volume"]
    gaps = mmsim.gap_report(bars)
    assert gaps.select("kind", "start", "end").unique().rows() == [
        ("gap", dt.datetime(2017, 9, 22, 20), dt.datetime(2017, 9, 22, 23)),
    ]
    assert mmsim.describe_bars(bars)["zero_volume_bars"].to_list() == [115, 117]


def test_real_cryptodatadownload_futures_ms_and_pair_symbols():
    bars = read_bars(real("ingiorn_crypto_data__cryptodatadownload_binance_usdm_futures_1h"))
    assert counts(bars) == {"BTCUSDT": 3_599, "ETHUSDT": 3_599}  # 'BTC/USDT' in the file
    assert bars["ts"].min() == dt.datetime(2020, 8, 2, 2)
    assert bars["ts"].max() == dt.datetime(2020, 12, 30)
    assert mmsim.gap_report(bars).height == 0
    assert {"quote_volume", "trades"} <= set(bars.columns)
    last = bars.filter(pl.col("symbol") == "BTCUSDT").row(-1, named=True)
    assert (last["open"], last["close"], last["trades"]) == (27402.83, 27623.41, 12535.0)


def test_real_cryptodatadownload_daily_without_banner():
    bars = read_bars(real("timcaron_market_maker_strategies__cryptodatadownload_binance_spot_1d"))
    assert counts(bars) == {"BTCUSDT": 2_800, "ETHUSDT": 2_800}
    assert mmsim.describe_bars(bars)["interval"].to_list() == ["1d", "1d"]
    assert mmsim.gap_report(bars).height == 0


# --- layouts ------------------------------------------------------------------------------------


@pytest.fixture
def bars():
    return mmsim.synthetic_bars(("ETHUSDT",), days=0.1, interval="1m", seed=5, funding=False)


def _write(frame: pl.DataFrame, path, **kw):
    frame.write_csv(path, **kw)
    return path


@pytest.mark.parametrize("unit", ["s", "ms", "us", "ns"])
def test_epoch_timestamps_in_any_unit_give_the_same_bars(tmp_path, bars, unit):
    scale = {"s": 1e-6, "ms": 1e-3, "us": 1, "ns": 1e3}[unit]
    epoch = (bars["ts"].dt.epoch("us") * scale).cast(pl.Int64)
    path = _write(
        bars.select(pl.lit(epoch).alias("timestamp"), *OHLCV), tmp_path / "ETHUSDT_1m.csv"
    )
    got = read_bars(path)
    assert got["ts"].to_list() == bars["ts"].to_list()
    assert got.select(OHLCV).equals(bars.select(OHLCV))


def test_iso_text_with_offsets_is_converted_to_utc(tmp_path):
    text = (
        "date,open,high,low,close,volume\n"
        "2024-01-01T02:00:00+02:00,100,102,99.5,101.5,3\n2024-01-01T00:01:00Z,101.5,102,101,101.8,4\n"
    )
    path = tmp_path / "X.csv"
    path.write_text(text)
    got = read_bars(path, symbol="abcusdt")
    assert got["ts"].to_list() == [dt.datetime(2024, 1, 1, 0, 0), dt.datetime(2024, 1, 1, 0, 1)]
    assert got["symbol"].cast(pl.String).to_list() == ["ABCUSDT"] * 2


def test_mapped_columns_newest_first_close_labels_and_extra_columns(tmp_path, bars):
    frame = bars.select(
        (pl.col("ts") + pl.duration(minutes=1)).dt.strftime("%Y-%m-%d %H:%M").alias("Bar End"),
        pl.col("open").alias("O"),
        pl.col("high").alias("H"),
        pl.col("low").alias("L"),
        pl.col("close").alias("C"),
        pl.col("volume").alias("Qty"),
        pl.col("taker_buy_volume").alias("Taker Buy Volume"),
        pl.lit("note").alias("comment"),
    ).reverse()
    path = _write(frame, tmp_path / "export.csv")
    got = read_bars(
        path,
        symbol="ETHUSDT",
        label="close",
        columns={
            "ts": "Bar End",
            "open": "O",
            "high": "H",
            "low": "L",
            "close": "C",
            "volume": "Qty",
        },
    )
    assert got["ts"].to_list() == bars["ts"].to_list()
    assert got.columns == ["ts", "symbol", *OHLCV, "taker_buy_volume"]  # text column left out
    assert got["taker_buy_volume"].to_list() == bars["taker_buy_volume"].to_list()


def test_headerless_six_column_csv_and_a_list_of_names(tmp_path, bars):
    epoch = bars["ts"].dt.epoch("ms")
    frame = bars.select(pl.lit(epoch).alias("t"), *OHLCV)
    path = _write(frame, tmp_path / "ETH_USDT-1m.csv", include_header=False)
    assert read_bars(path)["close"].to_list() == bars["close"].to_list()
    names = ["time", "open", "high", "low", "close", "volume"]
    renamed = read_bars(path, columns=names, symbol="ETHUSDT", time_unit="ms")
    assert renamed["ts"].to_list() == bars["ts"].to_list()


def test_parquet_and_feather_round_trip_the_bars_frame(tmp_path, bars):
    bars.write_parquet(tmp_path / "cache.parquet")
    bars.write_ipc(tmp_path / "ETHUSDT-1m.feather")
    from_parquet = read_bars(tmp_path / "cache.parquet")
    assert from_parquet.select("ts", *OHLCV, "taker_buy_volume").equals(
        bars.select("ts", *OHLCV, "taker_buy_volume")
    )
    assert read_bars(tmp_path / "ETHUSDT-1m.feather").equals(from_parquet)
    windowed = read_bars(
        tmp_path / "cache.parquet", start="2024-01-01 01:00", end="2024-01-01 01:30"
    )
    assert windowed.height == 30


def test_freqtrade_style_tz_aware_parquet(tmp_path, bars):
    frame = bars.select(
        pl.col("ts")
        .dt.replace_time_zone("UTC")
        .dt.convert_time_zone("Europe/Berlin")
        .alias("date"),
        *OHLCV,
    )
    frame.write_parquet(tmp_path / "ETH_USDT-1m.parquet")
    got = read_bars(tmp_path / "ETH_USDT-1m.parquet")
    assert got["ts"].to_list() == bars["ts"].to_list()
    assert got["symbol"].cast(pl.String).unique().to_list() == ["ETHUSDT"]


@settings(max_examples=50)
@given(
    unit=st.sampled_from(["s", "ms", "us", "ns", "iso"]),
    newest_first=st.booleans(),
    n=st.integers(2, 40),
    banner=st.booleans(),
)
def test_any_layout_variant_reads_back_the_same_bars(
    tmp_path_factory, unit, newest_first, n, banner
):
    """Epoch unit, ISO text, order and a banner line never change the bars read."""
    bars = mmsim.synthetic_bars(("SOLUSDT",), days=0.1, interval="1m", seed=n, funding=False).head(
        n
    )
    if unit == "iso":
        ts = bars["ts"].dt.strftime("%Y-%m-%dT%H:%M:%S")
    else:
        scale = {"s": 1e-6, "ms": 1e-3, "us": 1, "ns": 1e3}[unit]
        ts = (bars["ts"].dt.epoch("us") * scale).cast(pl.Int64)
    frame = bars.select(pl.lit(ts).alias("Unix"), *OHLCV)
    if newest_first:
        frame = frame.reverse()
    text = frame.write_csv()
    path = tmp_path_factory.mktemp("csv") / "Binance_SOLUSDT_1m.csv"
    path.write_text(("https://www.CryptoDataDownload.com\n" if banner else "") + text)
    got = read_bars(path)
    assert got["ts"].to_list() == bars["ts"].to_list()
    assert got.select(OHLCV).equals(bars.select(OHLCV))


def test_symbol_from_file_names():
    assert symbol_from_name("Binance_BTCUSDT_1h.csv") == "BTCUSDT"
    assert symbol_from_name("BTCUSDT_Binance_futures_data_hour.csv") == "BTCUSDT"
    assert symbol_from_name("BTC_USDT-1m.json") == "BTCUSDT"
    assert symbol_from_name("ETH_USDT_USDT-1m-futures.feather") == "ETHUSDT"
    assert symbol_from_name("solusdt_1m.csv") == "SOLUSDT"
    assert symbol_from_name("prices.csv") is None


# --- bad input ----------------------------------------------------------------------------------


def test_missing_columns_are_named(tmp_path):
    path = tmp_path / "BTCUSDT.csv"
    path.write_text("time,open,high,close\n1700000000,1,2,1.5\n")
    with pytest.raises(
        DataError, match=r"BTCUSDT\.csv: cannot find column\(s\) \['low', 'volume'\]"
    ):
        read_bars(path)
    with pytest.raises(DataError, match=r"column 'Px' \(for 'low'\) is not in the file"):
        read_bars(path, columns={"low": "Px"})


def test_unreadable_timestamp_names_the_line(tmp_path):
    path = tmp_path / "BTCUSDT.csv"
    path.write_text(
        "Banner line\ndate,open,high,low,close,volume\n"
        "2024-01-01 00:00,1,2,0.5,1.5,3\nyesterday,1,2,0.5,1.5,3\n"
    )
    with pytest.raises(DataError, match=r"BTCUSDT\.csv line 4: cannot read timestamp 'yesterday'"):
        read_bars(path)


def test_non_numeric_price_and_short_line_are_named(tmp_path):
    path = tmp_path / "BTCUSDT.csv"
    path.write_text(
        "timestamp,open,high,low,close,volume\n1700000000,1,2,0.5,1.5,3\n1700000060,1,n/a,0.5,1.5,3\n"
    )
    with pytest.raises(
        DataError, match=r"BTCUSDT\.csv line 3: column 'high' is 'n/a', not a number"
    ):
        read_bars(path)
    path.write_text(
        "timestamp,open,high,low,close,volume\n1700000000,1,2,0.5,1.5,3\n1700000060,1,2,0.5\n"
    )
    with pytest.raises(DataError, match=r"BTCUSDT\.csv line 3: 4 fields, expected 6"):
        read_bars(path)


def test_missing_value_is_named(tmp_path):
    path = tmp_path / "BTCUSDT.csv"
    path.write_text(
        "timestamp,open,high,low,close,volume\n1700000000,1,2,0.5,1.5,3\n1700000060,1,2,,1.5,3\n"
    )
    with pytest.raises(DataError, match=r"BTCUSDT\.csv line 3: missing value in column 'low'"):
        read_bars(path)


def test_bad_freqtrade_json_rows_are_named(tmp_path):
    path = tmp_path / "BTC_USDT-1m.json"
    good = [1700000000000, 100, 102, 99.5, 101.5, 3]
    path.write_text(json.dumps([good, [1700000060000, 101.5, 102, 101, 101.8]]))
    with pytest.raises(DataError, match=r"BTC_USDT-1m\.json row 1: expected \[open_time, open"):
        read_bars(path)
    path.write_text(json.dumps([good, [1700000060000, "n/a", 102, 101, 101.8, 4]]))
    with pytest.raises(DataError, match=r"row 1: open is 'n/a', not a number"):
        read_bars(path)
    path.write_text("[[1700000000000, 1, 2")
    with pytest.raises(DataError, match="not valid JSON"):
        read_bars(path)


def test_no_header_and_no_numbers_is_refused(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("a,b,c\n1,2,3\n")
    with pytest.raises(DataError, match="no header line naming a time column"):
        read_bars(path)
    with pytest.raises(FileNotFoundError, match="no such file"):
        read_bars(tmp_path / "absent.csv")
