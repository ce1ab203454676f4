"""PnL attribution: where every USDT of the equity change came from, per bar, symbol and component.

Sign: each component is a contribution to PnL in USDT (+ = earned, - = lost). Per bar t, symbol:
    spread_capture  = sum over maker fills in bar t of side * (mark_t - price) * qty
    taker_execution = the same over taker fills (market orders, emergency exits, liquidations)
    inventory       = position_{t-1} * (mark_t - mark_{t-1})
    maker_fees      = -(maker fees paid, fee > 0);  rebates = -(maker fees < 0: received, so > 0)
    taker_fees      = -(taker fees paid)
    funding         = funding received during bar t (negative when paid)
mark_t is the symbol's mark at bar t's close (its close, or the last close carried over a gap),
and position_{t-1} the position held at the previous close. Because every fill is booked at its
price and everything is marked at the close, the identity
    d(realized + unrealized - fees + funding) = sum of the components
holds exactly for each bar and symbol, and over symbols it is the change in account equity.
"""

from __future__ import annotations

import polars as pl

COMPONENTS = (
    "spread_capture",
    "taker_execution",
    "inventory",
    "maker_fees",
    "rebates",
    "taker_fees",
    "funding",
)
_KEYS = ["ts", "symbol"]


def _fill_components(fills: pl.DataFrame, symbols: pl.DataFrame) -> pl.DataFrame:
    """Per (ts, symbol): the fill-driven components, from each fill against its bar's mark."""
    marked = fills.join(symbols.select(*_KEYS, "mark"), on=_KEYS, how="left")
    missing = marked.with_row_index("row").filter(pl.col("mark").is_null())
    if missing.height:
        row = missing.row(0, named=True)
        raise ValueError(
            f"fill row {row['row']} ({row['symbol']} at {row['ts']}) has no bar in the symbols "
            "frame: the result's frames do not belong together"
        )
    edge = pl.col("side") * (pl.col("mark") - pl.col("price")) * pl.col("qty")
    maker = pl.col("liquidity") == "maker"
    earned = -pl.col("fee")
    return marked.group_by(_KEYS, maintain_order=True).agg(
        edge.filter(maker).sum().alias("spread_capture"),
        edge.filter(~maker).sum().alias("taker_execution"),
        earned.filter(maker & (pl.col("fee") > 0)).sum().alias("maker_fees"),
        earned.filter(maker & (pl.col("fee") < 0)).sum().alias("rebates"),
        earned.filter(~maker).sum().alias("taker_fees"),
    )


def attribution_bars(fills: pl.DataFrame, symbols: pl.DataFrame) -> pl.DataFrame:
    """One row per bar and symbol: ts, symbol, the COMPONENTS (USDT) and their sum `pnl`."""
    per_symbol = pl.col("symbol")
    bars = symbols.select(
        *_KEYS,
        (
            pl.col("position").shift(1).over(per_symbol, order_by="ts").fill_null(0.0)
            * pl.col("mark").diff().over(per_symbol, order_by="ts").fill_null(0.0)
        ).alias("inventory"),
        pl.col("funding")
        .diff()
        .over(per_symbol, order_by="ts")
        .fill_null(pl.col("funding"))
        .alias("funding"),
    )
    out = bars.join(_fill_components(fills, symbols), on=_KEYS, how="left", maintain_order="left")
    return out.select(
        *_KEYS,
        *(pl.col(c).fill_null(0.0) for c in COMPONENTS),
    ).with_columns(pl.sum_horizontal(*COMPONENTS).alias("pnl"))


def cumulative_attribution(fills: pl.DataFrame, symbols: pl.DataFrame) -> pl.DataFrame:
    """One row per bar: ts and each component's running total over all symbols (USDT)."""
    per_bar = (
        attribution_bars(fills, symbols)
        .group_by("ts", maintain_order=True)
        .agg(pl.col(*COMPONENTS, "pnl").sum())
    )
    return per_bar.select("ts", pl.col(*COMPONENTS, "pnl").cum_sum())


def attribution(fills: pl.DataFrame, symbols: pl.DataFrame) -> pl.DataFrame:
    """Totals over the run: one row per symbol and a TOTAL row; the COMPONENTS sum to `pnl` (USDT).

    `pnl` equals the symbol's realized + unrealized - fees + funding at the end, and on the TOTAL
    row the final equity minus the initial cash.
    """
    per_symbol = (
        attribution_bars(fills, symbols)
        .group_by("symbol", maintain_order=True)
        .agg(pl.col(*COMPONENTS, "pnl").sum())
    )
    total = per_symbol.select(pl.lit("TOTAL").alias("symbol"), pl.col(*COMPONENTS, "pnl").sum())
    return pl.concat([per_symbol, total])


__all__ = ["COMPONENTS", "attribution", "attribution_bars", "cumulative_attribution"]
