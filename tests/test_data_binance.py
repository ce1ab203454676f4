"""Binance kline dumps: layouts, file names, concatenation, and a clear error for each bad input."""

from __future__ import annotations

import datetime as dt
import zipfile

import polars as pl
import pytest
from data_support import kline_csv, real, write_dump, zip_bytes
from hypothesis import given, settings
from hypothesis import strategies as st

import mmsim
from mmsim.data import DataError, DroppedRowsWarning, parse_kline_name, read_binance_klines

OHLCV = ["open", "high", "low", "close", "volume"]


def one_symbol(days: float = 1, symbol: str = "BTCUSDT", start: str = "2024-01-01", seed: int = 3):
    return mmsim.synthetic_bars(
        (symbol,), days=days, interval="1m", seed=seed, start=start, funding=False
    )


def test_zip_without_header_round_trips_every_column(tmp_path):
    bars = one_symbol()
    path = write_dump(tmp_path, "BTCUSDT-1m-2024-01-01.zip", kline_csv(bars))
    got = read_binance_klines(path)
    assert got.columns == [
        "ts",
        "symbol",
        *OHLCV,
        "quote_volume",
        "trades",
        "taker_buy_volume",
        "taker_buy_quote_volume",
    ]
    assert got.schema["symbol"] == pl.Categorical
    assert all(got.schema[c] == pl.Float64 for c in got.columns[2:])
    assert got["ts"].to_list() == bars["ts"].to_list()
    for c in [*OHLCV, "taker_buy_volume"]:
        assert got[c].to_list() == bars[c].to_list(), c
    assert got["symbol"].cast(pl.String).unique().to_list() == ["BTCUSDT"]


def test_microsecond_timestamps_with_header_read_the_same(tmp_path):
    bars = one_symbol()
    ms = write_dump(tmp_path / "a", "BTCUSDT-1m-2024-01-01.zip", kline_csv(bars, unit="ms"))
    us = tmp_path / "b" / "BTCUSDT-1m-2024-01-01.csv"
    us.parent.mkdir()
    us.write_bytes(kline_csv(bars, unit="us", header=True))
    assert read_binance_klines(us).equals(read_binance_klines(ms))


def test_many_files_concatenate_in_time_order_whatever_the_listing_order(tmp_path):
    bars = one_symbol(days=3)
    days = bars.with_columns(pl.col("ts").dt.date().alias("day")).partition_by("day", as_dict=True)
    paths = []
    for (day,), part in sorted(days.items(), reverse=True):
        name = f"BTCUSDT-1m-{day:%Y-%m-%d}.zip"
        paths.append(write_dump(tmp_path, name, kline_csv(part.drop("day"))))
    got = read_binance_klines(paths)  # newest file first
    assert got["ts"].to_list() == bars["ts"].to_list()
    assert got["close"].to_list() == bars["close"].to_list()
    assert read_binance_klines(str(tmp_path / "BTCUSDT-1m-*.zip")).equals(got)
    assert read_binance_klines(tmp_path).equals(got)


def test_start_and_end_keep_a_window_and_skip_files_outside_it(tmp_path):
    bars = one_symbol(days=3)
    parts = bars.with_columns(pl.col("ts").dt.date().alias("day")).partition_by("day", as_dict=True)
    for (day,), part in parts.items():
        write_dump(tmp_path, f"BTCUSDT-1m-{day:%Y-%m-%d}.zip", kline_csv(part.drop("day")))
    (tmp_path / "BTCUSDT-1m-2024-01-03.zip").write_bytes(b"not a zip")  # outside: never opened
    got = read_binance_klines(tmp_path, start="2024-01-01 12:00", end="2024-01-02")
    assert got["ts"].min() == dt.datetime(2024, 1, 1, 12)
    assert got["ts"].max() == dt.datetime(2024, 1, 2, 23, 59)
    assert got.height == 36 * 60


@settings(max_examples=40)
@given(
    n=st.integers(1, 50),
    unit=st.sampled_from(["ms", "us"]),
    header=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_any_small_dump_round_trips(tmp_path_factory, n, unit, header, seed):
    """Whatever the timestamp unit and header, reading a written dump gives back the same bars."""
    bars = one_symbol(days=2, seed=seed).head(n)
    folder = tmp_path_factory.mktemp("dump")
    path = write_dump(folder, "ETHUSDT-1m-2024-01.zip", kline_csv(bars, unit=unit, header=header))
    got = read_binance_klines(path)
    assert got["ts"].to_list() == bars["ts"].to_list()
    assert got.select(OHLCV).equals(bars.select(OHLCV))


def test_symbol_and_interval_come_from_the_name_unless_given(tmp_path):
    assert parse_kline_name("BTCUSDT-1m-2024-01.zip").symbol == "BTCUSDT"
    daily = parse_kline_name("ETHUSDT-4h-2024-02-29.csv")
    assert (daily.symbol, daily.interval, daily.daily) == ("ETHUSDT", "4h", True)
    assert parse_kline_name("BTCUSDT-1m-2024-13.zip") is None
    assert parse_kline_name("prices.csv") is None
    path = tmp_path / "prices.csv"
    path.write_bytes(kline_csv(one_symbol().head(10)))
    with pytest.raises(DataError, match="cannot tell the symbol.*pass symbol="):
        read_binance_klines(path)
    got = read_binance_klines(path, symbol="SOLUSDT")
    assert got["symbol"].cast(pl.String).unique().to_list() == ["SOLUSDT"]


def test_real_usdm_futures_dump_reads_exactly(tmp_path):
    """FILUSDT-1m-2024-10.csv from data.binance.vision: 44,640 bars, header, ms (SOURCES.md 4)."""
    path = real("owlacar_isda__binance_usdm_futures_1m_dump", "FILUSDT-1m-2024-10.csv")
    bars = read_binance_klines(path)
    assert bars.height == 44_640
    assert bars["ts"].min() == dt.datetime(2024, 10, 1)
    assert bars["ts"].max() == dt.datetime(2024, 10, 31, 23, 59)
    assert bars["ts"].diff().drop_nulls().unique().to_list() == [dt.timedelta(minutes=1)]
    assert (bars["volume"] == 0).sum() == 89
    assert bars["low"].min() >= 3.268 and bars["high"].max() <= 4.021
    first = bars.row(0, named=True)
    assert (first["open"], first["high"], first["close"], first["taker_buy_volume"]) == (
        3.809,
        3.825,
        3.822,
        132245.2,
    )
    # the same bytes zipped as downloaded read identically
    zipped = write_dump(tmp_path, "FILUSDT-1m-2024-10.zip", path.read_bytes())
    assert read_binance_klines(zipped).equals(bars)


# --- bad input: every error names the file and line ------------------------------------------


def _lines(bars: pl.DataFrame) -> list[str]:
    return kline_csv(bars).decode().splitlines()


def test_truncated_zip_names_the_file(tmp_path):
    good = write_dump(tmp_path, "BTCUSDT-1m-2024-01-01.zip", kline_csv(one_symbol()))
    cut = tmp_path / "BTCUSDT-1m-2024-01-02.zip"
    cut.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(DataError, match=r"BTCUSDT-1m-2024-01-02\.zip: truncated or corrupt ZIP"):
        read_binance_klines(cut)


def test_wrong_column_count_names_the_line(tmp_path):
    lines = _lines(one_symbol().head(5))
    lines[2] = ",".join(lines[2].split(",")[:11])
    path = tmp_path / "BTCUSDT-1m-2024-01-01.csv"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(
        DataError, match=r"BTCUSDT-1m-2024-01-01\.csv line 3: 11 fields, expected 12"
    ):
        read_binance_klines(path)
    lines[2] = lines[3] + ",7"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=r"line 3: 13 fields, expected 12"):
        read_binance_klines(path)


def test_non_numeric_field_names_line_and_column(tmp_path):
    lines = _lines(one_symbol().head(5))
    fields = lines[3].split(",")
    fields[2] = "12x.5"
    lines[3] = ",".join(fields)
    data = ("\n".join(lines) + "\n").encode()
    path = write_dump(tmp_path, "BTCUSDT-1m-2024-01-01.zip", data)
    with pytest.raises(
        DataError, match=r"\.zip!BTCUSDT-1m-2024-01-01\.csv line 4: column 'high' is '12x\.5'"
    ):
        read_binance_klines(path)


def test_timestamps_in_an_unknown_unit_are_refused(tmp_path):
    lines = _lines(one_symbol().head(3))
    lines = [",".join([str(k + 1), *line.split(",")[1:]]) for k, line in enumerate(lines)]
    path = tmp_path / "BTCUSDT-1m-2024-01-01.csv"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=r"timestamp 1 at row 0 is in an unknown unit"):
        read_binance_klines(path)


def test_a_file_mixing_ms_and_us_is_refused(tmp_path):
    bars = one_symbol().head(4)
    ms, us = kline_csv(bars.head(2)), kline_csv(bars.tail(2), unit="us")
    path = tmp_path / "BTCUSDT-1m-2024-01-01.csv"
    path.write_bytes(ms + us)
    with pytest.raises(DataError, match="mixed units"):
        read_binance_klines(path)


def test_a_file_whose_candles_do_not_match_its_name_is_refused(tmp_path):
    five = mmsim.synthetic_bars(("BTCUSDT",), days=1, interval="5m", seed=1, funding=False)
    path = tmp_path / "BTCUSDT-1m-2024-01-01.csv"
    path.write_bytes(kline_csv(five, interval_ms=300_000))
    with pytest.raises(DataError, match="for 1m bars but its candles last 5m"):
        read_binance_klines(path)


def test_mixed_intervals_across_files_name_both_files(tmp_path):
    one = one_symbol()
    five = mmsim.synthetic_bars(
        ("BTCUSDT",), days=1, interval="5m", seed=1, funding=False, start="2024-01-02"
    )
    (tmp_path / "a.csv").write_bytes(kline_csv(one))
    (tmp_path / "b.csv").write_bytes(kline_csv(five, interval_ms=300_000))
    with pytest.raises(
        DataError, match=r"mixed intervals for BTCUSDT: .*a\.csv has 1m bars but .*b\.csv has 5m"
    ):
        read_binance_klines([tmp_path / "a.csv", tmp_path / "b.csv"], symbol="BTCUSDT")


def test_monthly_and_daily_files_of_the_same_day_duplicate_candles(tmp_path):
    bars = one_symbol(days=2)
    write_dump(tmp_path, "BTCUSDT-1m-2024-01.zip", kline_csv(bars))
    write_dump(
        tmp_path, "BTCUSDT-1m-2024-01-02.zip", kline_csv(bars.filter(pl.col("ts").dt.day() == 2))
    )
    with pytest.raises(
        DataError, match=r"duplicated candle for BTCUSDT at 2024-01-02 00:00:00 .*1440 dup"
    ):
        read_binance_klines(tmp_path)
    with pytest.warns(DroppedRowsWarning) as caught:
        got = read_binance_klines(tmp_path, drop=["duplicates"])
    assert got["ts"].to_list() == bars["ts"].to_list()
    warning = caught[0].message
    assert (warning.problem, warning.count, warning.rows.height) == (
        "duplicates",
        1440,
        1000,
    )  # rows: first 1,000
    assert warning.rows["source"].n_unique() == 1  # the copies of one file were dropped


def test_conflicting_duplicates_are_an_error_even_when_dropping(tmp_path):
    bars = one_symbol().head(10)
    write_dump(tmp_path, "BTCUSDT-1m-2024-01.zip", kline_csv(bars))
    changed = bars.with_columns(pl.col("close") * 1.001, pl.col("high") * 1.001)
    write_dump(tmp_path, "BTCUSDT-1m-2024-01-01.zip", kline_csv(changed))
    with pytest.raises(DataError, match="conflicting candles for BTCUSDT"):
        read_binance_klines(tmp_path, drop=["duplicates"])


def test_inconsistent_ohlc_raises_or_is_dropped_and_counted(tmp_path):
    lines = _lines(one_symbol().head(6))
    fields = lines[4].split(",")
    fields[2] = str(float(fields[3]) - 1)  # high below low
    lines[4] = ",".join(fields)
    path = tmp_path / "BTCUSDT-1m-2024-01-01.csv"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=r"csv line 5: inconsistent OHLC .*pass drop=\['ohlc'\]"):
        read_binance_klines(path)
    with pytest.warns(DroppedRowsWarning, match=r"dropped 1 row\(s\) with inconsistent OHLC"):
        got = read_binance_klines(path, drop=["ohlc"])
    assert got.height == 5
    with pytest.raises(DataError, match="not a droppable problem"):
        read_binance_klines(path, drop=["everything"])


def test_archives_with_path_tricks_or_extra_members_are_refused(tmp_path):
    csv = kline_csv(one_symbol().head(3))
    evil = tmp_path / "BTCUSDT-1m-2024-01.zip"
    evil.write_bytes(zip_bytes({"../../evil.csv": csv}))
    with pytest.raises(DataError, match=r"unsafe path '\.\./\.\./evil\.csv' inside the ZIP"):
        read_binance_klines(evil)
    two = tmp_path / "ETHUSDT-1m-2024-01.zip"
    two.write_bytes(zip_bytes({"a.csv": csv, "b.csv": csv}))
    with pytest.raises(DataError, match="expected one CSV inside the ZIP"):
        read_binance_klines(two)


def test_crc_mismatch_inside_a_zip_is_reported(tmp_path):
    csv = kline_csv(one_symbol().head(200))
    path = tmp_path / "BTCUSDT-1m-2024-01.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("BTCUSDT-1m-2024-01.csv", csv)
    data = bytearray(path.read_bytes())
    # the stored body starts after the 30-byte local header and the name (the header holds the
    # write time, so searching for a byte there can land anywhere)
    at = 30 + len("BTCUSDT-1m-2024-01.csv") + 40
    data[at] = ord("9") if data[at] != ord("9") else ord("8")
    path.write_bytes(bytes(data))
    with pytest.raises(DataError, match=r"BTCUSDT-1m-2024-01\.zip: truncated or corrupt ZIP .*CRC"):
        read_binance_klines(path)


def test_a_file_that_is_not_a_kline_dump_says_so(tmp_path):
    path = tmp_path / "BTCUSDT-1m-2024-01-01.csv"
    path.write_text("timestamp,open,high,low,close,volume\n2024-01-01 00:00:00,1,2,0.5,1.5,10\n")
    with pytest.raises(DataError, match="not a Binance kline file.*mmsim.read_bars"):
        read_binance_klines(path)
