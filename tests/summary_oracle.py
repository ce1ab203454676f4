"""The run summary as it was computed before it was made faster: the oracle the shipped
`mmsim.results.metrics.summarize` is checked against (values equal to 1e-9 relative)."""

# ruff: noqa
from __future__ import annotations

import math
from collections.abc import Sequence

import polars as pl

from mmsim.results.schema import POSTED_SCHEMA


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


YEAR_US = 365 * 86_400 * 1_000_000


DAY_US = 86_400 * 1_000_000


HORIZONS = (1, 5, 15, 60)


TOTAL = "TOTAL"


def periods_per_year(interval_us: int) -> float:
    """Bars in a 365-day year (crypto trades every day)."""
    return YEAR_US / interval_us


def _with_start(equity: pl.Series, initial_cash: float | None) -> pl.Series:
    """The equity path with the starting capital in front, so the first bar has a return."""
    equity = equity.cast(pl.Float64)
    if initial_cash is None:
        return equity
    return pl.concat([pl.Series(equity.name, [float(initial_cash)]), equity])


def returns_expr(column: str = "equity") -> pl.Expr:
    """Simple per-bar returns of an equity column: e_t / e_{t-1} - 1 (null on the first row)."""
    return pl.col(column) / pl.col(column).shift(1) - 1.0


def bar_returns(equity: pl.Series, initial_cash: float | None = None) -> pl.Series:
    """Per-bar simple returns; with initial_cash the first bar's return is against it."""
    path = _with_start(equity, initial_cash)
    return pl.DataFrame({"e": path}).select(returns_expr("e")).to_series().drop_nulls()


def sharpe_ratio(
    equity: pl.Series, interval_us: int, initial_cash: float | None = None
) -> float | None:
    """Annualised mean / std of per-bar simple returns of equity; None when undefined."""
    returns = bar_returns(equity, initial_cash)
    if returns.len() < 2:
        return None
    std = returns.std()
    if not std or not math.isfinite(std):
        return None
    return float(returns.mean() / std * math.sqrt(periods_per_year(interval_us)))


def sortino_ratio(
    equity: pl.Series, interval_us: int, initial_cash: float | None = None
) -> float | None:
    """Annualised mean return / downside deviation; None when undefined (no losing bar).

    Downside deviation = sqrt(mean over ALL bars of min(r, 0)^2) (target 0), not the std of
    the losing bars alone.
    """
    returns = bar_returns(equity, initial_cash)
    if returns.len() < 2:
        return None
    downside = math.sqrt(float((returns.clip(upper_bound=0.0) ** 2).mean()))
    if not downside or not math.isfinite(downside):
        return None
    return float(returns.mean() / downside * math.sqrt(periods_per_year(interval_us)))


def max_drawdown(equity: pl.Series, initial_cash: float | None = None) -> float:
    """Largest fall from a running peak, as a fraction of that peak (0.1 = 10%)."""
    path = _with_start(equity, initial_cash)
    if path.len() == 0:
        return 0.0
    drawdown = 1.0 - path / path.cum_max()
    return float(max(drawdown.max(), 0.0))


def max_drawdown_bars(equity: pl.Series, initial_cash: float | None = None) -> int:
    """Duration of the longest drawdown: most consecutive bars spent below a previous peak."""
    path = _with_start(equity, initial_cash)
    if path.len() == 0:
        return 0
    under = pl.DataFrame({"e": path}).select((pl.col("e") < pl.col("e").cum_max()).alias("under"))
    spells = under.with_columns(pl.col("under").rle_id().alias("spell")).filter("under")
    if spells.height == 0:
        return 0
    return int(spells.group_by("spell", maintain_order=True).len()["len"].max())


def annual_return(total_return: float, n_bars: int, interval_us: int) -> float | None:
    """Compounded annual growth: (1 + R)^(bars per year / bars) - 1; -1 once equity hit 0.

    None when the run is too short for the figure to be finite.
    """
    if n_bars <= 0:
        return None
    if total_return <= -1.0:
        return -1.0
    try:
        value = math.expm1(periods_per_year(interval_us) / n_bars * math.log1p(total_return))
    except OverflowError:
        return None
    return value if math.isfinite(value) else None


def performance(
    equity: pl.Series, initial_cash: float, interval_us: int
) -> dict[str, float | int | None]:
    """Return, annual return, Sharpe, Sortino, max drawdown (depth, bars, days) and Calmar."""
    n = equity.len()
    final = float(equity[-1]) if n else float(initial_cash)
    total = final / initial_cash - 1.0
    annual = annual_return(total, n, interval_us)
    depth = max_drawdown(equity, initial_cash)
    bars = max_drawdown_bars(equity, initial_cash)
    return {
        "return": total,
        "annual_return": annual,
        "sharpe": sharpe_ratio(equity, interval_us, initial_cash),
        "sortino": sortino_ratio(equity, interval_us, initial_cash),
        "max_drawdown": depth,
        "max_drawdown_bars": bars,
        "max_drawdown_days": bars * interval_us / DAY_US,
        "calmar": (annual / depth) if (annual is not None and depth > 0) else None,
    }


def pnl_expr() -> pl.Expr:
    """Cumulative PnL of a symbol row (USDT): realized + unrealized - fees + funding."""
    return pl.col("realized") + pl.col("unrealized") - pl.col("fees") + pl.col("funding")


def performance_table(
    equity: pl.DataFrame, symbols: pl.DataFrame, initial_cash: float, interval_us: int
) -> pl.DataFrame:
    """`performance` per symbol (on initial cash + its PnL) and for the account (TOTAL)."""
    curves = symbols.select("symbol", (pnl_expr() + initial_cash).alias("curve"))
    rows = [
        {"symbol": part["symbol"][0], **performance(part["curve"], initial_cash, interval_us)}
        for part in curves.partition_by("symbol", maintain_order=True)
    ]
    rows.append({"symbol": TOTAL, **performance(equity["equity"], initial_cash, interval_us)})
    return pl.DataFrame(rows, schema=_PERFORMANCE_SCHEMA)


_PERFORMANCE_SCHEMA = {
    "symbol": pl.String,
    "return": pl.Float64,
    "annual_return": pl.Float64,
    "sharpe": pl.Float64,
    "sortino": pl.Float64,
    "max_drawdown": pl.Float64,
    "max_drawdown_bars": pl.Int64,
    "max_drawdown_days": pl.Float64,
    "calmar": pl.Float64,
}


def _with_total(per_symbol: pl.DataFrame, total: pl.DataFrame) -> pl.DataFrame:
    return pl.concat([per_symbol, total.select(per_symbol.columns)], how="vertical_relaxed")


def round_trips_expr() -> pl.Expr:
    """Per fill (in booking order, over symbol): True when it closes or flips a position.

    A round trip is a position opened from flat and brought back to flat (or through it).
    """
    signed = pl.col("side").cast(pl.Float64) * pl.col("qty")
    after = signed.cum_sum().over("symbol")
    before = after - signed
    tol = 1e-9 * pl.col("qty")  # float residue of an exact close
    flat_before = before.abs() <= tol
    flat_after = after.abs() <= tol
    return ~flat_before & (flat_after | (before.sign() != after.sign()))


def reason_kind_expr(column: str) -> pl.Expr:
    """The kind of a reason or event string: the text before ':' ("emergency_exit: ..." -> ...)."""
    return pl.col(column).str.split(":").list.first().str.strip_chars()


def trading_stats(
    equity: pl.DataFrame,
    symbols: pl.DataFrame,
    fills: pl.DataFrame,
    rejections: pl.DataFrame,
    posted: pl.DataFrame,
) -> pl.DataFrame:
    """Per symbol and TOTAL: fills (maker/taker, buys/sells), volume, turnover, fill rate,
    rejections, round trips, average quoted and captured spread (bps), the shares of bars
    quoting both sides, one side and none, and the quotes clamped behind the close.

    turnover = traded notional / mean equity; fill_rate = maker fills / orders posted;
    quoted_spread_bps = mean over bars with both sides posted of (ask - bid) / mid;
    captured_spread_bps = 2 * spread capture / maker notional (the spread earned against the
    close of each fill's bar, as a full spread comparable with the quoted one).
    """
    names = symbols["symbol"].unique(maintain_order=True)
    base = pl.DataFrame({"symbol": names})
    notional = pl.col("price") * pl.col("qty")
    maker = pl.col("liquidity") == "maker"
    marked = fills.join(symbols.select("ts", "symbol", "mark"), on=["ts", "symbol"], how="left")
    edge = pl.col("side") * (pl.col("mark") - pl.col("price")) * pl.col("qty")
    fill_aggs = [
        pl.len().alias("fills"),
        maker.sum().alias("maker_fills"),
        (~maker).sum().alias("taker_fills"),
        (pl.col("side") > 0).sum().alias("buys"),
        (pl.col("side") < 0).sum().alias("sells"),
        notional.sum().alias("volume"),
        notional.filter(maker).sum().alias("maker_volume"),
        edge.filter(maker).sum().alias("_capture"),
    ]
    per_fill = marked.with_columns(round_trips_expr().alias("_closes"))
    by_fill = per_fill.group_by("symbol", maintain_order=True).agg(
        *fill_aggs, pl.col("_closes").sum().alias("round_trips")
    )
    total_fill = per_fill.select(*fill_aggs, pl.col("_closes").sum().alias("round_trips"))
    spread = (pl.col("ask") - pl.col("bid")) / ((pl.col("ask") + pl.col("bid")) / 2) * 1e4
    bid, ask = pl.col("bid").is_not_null(), pl.col("ask").is_not_null()
    # results saved before clamping existed have no clamped column
    clamped = pl.col("clamped") if "clamped" in symbols.columns else pl.lit(None, pl.Int64)
    quote_aggs = [
        spread.mean().alias("quoted_spread_bps"),
        (bid | ask).mean().alias("time_quoting"),
        (bid & ask).mean().alias("quoting_both"),
        (bid ^ ask).mean().alias("quoting_one_side"),
        (~bid & ~ask).mean().alias("quoting_none"),
        clamped.sum().cast(pl.Int64).alias("clamped"),
        pl.when(pl.col("orders").sum() > 0)
        .then(clamped.sum() / pl.col("orders").sum())
        .alias("clamped_share"),
    ]
    by_quote = symbols.group_by("symbol", maintain_order=True).agg(*quote_aggs)
    total_quote = symbols.select(*quote_aggs)
    post_aggs = [pl.col("orders").sum().alias("orders_posted")]
    by_post = posted.group_by("symbol", maintain_order=True).agg(*post_aggs)
    total_post = posted.select(*post_aggs)
    rej_aggs = [pl.len().alias("rejected")]
    by_rej = rejections.group_by("symbol", maintain_order=True).agg(*rej_aggs)
    total_rej = rejections.select(*rej_aggs)

    def finish(frame: pl.DataFrame) -> pl.DataFrame:
        return (
            frame.with_columns(
                pl.col(
                    "fills",
                    "maker_fills",
                    "taker_fills",
                    "buys",
                    "sells",
                    "round_trips",
                    "orders_posted",
                    "rejected",
                )
                .fill_null(0)
                .cast(pl.Int64),
                pl.col("volume", "maker_volume", "_capture").fill_null(0.0),
            )
            .with_columns(
                (pl.col("volume") / mean_equity).alias("turnover"),
                pl.when(pl.col("orders_posted") > 0)
                .then(pl.col("maker_fills") / pl.col("orders_posted"))
                .alias("fill_rate"),
                pl.when(pl.col("maker_volume") > 0)
                .then(2 * pl.col("_capture") / pl.col("maker_volume") * 1e4)
                .alias("captured_spread_bps"),
            )
            .select(
                "symbol",
                "fills",
                "maker_fills",
                "taker_fills",
                "buys",
                "sells",
                "volume",
                "turnover",
                "orders_posted",
                "fill_rate",
                "rejected",
                "round_trips",
                "quoted_spread_bps",
                "captured_spread_bps",
                "time_quoting",
                "quoting_both",
                "quoting_one_side",
                "quoting_none",
                "clamped",
                "clamped_share",
            )
        )

    mean_equity = float(equity["equity"].mean()) if equity.height else float("nan")
    per_symbol = base
    for frame in (by_fill, by_quote, by_post, by_rej):
        per_symbol = per_symbol.join(frame, on="symbol", how="left", maintain_order="left")
    total = pl.concat(
        [pl.DataFrame({"symbol": [TOTAL]}), total_fill, total_quote, total_post, total_rej],
        how="horizontal",
    )
    return _with_total(finish(per_symbol), finish(total))


def markout_summary(
    fills: pl.DataFrame, symbols: pl.DataFrame, horizons: Sequence[int] = HORIZONS
) -> pl.DataFrame:
    """Per symbol and TOTAL (both sides): mean maker-fill markout in bps at each horizon, wide."""
    horizons = tuple(horizons)
    ahead = symbols.select(
        "ts",
        "symbol",
        *(pl.col("mark").shift(-h).over("symbol", order_by="ts").alias(f"m{h}") for h in horizons),
    )
    joined = fills.filter(pl.col("liquidity") == "maker").join(
        ahead, on=["ts", "symbol"], how="left"
    )
    aggs = [
        (pl.col("side") * (pl.col(f"m{h}") - pl.col("price")) / pl.col("price") * 1e4)
        .mean()
        .alias(f"markout_{h}_bps")
        for h in horizons
    ]
    names = pl.DataFrame({"symbol": symbols["symbol"].unique(maintain_order=True)})
    per_symbol = (
        names.join(
            joined.group_by("symbol", maintain_order=True).agg(*aggs),
            on="symbol",
            how="left",
            maintain_order="left",
        )
        if aggs
        else names
    )
    total = (
        pl.concat([pl.DataFrame({"symbol": [TOTAL]}), joined.select(*aggs)], how="horizontal")
        if aggs
        else pl.DataFrame({"symbol": [TOTAL]})
    )
    return _with_total(per_symbol, total)


def risk_stats(equity: pl.DataFrame, symbols: pl.DataFrame, events: pl.DataFrame) -> pl.DataFrame:
    """Per symbol and TOTAL: inventory (mean and max |position|, base units and USDT notional),
    leverage (max, mean), margin ratio (TOTAL only, max and mean),
    emergency exits, early stops and liquidations (bars on which each happened)."""
    inventory = [
        pl.col("position").abs().mean().alias("mean_abs_position"),
        pl.col("position").abs().max().alias("max_abs_position"),
        pl.col("notional").mean().alias("mean_notional"),
        pl.col("notional").max().alias("max_notional"),
        pl.col("leverage").max().alias("max_leverage"),
        pl.col("leverage").mean().alias("mean_leverage"),
    ]
    per_symbol = (
        symbols.group_by("symbol", maintain_order=True)
        .agg(*inventory)
        .with_columns(
            pl.lit(None, pl.Float64).alias("max_margin_ratio"),
            pl.lit(None, pl.Float64).alias("mean_margin_ratio"),
        )
    )
    kinds = reason_kind_expr("event")
    counts = [
        (kinds == k).sum().cast(pl.Int64).alias(f"{k}s" if k != "early_stop" else "early_stops")
        for k in ("emergency_exit", "early_stop", "liquidation")
    ]
    total = pl.concat(
        [
            pl.DataFrame({"symbol": [TOTAL]}),
            symbols.select(
                pl.lit(None, pl.Float64).alias("mean_abs_position"),  # base units do not add up
                pl.lit(None, pl.Float64).alias("max_abs_position"),
            ),
            equity.select(
                pl.col("notional").mean().alias("mean_notional"),
                pl.col("notional").max().alias("max_notional"),
                pl.col("leverage").max().alias("max_leverage"),
                pl.col("leverage").mean().alias("mean_leverage"),
                pl.col("margin_ratio").max().alias("max_margin_ratio"),
                pl.col("margin_ratio").mean().alias("mean_margin_ratio"),
            ),
            events.select(*counts),
        ],
        how="horizontal",
    )
    per_symbol = per_symbol.with_columns(
        pl.lit(None, pl.Int64).alias(c) for c in ("emergency_exits", "early_stops", "liquidations")
    )
    return _with_total(per_symbol, total)


def summarize(
    equity: pl.DataFrame,
    symbols: pl.DataFrame,
    fills: pl.DataFrame,
    initial_cash: float,
    interval_us: int,
    *,
    rejections: pl.DataFrame | None = None,
    events: pl.DataFrame | None = None,
    posted: pl.DataFrame | None = None,
    horizons: Sequence[int] = HORIZONS,
) -> pl.DataFrame:
    """One row per symbol and a TOTAL row: PnL and its parts, returns, attribution, trading,
    markouts and risk figures (see the README's metrics table for each column's definition).

    The first columns are symbol, pnl, realized, unrealized, fees (paid, + = cost), funding
    (received), fills, volume, final_position, max_drawdown, sharpe.
    """
    rejections = rejections if rejections is not None else _empty_rejections()
    events = (
        events
        if events is not None
        else pl.DataFrame(schema={"ts": pl.Datetime("us"), "event": pl.String})
    )
    posted = posted if posted is not None else pl.DataFrame(schema=POSTED_SCHEMA)
    return _compose_summary(
        _base_rows(equity, symbols, initial_cash),
        performance_table(equity, symbols, initial_cash, interval_us),
        attribution(fills, symbols),
        trading_stats(equity, symbols, fills, rejections, posted),
        risk_stats(equity, symbols, events),
        markout_summary(fills, symbols, horizons),
    )


def _base_rows(equity: pl.DataFrame, symbols: pl.DataFrame, initial_cash: float) -> pl.DataFrame:
    """symbol, pnl, realized, unrealized, fees, funding, final_position: per symbol and TOTAL."""
    last = (
        symbols.group_by("symbol", maintain_order=True)
        .last()
        .select(
            "symbol",
            pnl_expr().alias("pnl"),
            "realized",
            "unrealized",
            "fees",
            "funding",
            pl.col("position").alias("final_position"),
        )
    )
    final = equity.row(-1, named=True) if equity.height else None
    total = pl.DataFrame(
        {
            "symbol": [TOTAL],
            "pnl": [(final["equity"] - initial_cash) if final else 0.0],
            "realized": [float(last["realized"].sum())],
            "unrealized": [float(last["unrealized"].sum())],
            "fees": [final["fees"] if final else 0.0],
            "funding": [final["funding"] if final else 0.0],
            "final_position": [None],
        },
        schema=last.schema,
    )
    return pl.concat([last, total])


def _compose_summary(
    base: pl.DataFrame,
    perf: pl.DataFrame,
    attributed: pl.DataFrame,
    trading: pl.DataFrame,
    risk: pl.DataFrame,
    marks: pl.DataFrame,
) -> pl.DataFrame:
    parts = attributed.drop("pnl", "funding").rename({"inventory": "inventory_pnl"})
    risk = risk.drop("max_notional", "mean_notional")
    out = base
    for frame in (
        trading.select("symbol", "fills", "volume"),
        perf,
        parts,
        trading.drop("fills", "volume"),
        marks,
        risk,
    ):
        out = out.join(frame, on="symbol", how="left", maintain_order="left")
    first = [
        "symbol",
        "pnl",
        "realized",
        "unrealized",
        "fees",
        "funding",
        "fills",
        "volume",
        "final_position",
        "max_drawdown",
        "sharpe",
    ]
    return out.select(*first, *(c for c in out.columns if c not in first))


def _empty_rejections() -> pl.DataFrame:
    return pl.DataFrame(
        schema={
            "ts": pl.Datetime("us"),
            "symbol": pl.String,
            "side": pl.Int8,
            "level": pl.Int32,
            "price": pl.Float64,
            "qty": pl.Float64,
            "reason": pl.String,
        }
    )
