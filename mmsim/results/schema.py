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
