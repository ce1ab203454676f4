"""The frames a run produces, by name, and the schema of the one built outside the fold."""

from __future__ import annotations

import polars as pl

FRAMES = ("fills", "equity", "symbols", "rejections", "events", "summary", "posted")
# limit orders that rested during a bar, counted per symbol, side and level (fill-rate denominators)
POSTED_SCHEMA = {
    "symbol": pl.String,
    "side": pl.Int8,
    "level": pl.Int32,
    "orders": pl.Int64,
    "qty": pl.Float64,
}

# a run's fills and rejected orders
FILL_SCHEMA = {
    "ts": pl.Int64,
    "symbol": pl.String,
    "side": pl.Int8,
    "price": pl.Float64,
    "qty": pl.Float64,
    "fee": pl.Float64,
    "liquidity": pl.String,
    "reason": pl.String,
    "level": pl.Int32,
    "bars_waited": pl.Int64,
}
REJECTION_SCHEMA = {
    "ts": pl.Int64,
    "symbol": pl.String,
    "side": pl.Int8,
    "level": pl.Int32,
    "price": pl.Float64,
    "qty": pl.Float64,
    "reason": pl.String,
}


def in_frames(schema: dict) -> dict:
    """`schema` as the run's frames hold it: `ts` as a UTC datetime (µs) instead of epoch µs."""
    return {**schema, "ts": pl.Datetime("us")}
