"""Resampling bars to a longer interval (1m -> 5m, 1h, 1d) as one Polars group_by_dynamic.

Buckets are aligned to the epoch (UTC): 5m bars open at :00, :05, ...; 1d bars at 00:00.
A bucket takes the first open, highest high, lowest low, last close and the sum of volumes
(and of quote_volume, trades, taker_buy_* and funding_rate); any other column keeps its last
value. A bucket with some source bars missing (a gap, or the end of the data) is still a bar;
`drop_partial=True` drops those, counted in a DroppedRowsWarning.
"""

from __future__ import annotations

import warnings

import polars as pl

from mmsim.data.align import _combine, bars_interval, is_additive
from mmsim.data.errors import DataError, DroppedRowsWarning
from mmsim.data.timestamps import interval_name
from mmsim.data.timestamps import interval_us as parse_interval


def resample_bars(
    bars: pl.DataFrame, every: str | int, *, drop_partial: bool = False
) -> pl.DataFrame:
    """Aggregate a bars frame to bars of length `every` ('5m', '1h', '1d' or µs), per symbol.

    `every` must be a whole multiple of the frame's interval. Returns it sorted by (ts, symbol).
    """
    frame = _combine(bars)
    source = bars_interval(frame)
    target = parse_interval(every)
    if target % source:
        raise DataError(
            f"cannot resample {interval_name(source)} bars to {interval_name(target)}: "
            "the new interval must be a whole multiple of the old one"
        )
    symbol_type = bars.schema["symbol"] if isinstance(bars, pl.DataFrame) else pl.Categorical
    if target == source:
        return frame.sort("ts", "symbol").with_columns(pl.col("symbol").cast(symbol_type))
    extras = [
        c
        for c in frame.columns
        if c not in ("ts", "symbol", "open", "high", "low", "close", "volume")
    ]
    out = (
        frame.sort("ts", "symbol")
        .with_columns(pl.col("ts").cast(pl.Datetime("us")))
        .group_by_dynamic(
            "ts",
            every=f"{target}us",
            group_by="symbol",
            closed="left",
            label="left",
            start_by="window",
        )
        .agg(
            pl.col("open").first(),
            pl.col("high").max(),
            pl.col("low").min(),
            pl.col("close").last(),
            pl.col("volume").sum(),
            *(pl.col(c).sum() if is_additive(c) else pl.col(c).last() for c in extras),
            pl.len().alias("_n"),
        )
    )
    if drop_partial:
        partial = pl.col("_n") < target // source
        dropped = out.filter(partial)
        if dropped.height:
            warnings.warn(
                DroppedRowsWarning(
                    f"partial {interval_name(target)} bars",
                    dropped.height,
                    "the bars frame",
                    dropped.drop("_n").head(1000),
                ),
                stacklevel=2,
            )
            out = out.filter(~partial)
    return (
        out.drop("_n")
        .select("ts", "symbol", "open", "high", "low", "close", "volume", *extras)
        .sort("ts", "symbol")
        .with_columns(pl.col("symbol").cast(symbol_type))
    )


__all__ = ["resample_bars"]
