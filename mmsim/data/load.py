"""One entry point for every source: `load_bars(path)` -> an aligned bars frame to backtest."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Collection, Iterable, Mapping, Sequence
from pathlib import Path

import polars as pl

from mmsim.data.align import align_bars
from mmsim.data.binance import binance_rows, parse_kline_name
from mmsim.data.checks import DEFAULT_MAX_OPEN_JUMP, Source, check_drop, finish
from mmsim.data.errors import DataError
from mmsim.data.files import PathLike, data_suffix, expand_paths
from mmsim.data.readers import table_rows
from mmsim.data.resample import resample_bars
from mmsim.data.timestamps import parse_bound

CACHE_SUFFIXES = (".parquet", ".pq")


def _is_binance(path: Path) -> bool:
    suffix = data_suffix(path)
    return suffix == ".zip" or (suffix == ".csv" and parse_kline_name(path) is not None)


def _any_folder(source: PathLike | Iterable[PathLike]) -> bool:
    items = [source] if isinstance(source, str | os.PathLike) else list(source)
    return any(Path(os.fspath(s)).expanduser().is_dir() for s in items)


def load_bars(
    source: PathLike | Iterable[PathLike],
    *,
    symbols: Collection[str] | None = None,
    start: str | dt.date | dt.datetime | None = None,
    end: str | dt.date | dt.datetime | None = None,
    interval: str | None = None,
    resample: str | None = None,
    missing: str = "skip",
    span: str = "union",
    symbol: str | None = None,
    columns: Mapping[str, str] | Sequence[str] | None = None,
    time_unit: str | None = None,
    time_format: str | None = None,
    label: str = "open",
    separator: str = ",",
    drop: Collection[str] = (),
    max_open_jump: float | None = DEFAULT_MAX_OPEN_JUMP,
) -> pl.DataFrame:
    """Load bars from any source mmsim reads, aligned for `backtest(..., allow_gaps=True)`.

    source: a file, a folder (searched recursively), a glob, or a list of them, holding
    - a Parquet cache (`mmsim data fetch` writes one; any bars-layout Parquet works). A folder
      that holds Parquet files is read as a cache: only its Parquet files are loaded;
    - Binance kline dumps: `.zip` as downloaded, or `.csv` named like BTCUSDT-1m-2024-01.csv;
    - generic CSV / Parquet / Feather / freqtrade JSON files (see `read_bars`).
    symbols: keep only these; start/end: keep bars opening in [start, end) (a bare end date
    includes that day); interval: the bar length every file must have ('1m'); resample:
    aggregate to this interval after loading ('5m', '1h'); missing/span: the alignment policy
    (`align_bars`: "skip" leaves absent rows, the engine's None bar); the other options are
    those of `read_bars` and `read_binance_klines` (drop: 'duplicates', 'ohlc', 'jumps').
    Returns a frame sorted by (ts, symbol): ts Datetime(us) UTC bar open, symbol Categorical,
    float64 prices, volumes and extra columns.
    """
    return _load(**locals())[0]  # locals(): exactly the arguments, as given


def load_with_sources(source, **options) -> tuple[pl.DataFrame, list[Source]]:
    """`load_bars(source, **options)` and the files read, each saying how its times were read
    (`Source.time`: 'epoch milliseconds (detected)', 'ISO text', ...)."""
    return _load(source, **options)


def _load(
    source: PathLike | Iterable[PathLike],
    *,
    symbols: Collection[str] | None = None,
    start: str | dt.date | dt.datetime | None = None,
    end: str | dt.date | dt.datetime | None = None,
    interval: str | None = None,
    resample: str | None = None,
    missing: str = "skip",
    span: str = "union",
    symbol: str | None = None,
    columns: Mapping[str, str] | Sequence[str] | None = None,
    time_unit: str | None = None,
    time_format: str | None = None,
    label: str = "open",
    separator: str = ",",
    drop: Collection[str] = (),
    max_open_jump: float | None = DEFAULT_MAX_OPEN_JUMP,
) -> tuple[pl.DataFrame, list[Source]]:
    files = expand_paths(source)
    if _any_folder(source) and any(data_suffix(f) in CACHE_SUFFIXES for f in files):
        files = [f for f in files if data_suffix(f) in CACHE_SUFFIXES]
    begin, finish_at = parse_bound(start, end=False), parse_bound(end, end=True)
    wanted = None if symbols is None else {str(s).upper() for s in symbols}
    dumps = [f for f in files if _is_binance(f)]
    others = [f for f in files if not _is_binance(f)]
    rows_b, sources = binance_rows(
        dumps, symbol=symbol, interval=interval, symbols=wanted, start=begin, end=finish_at
    )
    rows_t, sources_t = table_rows(
        others,
        symbol=symbol,
        symbols=wanted,
        columns=columns,
        time_unit=time_unit,
        time_format=time_format,
        label=label,
        separator=separator,
        start=begin,
        end=finish_at,
        first_source=len(sources),
    )
    parts = [r for r in (rows_b, rows_t) if r is not None and r.height]
    if not parts:
        scope = f" for symbols {sorted(wanted)}" if wanted else ""
        raise DataError(f"no bars in {source!r}{scope} for the window {start} .. {end}")
    rows = parts[0] if len(parts) == 1 else pl.concat(parts, how="diagonal_relaxed")
    bars = finish(rows, sources + sources_t, drop=check_drop(drop), max_open_jump=max_open_jump)
    if resample is not None:
        bars = resample_bars(bars, resample)
    aligned = align_bars(bars, missing=missing, span=span, interval=None if resample else interval)
    return aligned, sources + sources_t


__all__ = ["load_bars", "load_with_sources"]
