"""Metrics: pure functions over the result frames, as Polars expressions over whole columns.

Returns are on mark-to-market equity (wallet + unrealized), annualised on a 365-day year for
the bar interval. PnL per symbol = realized + unrealized - fees + funding (USDT); the symbols'
PnL sums to the equity change.
"""

from __future__ import annotations

import math

import polars as pl

YEAR_US = 365 * 86_400 * 1_000_000


def periods_per_year(interval_us: int) -> float:
    """Bars in a 365-day year (crypto trades every day)."""
    return YEAR_US / interval_us


def sharpe_ratio(equity: pl.Series, interval_us: int) -> float | None:
    """Annualised mean / std of per-bar simple returns of equity; None when undefined."""
    returns = equity.pct_change().drop_nulls()
    if returns.len() < 2:
        return None
    std = returns.std()
    if not std or not math.isfinite(std):
        return None
    return float(returns.mean() / std * math.sqrt(periods_per_year(interval_us)))


def max_drawdown(equity: pl.Series) -> float:
    """Largest fall from a running peak, as a fraction of that peak (0.1 = 10%)."""
    if equity.len() == 0:
        return 0.0
    drawdown = 1.0 - equity / equity.cum_max()
    return float(max(drawdown.max(), 0.0))


def pnl_expr() -> pl.Expr:
    """Cumulative PnL of a symbol row (USDT): realized + unrealized - fees + funding."""
    return pl.col("realized") + pl.col("unrealized") - pl.col("fees") + pl.col("funding")


def summarize(
    equity: pl.DataFrame,
    symbols: pl.DataFrame,
    fills: pl.DataFrame,
    initial_cash: float,
    interval_us: int,
) -> pl.DataFrame:
    """One row per symbol and a TOTAL row: PnL and its parts, fills, volume, risk figures."""
    last = symbols.group_by("symbol", maintain_order=True).last()
    per_fill = fills.group_by("symbol", maintain_order=True).agg(
        pl.len().alias("fills"),
        (pl.col("price") * pl.col("qty")).sum().alias("volume"),
    )
    by_symbol = symbols.with_columns(pnl_expr().alias("pnl")).group_by("symbol", maintain_order=True)
    curves = by_symbol.agg(pl.col("pnl"))
    rows = []
    for row in last.join(per_fill, on="symbol", how="left").iter_rows(named=True):
        curve = curves.filter(pl.col("symbol") == row["symbol"])["pnl"][0] + initial_cash
        rows.append(
            {
                "symbol": row["symbol"],
                "pnl": row["realized"] + row["unrealized"] - row["fees"] + row["funding"],
                "realized": row["realized"],
                "unrealized": row["unrealized"],
                "fees": row["fees"],
                "funding": row["funding"],
                "fills": row["fills"] or 0,
                "volume": row["volume"] or 0.0,
                "final_position": row["position"],
                "max_drawdown": max_drawdown(curve),
                "sharpe": sharpe_ratio(curve, interval_us),
            }
        )
    eq = equity["equity"]
    final = equity.row(-1, named=True) if equity.height else None
    rows.append(
        {
            "symbol": "TOTAL",
            "pnl": (final["equity"] - initial_cash) if final else 0.0,
            "realized": sum(r["realized"] for r in rows),
            "unrealized": sum(r["unrealized"] for r in rows),
            "fees": final["fees"] if final else 0.0,
            "funding": final["funding"] if final else 0.0,
            "fills": fills.height,
            "volume": float(sum(r["volume"] for r in rows)),
            "final_position": None,
            "max_drawdown": max_drawdown(eq),
            "sharpe": sharpe_ratio(eq, interval_us),
        }
    )
    return pl.DataFrame(rows, schema_overrides={"final_position": pl.Float64, "sharpe": pl.Float64})
