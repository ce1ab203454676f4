"""Trade tapes made from bars, for properties that hold trade-level fills against the bar rule.

`tape_from_bars(bars)`: per bar, prints at exactly its open, high, low and close (in that
order), each once by a buying and once by a selling aggressor, with a size that no order can
exhaust; so an order resting in the bar meets every price the bar touched and nothing else.
"""

from __future__ import annotations

import polars as pl

# larger than any order a generated market quotes: the tape never limits a fill
UNLIMITED = 1e15


def tape_from_bars(bars: pl.DataFrame, *, qty: float = UNLIMITED) -> pl.DataFrame:
    """A trades frame (ts µs, symbol, price, qty, side, trade_id) touching each bar's O, H, L, C.

    Print k of a bar is stamped bar open + k µs, so it falls inside any bar of 8 µs or longer.
    """
    frame = bars.select(
        pl.col("ts").dt.cast_time_unit("us"),
        pl.col("symbol").cast(pl.String),
        pl.concat_list("open", "open", "high", "high", "low", "low", "close", "close").alias(
            "price"
        ),
    ).sort("ts", "symbol")
    return (
        frame.explode("price")
        .with_columns(
            k := pl.int_range(pl.len()).over("ts", "symbol").cast(pl.Int64),
        )
        .select(
            (pl.col("ts") + pl.duration(microseconds=k)).alias("ts"),
            "symbol",
            pl.col("price").cast(pl.Float64),
            pl.lit(float(qty)).alias("qty"),
            pl.when(k % 2 == 0).then(1).otherwise(-1).cast(pl.Int8).alias("side"),
            pl.int_range(pl.len()).cast(pl.Int64).alias("trade_id"),
        )
        .sort("symbol", "ts", maintain_order=True)
    )


__all__ = ["UNLIMITED", "tape_from_bars"]
