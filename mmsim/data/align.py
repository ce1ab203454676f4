"""Several symbols on one timestamp grid, an explicit policy for missing bars, and a gap report.

Policy (`missing=`), for a symbol with no bar at a timestamp where another symbol has one:
- "skip" (default): the row stays absent. The engine (`backtest(..., allow_gaps=True)`) then
  gives that symbol None at that step: it does not quote, nothing of it fills, and its mark
  (and so the account's equity) carries forward from its last close.
- "inner": keep only timestamps where every symbol has a bar (the dropped rows are counted in
  a DroppedRowsWarning).
- "ffill": add a flat bar at the previous close with zero volume (column `filled` is True on
  those rows). Strategies then quote into bars nobody traded in; nothing fills there because a
  flat bar never trades through a quote. Leading gaps (before a symbol's first bar) stay absent.
Gaps are measured on the grid of the frame's interval, from the first to the last timestamp of
any symbol (`span="union"`), or only where all symbols have started and not yet ended
(`span="common"`, which drops the rows outside it).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable

import polars as pl

from mmsim.data.errors import DataError, DroppedRowsWarning
from mmsim.data.timestamps import interval_name
from mmsim.data.timestamps import interval_us as parse_interval

MISSING = ("skip", "inner", "ffill")
SPANS = ("union", "common")
# Extra columns that count things within a bar: they sum when bars merge and are 0 in a filled bar.
ADDITIVE = ("quote_volume", "trades", "taker_buy_volume", "taker_buy_quote_volume", "funding_rate")


def is_additive(column: str) -> bool:
    """True for volume-like columns (summed over merged bars, zero in a filled one)."""
    return column in ADDITIVE or column == "volume" or column.endswith("_volume")


def _epoch(column: str = "ts") -> pl.Expr:
    return pl.col(column).dt.epoch("us")


def symbol_intervals(bars: pl.DataFrame) -> pl.DataFrame:
    """Each symbol's bar interval in µs: its most common step (null for a symbol with one bar)."""
    return (
        bars.select("symbol", "ts")
        .sort("symbol", "ts")
        .with_columns((_epoch() - _epoch().shift(1)).over("symbol").alias("_step"))
        .group_by("symbol", maintain_order=True)
        .agg(pl.col("_step").drop_nulls().mode().min().alias("interval_us"), pl.len().alias("bars"))
    )


def bars_interval(bars: pl.DataFrame, interval: str | int | None = None) -> int:
    """The bar interval (µs) shared by all symbols: each symbol's most common step.

    Raises DataError when symbols differ. With `interval` given (needed when a symbol is so
    sparse that its most common step is a gap), checks instead that every step of every
    symbol is a whole multiple of it.
    """
    if interval is not None:
        wanted = parse_interval(interval)
        steps = (
            bars.select("symbol", "ts")
            .sort("symbol", "ts")
            .with_columns((_epoch() - _epoch().shift(1)).over("symbol").alias("_step"))
        )
        off = steps.filter(pl.col("_step").is_not_null() & (pl.col("_step") % wanted != 0))
        if off.height:
            row = off.row(0, named=True)
            raise DataError(
                f"{row['symbol']} bar at {row['ts']} opens {row['_step'] / 1e6:g} s after the one "
                f"before: not on a {interval_name(wanted)} grid; resample first "
                "(mmsim.resample_bars)"
            )
        return wanted
    per_symbol = symbol_intervals(bars).drop_nulls("interval_us")
    found = per_symbol["interval_us"].unique().sort().to_list()
    if not found:
        raise DataError(
            "cannot tell the bar interval: every symbol has a single bar; pass interval="
        )
    if len(found) > 1:
        listing = ", ".join(
            f"{s} {interval_name(i)}"
            for s, i in per_symbol.select("symbol", "interval_us").iter_rows()
        )
        raise DataError(
            f"mixed intervals across symbols ({listing}); resample them to one interval first "
            "(mmsim.resample_bars), or pass interval= if a sparse symbol misleads the guess"
        )
    return found[0]


def _combine(bars: pl.DataFrame | Iterable[pl.DataFrame]) -> pl.DataFrame:
    if isinstance(bars, pl.DataFrame):
        frame = bars
    else:
        frames = list(bars)
        if not frames:
            raise DataError("no bars frames to align")
        frame = pl.concat(
            [f.with_columns(pl.col("symbol").cast(pl.String)) for f in frames],
            how="diagonal_relaxed",
        )
    missing = [
        c
        for c in ("ts", "symbol", "open", "high", "low", "close", "volume")
        if c not in frame.columns
    ]
    if missing:
        raise DataError(f"bars frame is missing column(s) {missing}")
    if not isinstance(frame.schema["ts"], pl.Datetime):
        raise DataError(f"column 'ts' must be a Datetime, got {frame.schema['ts']}")
    frame = frame.with_columns(pl.col("symbol").cast(pl.String))
    ts, sym = pl.col("ts"), pl.col("symbol")
    increasing = (ts > ts.shift(1)) | ((ts == ts.shift(1)) & (sym > sym.shift(1)))
    if frame.select(increasing.fill_null(True).all()).item():
        return frame  # already in (ts, symbol) order with no repeat: nothing to copy
    # sorted by (ts, symbol), the order the engine reads; a duplicate sits next to its twin
    frame = frame.sort("ts", "symbol")
    same = (pl.col("symbol") == pl.col("symbol").shift(1)) & (pl.col("ts") == pl.col("ts").shift(1))
    dup = frame.filter(same.fill_null(False))
    if dup.height:
        row = dup.row(0, named=True)
        raise DataError(
            f"duplicated candle for {row['symbol']} at {row['ts']} ({dup.height} rows); "
            "load with drop=['duplicates'] or deduplicate first"
        )
    return frame


def _check_grid(frame: pl.DataFrame, interval: int) -> None:
    phase = frame.select((_epoch() % interval).alias("phase"), "symbol", "ts")
    first = phase.row(0, named=True)
    off = phase.filter(pl.col("phase") != first["phase"])
    if off.height:
        row = off.row(0, named=True)
        raise DataError(
            f"{row['symbol']} bar at {row['ts']} is off the {interval_name(interval)} grid of "
            f"{first['symbol']} (bar at {first['ts']}) by "
            f"{(row['phase'] - first['phase']) / 1e6:g} s"
        )


def _spans(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.group_by("symbol", maintain_order=True).agg(
        pl.col("ts").min().alias("first"), pl.col("ts").max().alias("last")
    )


def align_bars(
    bars: pl.DataFrame | Iterable[pl.DataFrame],
    *,
    missing: str = "skip",
    span: str = "union",
    interval: str | int | None = None,
) -> pl.DataFrame:
    """Put symbols on one timestamp grid by the module's policy; returns it sorted by (ts, symbol).

    bars: a long bars frame or several (e.g. one per symbol; extra columns may differ).
    missing: "skip" (absent rows, run with allow_gaps=True), "inner" or "ffill" (module docstring).
    span: "union" (all timestamps) or "common" (only where every symbol has started and not ended).
    Raises DataError for mixed intervals, bars off a common grid or duplicated candles.
    """
    if missing not in MISSING:
        raise DataError(f"missing={missing!r}: choose one of {MISSING}")
    if span not in SPANS:
        raise DataError(f"span={span!r}: choose one of {SPANS}")
    frame = _combine(bars)
    step = bars_interval(frame, interval)
    _check_grid(frame, step)
    n_symbols = frame["symbol"].n_unique()
    if span == "common":
        spans = _spans(frame)
        start, end = spans["first"].max(), spans["last"].min()
        if start > end:
            raise DataError(
                f"the symbols never all have bars at once (latest start {start}, "
                f"earliest end {end})"
            )
        outside = (pl.col("ts") < start) | (pl.col("ts") > end)
        frame = _drop_reported(frame, outside, "bars outside the common span")
    if missing == "inner":
        frame = _drop_reported(
            frame, pl.len().over("ts") < n_symbols, "timestamps where a symbol has no bar"
        )
    elif missing == "ffill":
        frame = _forward_fill(frame, step)
    if missing != "skip":
        frame = frame.sort("ts", "symbol")
    return frame.with_columns(pl.col("symbol").cast(pl.Categorical))


def _drop_reported(frame: pl.DataFrame, condition: pl.Expr, problem: str) -> pl.DataFrame:
    mask = frame.select(condition.alias("_m")).to_series()
    if mask.any():
        rows = frame.filter(mask)
        warnings.warn(
            DroppedRowsWarning(problem, rows.height, "the bars frame", rows.head(1000)),
            stacklevel=3,
        )
        frame = frame.filter(~mask)
    return frame


def _forward_fill(frame: pl.DataFrame, step: int) -> pl.DataFrame:
    last = frame["ts"].max()
    grid = (
        _spans(frame)
        .with_columns(
            pl.datetime_ranges(
                pl.col("first"), pl.lit(last), interval=f"{step}us", time_unit="us"
            ).alias("ts")
        )
        .select("symbol", "ts")
        .explode("ts")
    )
    values = [c for c in frame.columns if c not in ("ts", "symbol")]
    full = grid.join(
        frame.with_columns(pl.col("ts").cast(pl.Datetime("us"))), on=["symbol", "ts"], how="left"
    )
    filled = full.sort("symbol", "ts").with_columns(pl.col("close").is_null().alias("filled"))
    prev_close = pl.col("close").forward_fill().over("symbol")
    fills = []
    for c in values:
        if c in ("open", "high", "low", "close"):
            fills.append(pl.when(pl.col("filled")).then(prev_close).otherwise(pl.col(c)).alias(c))
        elif is_additive(c):
            fills.append(pl.when(pl.col("filled")).then(0.0).otherwise(pl.col(c)).alias(c))
        else:
            fills.append(pl.col(c).forward_fill().over("symbol").alias(c))
    return filled.with_columns(fills).select("ts", "symbol", *values, "filled")


def gap_report(bars: pl.DataFrame, *, interval: str | int | None = None) -> pl.DataFrame:
    """Every run of missing bars per symbol on the frame's grid, as a frame.

    Columns: symbol, kind ("leading": before the symbol's first bar, "gap": between two of its
    bars, "trailing": after its last bar, measured against the first and last timestamps of any
    symbol), start and end (open times of the first and last missing bar), missing_bars.
    Rows of `align_bars(..., missing="ffill")` that were filled count as missing.
    """
    frame = _combine(bars)
    if "filled" in frame.columns:
        frame = frame.filter(~pl.col("filled").fill_null(False))
    step = bars_interval(frame, interval)
    us = pl.duration(microseconds=step)
    first, last = frame["ts"].min(), frame["ts"].max()
    inner = (
        frame.select("symbol", "ts")
        .sort("symbol", "ts")
        .with_columns(pl.col("ts").shift(1).over("symbol").alias("prev"))
        .filter(pl.col("prev").is_not_null() & ((pl.col("ts") - pl.col("prev")) > us))
        .select(
            "symbol",
            pl.lit("gap").alias("kind"),
            (pl.col("prev") + us).alias("start"),
            (pl.col("ts") - us).alias("end"),
        )
    )
    spans = _spans(frame)
    leading = spans.filter(pl.col("first") > first).select(
        "symbol",
        pl.lit("leading").alias("kind"),
        pl.lit(first).alias("start"),
        (pl.col("first") - us).alias("end"),
    )
    trailing = spans.filter(pl.col("last") < last).select(
        "symbol",
        pl.lit("trailing").alias("kind"),
        (pl.col("last") + us).alias("start"),
        pl.lit(last).alias("end"),
    )
    gaps = pl.concat(
        [
            g.with_columns(pl.col("start", "end").cast(pl.Datetime("us")))
            for g in (leading, inner, trailing)
        ]
    )
    return gaps.with_columns(
        ((_epoch("end") - _epoch("start")) // step + 1).alias("missing_bars"),
        pl.col("symbol").cast(pl.String),
    ).sort("start", "symbol")


def describe_bars(bars: pl.DataFrame) -> pl.DataFrame:
    """Per symbol: interval, first/last bar, bars, missing bars in its span, zero-volume bars."""
    frame = _combine(bars)
    per = symbol_intervals(frame)
    summary = frame.group_by("symbol", maintain_order=True).agg(
        pl.col("ts").min().alias("first"),
        pl.col("ts").max().alias("last"),
        (pl.col("volume") == 0).sum().alias("zero_volume_bars"),
    )
    out = per.join(summary, on="symbol").with_columns(
        pl.when(pl.col("interval_us").is_not_null())
        .then((_epoch("last") - _epoch("first")) // pl.col("interval_us") + 1 - pl.col("bars"))
        .alias("missing_bars"),
        pl.col("interval_us").map_elements(interval_name, return_dtype=pl.String).alias("interval"),
    )
    return out.select(
        pl.col("symbol").cast(pl.String),
        "interval",
        "first",
        "last",
        "bars",
        "missing_bars",
        "zero_volume_bars",
    ).sort("symbol")


__all__ = [
    "MISSING",
    "align_bars",
    "bars_interval",
    "describe_bars",
    "gap_report",
    "symbol_intervals",
]
