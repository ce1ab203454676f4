"""The checks every loader runs on parsed rows before they become a bars frame.

Rows arrive with two bookkeeping columns, `_src` (index into the list of sources) and `_pos`
(the 1-based line of a CSV file, or the 0-based row of a JSON/Parquet file), so every error can
name the file and the line. Nothing is dropped unless the caller lists the problem in `drop`;
then the rows are counted and reported as a `DroppedRowsWarning`.
"""

from __future__ import annotations

import warnings
from collections.abc import Collection, Sequence

import attrs
import numpy as np
import polars as pl

from mmsim.core.bars import PRICES, SYMBOL_PATTERN, bad_symbol
from mmsim.data.errors import DataError, DroppedRowsWarning
from mmsim.data.timestamps import EARLIEST, LATEST, interval_name

OHLCV = (*PRICES, "volume")
DROPPABLE = ("duplicates", "ohlc", "jumps")
# An open more than 50% away from the bar before it is a bad print, not a market: real crashes
# and wicks move high/low and close, while the next bar still opens at the previous close.
DEFAULT_MAX_OPEN_JUMP = 0.5


@attrs.frozen(slots=True)
class Source:
    """Where rows came from: a name for messages, how positions are counted ('line' or 'row')
    and how its times were read ('epoch ms, detected', 'ISO text', ...; empty if unknown)."""

    name: str
    unit: str = "line"
    time: str = ""


def check_drop(drop: Collection[str]) -> frozenset[str]:
    """Validate the caller's `drop` list: only the problems in DROPPABLE may be dropped."""
    if isinstance(drop, str):
        drop = (drop,)
    unknown = sorted(set(drop) - set(DROPPABLE))
    if unknown:
        raise DataError(f"drop={unknown!r} is not a droppable problem; choose from {DROPPABLE}")
    return frozenset(drop)


def _where(frame: pl.DataFrame, sources: Sequence[Source], k: int = 0) -> str:
    row = frame.row(k, named=True)
    src = sources[row["_src"]]
    return f"{src.name} {src.unit} {row['_pos']}"


def _check_time_range(frame: pl.DataFrame, sources: Sequence[Source]) -> pl.DataFrame:
    """Refuse a time no market has traded at (before 1980, from 2100 on): a misread unit."""
    rows = frame.filter((pl.col("ts") < EARLIEST) | (pl.col("ts") >= LATEST))
    if rows.height:
        read = sources[rows["_src"][0]].time
        raise DataError(
            f"{_where(rows, sources)} (symbol {rows['symbol'][0]!r}): time {rows['ts'][0]} is "
            f"not a market time (expected {EARLIEST:%Y} .. {LATEST:%Y})"
            + (f"; its times were read as {read}" if read else "")
            + "; check the time column and its unit"
        )
    return frame


def _values(row: dict) -> str:
    return ", ".join(f"{c}={row[c]}" for c in OHLCV if c in row)


def _source_names(rows: pl.DataFrame, sources: Sequence[Source]) -> str:
    names = [sources[i].name for i in rows["_src"].unique().sort().to_list()]
    return names[0] if len(names) == 1 else f"{len(names)} files ({names[0]}, ...)"


def _report(problem: str, rows: pl.DataFrame, sources: Sequence[Source]) -> None:
    named = (
        rows.head(1000)
        .with_columns(
            pl.col("_src")
            .replace_strict(
                list(range(len(sources))), [s.name for s in sources], return_dtype=pl.String
            )
            .alias("source")
        )
        .rename({"_pos": "position"})
        .drop("_src")
    )
    warnings.warn(
        DroppedRowsWarning(problem, rows.height, _source_names(rows, sources), named), stacklevel=5
    )


def _apply(
    frame: pl.DataFrame,
    bad: pl.Expr,
    problem: str,
    describe,
    sources: Sequence[Source],
    drop: frozenset[str],
    kind: str,
) -> pl.DataFrame:
    """Raise on the first row matching `bad`, or drop them all (counted) when `kind` is in drop."""
    mask = frame.select(bad.fill_null(False)).to_series()
    if not mask.any():
        return frame
    rows = frame.filter(mask)
    if kind not in drop:
        first = rows.row(0, named=True)
        more = f" ({rows.height} such rows; pass drop=[{kind!r}] to drop them)"
        raise DataError(f"{_where(rows, sources)}: {problem}: {describe(first)}{more}")
    _report(problem, rows, sources)
    return frame.filter(~mask)


def finish(
    frame: pl.DataFrame,
    sources: Sequence[Source],
    *,
    drop: frozenset[str] = frozenset(),
    max_open_jump: float | None = DEFAULT_MAX_OPEN_JUMP,
) -> pl.DataFrame:
    """Check parsed rows and return them as a bars frame sorted by (ts, symbol).

    frame: ts (Datetime us), symbol (String), open, high, low, close, volume, extras, _src, _pos.
    Raises DataError for: a missing value; an infinite number (in any column) or a NaN funding_rate;
    a time outside 1980 .. 2100 (not a market's); a symbol that is not a plain name; a
    non-positive price; high below max(open, close) or low above min(open, close) ("ohlc"); the same
    candle twice ("duplicates", dropped only when identical); bars of one symbol on different
    intervals (from different files, or steps that are not multiples of the symbol's interval);
    an open that jumps by more than max_open_jump (a fraction) from the previous bar's close, or
    from its own close at a symbol's first bar or after a gap ("jumps", a bad print such as
    CryptoDataDownload's first BTC candle).
    """
    if frame.height == 0:
        names = ", ".join(s.name for s in sources)
        raise DataError(f"{names}: no bars")
    for column in ("ts", "symbol", *OHLCV):
        missing = pl.col(column).is_null()
        if frame.schema[column].is_float():
            missing = missing | pl.col(column).is_nan()
        rows = frame.filter(missing)
        if rows.height:
            raise DataError(f"{_where(rows, sources)}: missing value in column {column!r}")
    for column, dtype in frame.schema.items():  # every number must be finite, extras too
        bad = pl.col(column).is_infinite()
        if column == "funding_rate":
            bad = bad | pl.col(column).is_nan()
        rows = frame.filter(bad) if dtype.is_float() else frame.clear()
        if rows.height:
            value = rows[column][0]
            raise DataError(
                f"{_where(rows, sources)} (symbol {rows['symbol'][0]!r}): {value} in column "
                f"{column!r}; every number must be finite"
            )
    frame = _check_time_range(frame, sources)
    rows = frame.filter(~pl.col("symbol").str.contains(SYMBOL_PATTERN))
    if rows.height:
        raise DataError(f"{_where(rows, sources)}: {bad_symbol(rows['symbol'][0])}")
    frame = _apply(
        frame, pl.min_horizontal(*PRICES) <= 0, "non-positive price", _values, sources, drop, "ohlc"
    )
    frame = _apply(
        frame,
        (pl.col("high") < pl.max_horizontal("open", "close", "low"))
        | (pl.col("low") > pl.min_horizontal("open", "close")),
        "inconsistent OHLC (need low <= open, close <= high)",
        _values,
        sources,
        drop,
        "ohlc",
    )
    frame = _apply(frame, pl.col("volume") < 0, "negative volume", _values, sources, drop, "ohlc")
    _check_file_intervals(frame, sources)  # before duplicates: a 1h file repeats 1m opens
    frame = frame.sort("symbol", "ts", "_src", "_pos")
    frame = _dedupe(frame, sources, drop)
    interval = _check_intervals(frame, sources)
    if max_open_jump is not None:
        frame = _check_jumps(frame, interval, max_open_jump, sources, drop)
    extras = [c for c in frame.columns if c not in ("ts", "symbol", *OHLCV, "_src", "_pos")]
    return frame.sort("ts", "symbol").select(
        pl.col("ts").cast(pl.Datetime("us")),
        pl.col("symbol").cast(pl.Categorical),
        *(pl.col(c).cast(pl.Float64) for c in (*OHLCV, *extras)),
    )


def _dedupe(frame: pl.DataFrame, sources: Sequence[Source], drop: frozenset[str]) -> pl.DataFrame:
    same = (pl.col("symbol") == pl.col("symbol").shift(1)) & (pl.col("ts") == pl.col("ts").shift(1))
    if not frame.select(same.fill_null(False).any()).item():
        return frame
    values = [c for c in frame.columns if c not in ("ts", "symbol", "_src", "_pos")]
    identical = pl.all_horizontal(*(pl.col(c).eq_missing(pl.col(c).shift(1)) for c in values))
    marked = frame.with_columns(
        same.fill_null(False).alias("_dup"),
        identical.fill_null(False).alias("_same"),
        pl.col("_src").shift(1).alias("_prev_src"),
        pl.col("_pos").shift(1).alias("_prev_pos"),
    )
    conflicts = marked.filter(pl.col("_dup") & ~pl.col("_same"))
    if conflicts.height:
        row = conflicts.row(0, named=True)
        prev = sources[row["_prev_src"]]
        raise DataError(
            f"{_where(conflicts, sources)}: conflicting candles for {row['symbol']} "
            f"at {row['ts']}: "
            f"{_values(row)} differs from {prev.name} {prev.unit} {row['_prev_pos']} "
            f"({conflicts.height} such rows); fix or remove one of the files"
        )
    dups = marked.filter(pl.col("_dup"))
    if "duplicates" not in drop:
        row = dups.row(0, named=True)
        prev = sources[row["_prev_src"]]
        raise DataError(
            f"{_where(dups, sources)}: duplicated candle for {row['symbol']} at {row['ts']} "
            f"(same as {prev.name} {prev.unit} {row['_prev_pos']}; {dups.height} duplicated rows; "
            "pass drop=['duplicates'] to keep one of each)"
        )
    _report("duplicates", dups.drop("_dup", "_same", "_prev_src", "_prev_pos"), sources)
    return marked.filter(~pl.col("_dup")).drop("_dup", "_same", "_prev_src", "_prev_pos")


def _check_jumps(
    frame: pl.DataFrame,
    interval: pl.DataFrame,
    max_jump: float,
    sources: Sequence[Source],
    drop: frozenset[str],
) -> pl.DataFrame:
    """Frame sorted by (symbol, ts); interval: symbol -> _interval (µs)."""
    if max_jump <= 0:
        raise DataError(f"max_open_jump must be > 0 (a fraction, 0.5 = 50%), got {max_jump}")
    symbols, steps = interval["symbol"].to_list(), interval["_interval"].to_list()
    # a per-row lookup rather than a join, so the wide frame is never copied
    expected = pl.col("symbol").replace_strict(symbols, steps, default=None, return_dtype=pl.Int64)
    us = pl.col("ts").dt.epoch("us")
    same_symbol = pl.col("symbol") == pl.col("symbol").shift(1)
    follows = (same_symbol & ((us - us.shift(1)) == expected)).fill_null(False)
    reference = pl.when(follows).then(pl.col("close").shift(1)).otherwise(pl.col("close"))
    jump = (pl.col("open") / reference).log().abs()
    return _apply(
        frame,
        jump > float(np.log1p(max_jump)),
        f"implausible open (more than {max_jump:.0%} away from the previous close, or from its "
        "own close at a first bar; a bad print?)",
        lambda row: _values(row) + " (raise max_open_jump if it is real)",
        sources,
        drop,
        "jumps",
    )


def _check_file_intervals(frame: pl.DataFrame, sources: Sequence[Source]) -> None:
    """The files of one symbol have the same typical step (1m and 1h files of it do not mix)."""
    if len(sources) < 2:
        return
    us = pl.col("ts").dt.epoch("us")
    per_file = (
        frame.select("symbol", "_src", "ts")
        .sort("symbol", "_src", "ts")
        .with_columns((us - us.shift(1)).over("symbol", "_src").alias("_step"))
        .group_by("symbol", "_src", maintain_order=True)
        .agg(pl.col("_step").drop_nulls().mode().min().alias("_interval"))
        .drop_nulls("_interval")
    )
    mixed = per_file.filter(pl.col("_interval").n_unique().over("symbol") > 1)
    if mixed.height == 0:
        return
    symbol = mixed["symbol"][0]
    files = mixed.filter(pl.col("symbol") == symbol)
    a = files.row(0, named=True)
    b = files.filter(pl.col("_interval") != a["_interval"]).row(0, named=True)
    name_a, name_b = interval_name(a["_interval"]), interval_name(b["_interval"])
    raise DataError(
        f"mixed intervals for {symbol}: {sources[a['_src']].name} has {name_a} bars but "
        f"{sources[b['_src']].name} has {name_b} bars (files of different intervals in one "
        f"source); load one interval (pass interval={name_a!r} to read only Binance dumps of it) "
        "or move the other files away"
    )


def _check_intervals(frame: pl.DataFrame, sources: Sequence[Source]) -> pl.DataFrame:
    """Each symbol's bars share one interval: every step is a multiple of its typical step.

    Returns each symbol's interval in µs (symbol, _interval; null for a single bar).
    """
    us = pl.col("ts").dt.epoch("us")
    steps = frame.with_columns(
        (us - us.shift(1)).over("symbol").alias("_step"),
    )
    interval = steps.group_by("symbol", maintain_order=True).agg(
        pl.col("_step").drop_nulls().mode().min().alias("_interval")
    )
    off = steps.join(interval, on="symbol").filter(
        pl.col("_step").is_not_null() & (pl.col("_step") % pl.col("_interval") != 0)
    )
    if off.height:
        row = off.row(0, named=True)
        raise DataError(
            f"{_where(off, sources)}: mixed intervals for {row['symbol']}: the bar at {row['ts']} "
            f"opens {row['_step'] / 1e6:g} s after the previous one, but {row['symbol']} bars are "
            f"every {interval_name(row['_interval'])}"
        )
    return interval


__all__ = ["DEFAULT_MAX_OPEN_JUMP", "DROPPABLE", "Source", "check_drop", "finish"]
