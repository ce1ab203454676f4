"""Binance kline dumps (data.binance.vision): monthly/daily `.zip` or `.csv`, spot or futures.

Layout, one candle per line, with or without a header line:
    open_time, open, high, low, close, volume, close_time, quote_volume, count,
    taker_buy_volume, taker_buy_quote_volume, ignore
open_time/close_time are ms since the epoch (µs in newer spot dumps, from 2025); volume and
taker_buy_volume are in base units, quote volumes in USDT. Files are named
`BTCUSDT-1m-2024-01.zip` (monthly) or `BTCUSDT-1m-2024-01-05.zip` (daily).

The bars frame keeps: ts (open time), symbol, open, high, low, close, volume, quote_volume,
trades (the `count` column), taker_buy_volume, taker_buy_quote_volume (all float64).
"""

from __future__ import annotations

import datetime as dt
import io
import re
from collections.abc import Collection, Iterable
from pathlib import Path

import attrs
import polars as pl

from mmsim.data.checks import DEFAULT_MAX_OPEN_JUMP, Source, check_drop, finish
from mmsim.data.errors import DataError
from mmsim.data.files import PathLike, data_suffix, expand_paths, read_zip_csv
from mmsim.data.timestamps import (
    detect_epoch_unit,
    epoch_reading,
    epoch_to_us,
    interval_name,
    interval_us,
    parse_bound,
    us_to_datetime,
)

KLINE_COLUMNS = (
    "open_time",
    "open",
    "high",
    "low",
    "close",
    "volume",
    "close_time",
    "quote_volume",
    "count",
    "taker_buy_volume",
    "taker_buy_quote_volume",
    "ignore",
)
_SCHEMA = {
    "open_time": pl.Int64,
    "open": pl.Float64,
    "high": pl.Float64,
    "low": pl.Float64,
    "close": pl.Float64,
    "volume": pl.Float64,
    "close_time": pl.Int64,
    "quote_volume": pl.Float64,
    "count": pl.Int64,
    "taker_buy_volume": pl.Float64,
    "taker_buy_quote_volume": pl.Float64,
    "ignore": pl.String,
}
_NAME = re.compile(
    r"(?P<symbol>[A-Z0-9]+)-(?P<interval>\d+[smhdw]|1M|1mo)-"
    r"(?P<year>\d{4})-(?P<month>\d{2})(?:-(?P<day>\d{2}))?\.(?:csv|zip)"
)


@attrs.frozen(slots=True)
class KlineFile:
    """What a dump's file name says: symbol, interval ('1m'), period covered [start, end)."""

    symbol: str
    interval: str
    start: dt.datetime
    end: dt.datetime

    @property
    def daily(self) -> bool:
        return self.end - self.start == dt.timedelta(days=1)


def parse_kline_name(path: PathLike) -> KlineFile | None:
    """KlineFile of 'BTCUSDT-1m-2024-01.zip' or 'BTCUSDT-1m-2024-01-05.csv'; else None."""
    match = _NAME.fullmatch(Path(path).name)
    if not match:
        return None
    year, month = int(match["year"]), int(match["month"])
    try:
        if match["day"]:
            start = dt.datetime(year, month, int(match["day"]))
            end = start + dt.timedelta(days=1)
        else:
            start = dt.datetime(year, month, 1)
            end = dt.datetime(year + month // 12, month % 12 + 1, 1)
    except ValueError:
        return None
    return KlineFile(match["symbol"], match["interval"], start, end)


def _first_line(data: bytes) -> str:
    return data[:4096].split(b"\n", 1)[0].decode("utf-8", "replace").strip().lstrip("\ufeff")


def _has_header(first: str, where: str) -> bool:
    head = first.split(",")[0].strip().strip('"').lower()
    if head == "open_time":
        return True
    if head.isdigit():
        return False
    raise DataError(
        f"{where} line 1: not a Binance kline file (starts with {first[:60]!r}; expected "
        "'open_time,...' or a row of numbers); use mmsim.read_bars for other layouts"
    )


def diagnose_csv(
    data: bytes, where: str, names: tuple[str, ...], numeric: Collection[str], header_lines: int
) -> DataError | None:
    """The first malformed line of a CSV as a DataError (field count, non-number), or None."""
    lines = data.decode("utf-8", "replace").splitlines()
    numeric_at = [k for k, n in enumerate(names) if n in numeric]
    for k, line in enumerate(lines[header_lines:], start=header_lines + 1):
        if not line.strip():
            continue
        fields = line.split(",")
        if len(fields) != len(names):
            return DataError(
                f"{where} line {k}: {len(fields)} fields, expected {len(names)} "
                f"({', '.join(names)})"
            )
        for j in numeric_at:
            text = fields[j].strip()
            try:
                float(text)
            except ValueError:
                return DataError(f"{where} line {k}: column {names[j]!r} is {text!r}, not a number")
    return None


def _read_one(
    path: Path, symbol: str | None, interval: str | None, k: int
) -> tuple[pl.DataFrame, Source]:
    where = str(path)
    info = parse_kline_name(path)
    symbol = symbol or (info.symbol if info else None)
    if not symbol:
        raise DataError(
            f"{where}: cannot tell the symbol from the file name; name it like "
            "BTCUSDT-1m-2024-01.zip or pass symbol="
        )
    if data_suffix(path) == ".zip":
        member, data = read_zip_csv(path)
        where = f"{path}!{member}"
    else:
        data = path.read_bytes()
    if not data.strip():
        raise DataError(f"{where}: empty file")
    header = _has_header(_first_line(data), where)
    try:
        raw = pl.read_csv(
            io.BytesIO(data),
            has_header=header,
            new_columns=list(KLINE_COLUMNS) if not header else None,
            schema=_SCHEMA,
            truncate_ragged_lines=False,
        )
        failed = None
    except pl.exceptions.PolarsError as exc:
        raw, failed = None, exc
    # a short line reads as nulls, a long or non-numeric one fails: find the line either way
    if failed is not None or raw.select(pl.any_horizontal(pl.all().is_null()).any()).item():
        numeric = [c for c in KLINE_COLUMNS if c != "ignore"]
        error = diagnose_csv(data, where, KLINE_COLUMNS, numeric, int(header))
        if error is not None:
            raise error
        if failed is not None:
            raise DataError(f"{where}: cannot parse the file as a Binance kline dump ({failed})")
    unit = detect_epoch_unit(raw["open_time"], where)
    factor = {"s": 1_000_000, "ms": 1_000, "us": 1, "ns": 0.001}[unit]
    lengths = ((raw["close_time"] - raw["open_time"] + 1) * factor).round(0).cast(pl.Int64)
    length = int(lengths.mode().min())
    wanted = interval or (info.interval if info else None)
    if wanted is not None and wanted not in ("1M", "1mo") and interval_us(wanted) != length:
        raise DataError(
            f"{where}: the file is for {wanted} bars but its candles last {interval_name(length)} "
            "(close_time - open_time)"
        )
    frame = raw.select(
        us_to_datetime(epoch_to_us(pl.col("open_time"), unit)).alias("ts"),
        pl.lit(symbol, pl.String).alias("symbol"),
        "open",
        "high",
        "low",
        "close",
        "volume",
        "quote_volume",
        pl.col("count").alias("trades"),
        "taker_buy_volume",
        "taker_buy_quote_volume",
        pl.lit(k, pl.UInt32).alias("_src"),
        (pl.int_range(pl.len(), dtype=pl.UInt32) + 1 + int(header)).alias("_pos"),
    )
    return frame, Source(where, "line", time=epoch_reading(unit, detected=True))


def binance_rows(
    paths: Iterable[Path],
    *,
    symbol: str | None = None,
    interval: str | None = None,
    symbols: Collection[str] | None = None,
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
    first_source: int = 0,
) -> tuple[pl.DataFrame | None, list[Source]]:
    """Unchecked rows of dump files (see `checks.finish`); skips files outside the window."""
    frames, sources = [], []
    for path in paths:
        info = parse_kline_name(path)
        if info is not None and symbol is None:
            if symbols is not None and info.symbol not in symbols:
                continue
            if (start is not None and info.end <= start) or (end is not None and info.start >= end):
                continue
        frame, source = _read_one(path, symbol, interval, first_source + len(sources))
        if symbols is not None:
            frame = frame.filter(pl.col("symbol").is_in(list(symbols)))
        frames.append(_window(frame, start, end))
        sources.append(source)
    return (pl.concat(frames, how="vertical") if frames else None), sources


def _window(
    frame: pl.DataFrame, start: dt.datetime | None, end: dt.datetime | None
) -> pl.DataFrame:
    if start is not None:
        frame = frame.filter(pl.col("ts") >= start)
    if end is not None:
        frame = frame.filter(pl.col("ts") < end)
    return frame


def read_binance_klines(
    paths_or_glob: PathLike | Iterable[PathLike],
    symbol: str | None = None,
    *,
    interval: str | None = None,
    start: str | dt.date | dt.datetime | None = None,
    end: str | dt.date | dt.datetime | None = None,
    drop: Collection[str] = (),
    max_open_jump: float | None = DEFAULT_MAX_OPEN_JUMP,
) -> pl.DataFrame:
    """Read Binance kline dumps (`.zip` as downloaded, or `.csv`) into a bars frame.

    paths_or_glob: a file, a folder (searched recursively), a glob ('data/BTCUSDT-1m-*.zip') or
    a list of them. symbol/interval: taken from each file name ('BTCUSDT-1m-2024-01.zip') unless
    given. start/end: keep bars opening in [start, end) (a bare end date includes that day).
    drop: problems to drop (counted, `DroppedRowsWarning`) instead of raising: 'duplicates'
    (identical candles, e.g. a monthly and a daily file of the same day), 'ohlc' (a
    non-positive price, high/low not bracketing open and close, negative volume), 'jumps'.
    max_open_jump: an open further than this fraction from the previous close (from its own
    close at a first bar) is a bad print, 'jumps' (None: no check).
    Raises DataError naming the file and line for a truncated ZIP, a wrong column count, a
    non-numeric field, timestamps in an unknown unit, mixed intervals, duplicated candles or
    inconsistent OHLC.
    """
    files = [p for p in expand_paths(paths_or_glob, (".zip", ".csv"))]
    rows, sources = binance_rows(
        files,
        symbol=symbol,
        interval=interval,
        start=parse_bound(start, end=False),
        end=parse_bound(end, end=True),
    )
    if rows is None:
        raise DataError(
            f"no Binance kline files for the window {start} .. {end} in {paths_or_glob!r}"
        )
    return finish(rows, sources, drop=check_drop(drop), max_open_jump=max_open_jump)


__all__ = ["KLINE_COLUMNS", "KlineFile", "parse_kline_name", "read_binance_klines"]
