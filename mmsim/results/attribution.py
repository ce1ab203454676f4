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

from mmsim.results.aligned import Aligned, Plan, align

COMPONENTS = (
    "spread_capture",
    "taker_execution",
    "inventory",
    "maker_fees",
    "rebates",
    "taker_fees",
    "funding",
)
_FILL_COMPONENTS = ("spread_capture", "taker_execution", "maker_fees", "rebates", "taker_fees")
_BAR_COMPONENTS = ("inventory", "funding")


def _fill_parts() -> list[pl.Expr]:
    """Per aligned fill (with its bar's mark): its share of each fill-driven component (0 in
    the components it does not belong to), so per bar or per symbol they are plain sums."""
    edge = pl.col("side") * (pl.col("mark") - pl.col("price")) * pl.col("qty")
    maker = pl.col("liquidity") == "maker"
    earned = -pl.col("fee")

    def only(when: pl.Expr, value: pl.Expr) -> pl.Expr:
        return pl.when(when).then(value).otherwise(0.0)

    return [
        only(maker, edge).alias("spread_capture"),
        only(~maker, edge).alias("taker_execution"),
        only(maker & (pl.col("fee") > 0), earned).alias("maker_fees"),
        only(maker & (pl.col("fee") < 0), earned).alias("rebates"),
        only(~maker, earned).alias("taker_fees"),
    ]


def _bar_components() -> list[pl.Expr]:
    """Per row of aligned bars (each symbol's bars contiguous, in time order): inventory and
    funding; the previous bar is the row before unless the row is its symbol's first."""

    def previous(column: str) -> pl.Expr:
        return pl.when(pl.col("first")).then(None).otherwise(pl.col(column).shift(1))

    return [
        (
            previous("position").fill_null(0.0) * (pl.col("mark") - previous("mark")).fill_null(0.0)
        ).alias("inventory"),
        (pl.col("funding") - previous("funding"))
        .fill_null(pl.col("funding"))
        .fill_null(0.0)
        .alias("funding"),
    ]


def attribution_bars(fills: pl.DataFrame, symbols: pl.DataFrame) -> pl.DataFrame:
    """One row per bar and symbol: ts, symbol, the COMPONENTS (USDT) and their sum `pnl`."""
    run = align(fills, symbols)
    by_row = (
        run.fills.lazy()
        .select("row", *_fill_parts())
        .group_by("row", maintain_order=True)
        .agg(pl.col(*_FILL_COMPONENTS).sum())
    )
    out = (
        run.bars.lazy()
        .with_row_index("row")
        .with_columns(pl.col("row").cast(pl.Int64), *_bar_components())
        .join(by_row, on="row", how="left", maintain_order="left")
        .sort("ts", maintain_order=True)  # ts-major again, symbols in first-appearance order
    )
    return (
        out.select("ts", "symbol", *(pl.col(c).fill_null(0.0) for c in COMPONENTS))
        .with_columns(pl.sum_horizontal(*COMPONENTS).alias("pnl"))
        .collect()
    )


def cumulative_attribution(fills: pl.DataFrame, symbols: pl.DataFrame) -> pl.DataFrame:
    """One row per bar: ts and each component's running total over all symbols (USDT)."""
    per_bar = (
        attribution_bars(fills, symbols)
        .group_by("ts", maintain_order=True)
        .agg(pl.col(*COMPONENTS, "pnl").sum())
    )
    return per_bar.select("ts", pl.col(*COMPONENTS, "pnl").cum_sum())


def attribution_of(run: Aligned) -> pl.DataFrame:
    """`attribution` of aligned frames."""
    return attribution_plan(run).run()


def attribution_plan(run: Aligned) -> Plan:
    """`attribution_of` as a Plan, to collect with other tables' queries."""
    per_bar = run.bars.lazy().with_columns(*_bar_components())
    parts = run.fills.lazy().select("sid", *_fill_parts())
    queries = (
        run.per_symbol_query(per_bar, *(pl.col(c).sum() for c in _BAR_COMPONENTS)),
        run.per_symbol_query(parts, pl.col(*_FILL_COMPONENTS).sum()),
    )
    return Plan(queries, lambda collected: _attribution_rows(run, *collected))


def _attribution_rows(run: Aligned, bars: pl.DataFrame, from_fills: pl.DataFrame) -> pl.DataFrame:
    bars, from_fills = run.per_symbol_frame(bars), run.per_symbol_frame(from_fills)
    filled = [pl.col(c).fill_null(0.0) for c in COMPONENTS]
    per_symbol = pl.DataFrame([*bars.get_columns(), *from_fills.get_columns()[1:]]).select(
        "symbol", *filled, pl.sum_horizontal(*filled).alias("pnl")
    )
    total = per_symbol.select(pl.lit("TOTAL").alias("symbol"), pl.col(*COMPONENTS, "pnl").sum())
    return pl.concat([per_symbol, total])


def attribution(fills: pl.DataFrame, symbols: pl.DataFrame) -> pl.DataFrame:
    """Totals over the run: one row per symbol and a TOTAL row; the COMPONENTS sum to `pnl` (USDT).

    `pnl` equals the symbol's realized + unrealized - fees + funding at the end, and on the TOTAL
    row the final equity minus the initial cash.
    """
    return attribution_of(align(fills, symbols))


__all__ = [
    "COMPONENTS",
    "attribution",
    "attribution_bars",
    "attribution_of",
    "attribution_plan",
    "cumulative_attribution",
]
