"""Metrics: pure functions over the result frames, as Polars expressions over whole columns.

Units and conventions: money in USDT; returns are simple per-bar returns of mark-to-market
equity (wallet + unrealized, starting from the initial cash), annualised on a 365-day year for
the bar interval (crypto trades every day); drawdowns are fractions of the running peak
(0.1 = 10%); spreads and markouts are in basis points; side +1 = buy (bid), -1 = sell (ask).
PnL per symbol = realized + unrealized - fees + funding; the symbols' PnL sums to the equity
change, and `mmsim.attribution` splits it into components that sum exactly to it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import attrs
import numpy as np
import polars as pl

from mmsim.results.aligned import Aligned, Plan, align, run_plans, stable_order
from mmsim.results.attribution import COMPONENTS, attribution_plan
from mmsim.results.schema import POSTED_SCHEMA, REJECTION_SCHEMA, in_frames

if TYPE_CHECKING:
    from mmsim.results.result import Result

YEAR_US = 365 * 86_400 * 1_000_000
DAY_US = 86_400 * 1_000_000
HORIZONS = (1, 5, 15, 60)
TOTAL = "TOTAL"

# One line per metric: the report's glossary and the README's metrics table.
DEFINITIONS: dict[str, str] = {
    "pnl": "final equity - initial cash (per symbol: realized + unrealized - fees + funding), USDT",
    "return": "pnl / initial cash, on mark-to-market equity (wallet + unrealized)",
    "annual_return": (
        "(1 + return)^(bars per 365-day year / bars) - 1; empty when too short to be finite"
    ),
    "sharpe": "mean / std of per-bar equity returns x sqrt(bars per 365-day year)",
    "sortino": (
        "mean per-bar return / downside deviation x sqrt(bars per year); downside deviation ="
        " sqrt(mean over all bars of min(r, 0)^2)"
    ),
    "max_drawdown": (
        "largest fall of equity from its running peak (the initial cash included), fraction "
        "of the peak"
    ),
    "max_drawdown_days": (
        "longest time equity stayed below a previous peak (also max_drawdown_bars)"
    ),
    "calmar": "annual_return / max_drawdown",
    "spread_capture": (
        "sum over maker fills of side x (close of the fill's bar - price) x qty, USDT"
    ),
    "taker_execution": "the same over taker fills (market orders, emergency exits, liquidations)",
    "inventory_pnl": "sum over bars of position at the previous close x (mark - previous mark)",
    "maker_fees / rebates / taker_fees": (
        "minus the fees paid, split: maker fees > 0, maker fees < 0 (rebates received), taker fees"
    ),
    "funding": "funding received (negative when paid); the seven components sum exactly to pnl",
    "fills / volume": "executions and their notional (price x qty, USDT)",
    "turnover": "volume / mean equity",
    "fill_rate": (
        "maker fills / limit orders posted that then rested during a bar, per symbol, side "
        "and level"
    ),
    "rejected": (
        "orders refused at placement or by risk rules, counted per reason (post_only, "
        "lot_size, leverage, min_order_value, emergency_exit, early_stop)"
    ),
    "round_trips": "fills that bring a position back to flat or through it",
    "quoted_spread_bps": "mean over bars quoting both sides of (best ask - best bid) / their mid",
    "captured_spread_bps": (
        "2 x spread_capture / maker notional: the spread earned against each fill's bar close"
    ),
    "markout_h_bps": (
        "mean over maker fills of side x (mark h bars later - price) / price; < 0 = adverse "
        "selection"
    ),
    "mean_abs_position / max_abs_position": (
        "mean and max |position| (base units); also mean and max notional (USDT)"
    ),
    "quoting_both / quoting_one_side / quoting_none": (
        "shares of bars with orders resting on both sides, on one side only, on neither (an "
        "inventory cap or a refused quote leaves one side or none)"
    ),
    "clamped / clamped_share": (
        "quotes that crossed the close and were moved one tick behind it (Venue post_only="
        '"clamp"), and their share of the orders posted'
    ),
    "max_leverage / mean_leverage": (
        "gross notional / equity per bar: max and mean (per symbol: its notional / equity)"
    ),
    "max_margin_ratio / mean_margin_ratio": (
        "maintenance margin / equity per bar (liquidation at 1): max and mean"
    ),
    "emergency_exits / early_stops / liquidations": (
        "bars on which each fired; the report lists them with their bars and reasons"
    ),
}


def periods_per_year(interval_us: int) -> float:
    """Bars in a 365-day year (crypto trades every day)."""
    return YEAR_US / interval_us


# --- returns and drawdowns -------------------------------------------------------------------


def _path(equity: pl.Series | np.ndarray, initial_cash: float | None) -> np.ndarray:
    """The equity path as float64, with the starting capital in front so the first bar has a
    return."""
    if isinstance(equity, pl.Series):
        values = (equity if equity.dtype == pl.Float64 else equity.cast(pl.Float64)).to_numpy()
    else:
        values = equity
    if initial_cash is None:
        return np.asarray(values, dtype=np.float64)
    return np.concatenate([[float(initial_cash)], values])


def returns_expr(column: str = "equity") -> pl.Expr:
    """Simple per-bar returns of an equity column: e_t / e_{t-1} - 1 (null on the first row)."""
    return pl.col(column) / pl.col(column).shift(1) - 1.0


def drawdown_expr(column: str = "equity") -> pl.Expr:
    """Fraction below the running peak: 1 - e_t / max(e_0..e_t) (0 at a new high)."""
    return 1.0 - pl.col(column) / pl.col(column).cum_max()


def _returns(path: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return path[1:] / path[:-1] - 1.0


def bar_returns(equity: pl.Series, initial_cash: float | None = None) -> pl.Series:
    """Per-bar simple returns; with initial_cash the first bar's return is against it."""
    return pl.Series(equity.name, _returns(_path(equity, initial_cash)))


def _sharpe(returns: np.ndarray, interval_us: int) -> float | None:
    if len(returns) < 2:
        return None
    std = float(returns.std(ddof=1))
    if not std or not math.isfinite(std):
        return None
    return float(returns.mean() / std * math.sqrt(periods_per_year(interval_us)))


def _sortino(returns: np.ndarray, interval_us: int) -> float | None:
    if len(returns) < 2:
        return None
    downside = math.sqrt(float((np.minimum(returns, 0.0) ** 2).mean()))
    if not downside or not math.isfinite(downside):
        return None
    return float(returns.mean() / downside * math.sqrt(periods_per_year(interval_us)))


def _drawdowns(path: np.ndarray) -> tuple[float, int]:
    """(deepest fall below the running peak as a fraction of it, most consecutive bars below)."""
    if len(path) == 0:
        return 0.0, 0
    peak = np.maximum.accumulate(path)
    with np.errstate(divide="ignore", invalid="ignore"):
        depth = float(max(np.fmax.reduce(1.0 - path / peak), 0.0))
    under = np.zeros(len(path) + 2, dtype=np.int8)
    under[1:-1] = path < peak
    edges = np.diff(under)  # +1 where a spell below the peak starts, -1 after it ends
    spells = np.flatnonzero(edges < 0) - np.flatnonzero(edges > 0)
    return depth, int(spells.max()) if len(spells) else 0


def sharpe_ratio(
    equity: pl.Series, interval_us: int, initial_cash: float | None = None
) -> float | None:
    """Annualised mean / std of per-bar simple returns of equity; None when undefined."""
    return _sharpe(_returns(_path(equity, initial_cash)), interval_us)


def sortino_ratio(
    equity: pl.Series, interval_us: int, initial_cash: float | None = None
) -> float | None:
    """Annualised mean return / downside deviation; None when undefined (no losing bar).

    Downside deviation = sqrt(mean over ALL bars of min(r, 0)^2) (target 0), not the std of
    the losing bars alone.
    """
    return _sortino(_returns(_path(equity, initial_cash)), interval_us)


def max_drawdown(equity: pl.Series, initial_cash: float | None = None) -> float:
    """Largest fall from a running peak, as a fraction of that peak (0.1 = 10%)."""
    return _drawdowns(_path(equity, initial_cash))[0]


def max_drawdown_bars(equity: pl.Series, initial_cash: float | None = None) -> int:
    """Duration of the longest drawdown: most consecutive bars spent below a previous peak."""
    return _drawdowns(_path(equity, initial_cash))[1]


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
    equity: pl.Series | np.ndarray, initial_cash: float, interval_us: int
) -> dict[str, float | int | None]:
    """Return, annual return, Sharpe, Sortino, max drawdown (depth, bars, days) and Calmar."""
    path = _path(equity, initial_cash)
    n = len(path) - 1
    total = float(path[-1]) / initial_cash - 1.0
    annual = annual_return(total, n, interval_us)
    depth, bars = _drawdowns(path)
    returns = _returns(path)
    return {
        "return": total,
        "annual_return": annual,
        "sharpe": _sharpe(returns, interval_us),
        "sortino": _sortino(returns, interval_us),
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
    return _performance_table(equity, align(None, symbols), initial_cash, interval_us)


def _performance_table(
    equity: pl.DataFrame, run: Aligned, initial_cash: float, interval_us: int
) -> pl.DataFrame:
    return _performance_plan(equity, run, initial_cash, interval_us).run()


def _performance_plan(
    equity: pl.DataFrame, run: Aligned, initial_cash: float, interval_us: int
) -> Plan:
    curve = (pnl_expr() + initial_cash).cast(pl.Float64)
    return Plan(
        (run.bars.lazy().select(curve),),
        lambda collected: _performance_rows(
            equity, run, collected[0].to_series().to_numpy(), initial_cash, interval_us
        ),
    )


def _performance_rows(
    equity: pl.DataFrame, run: Aligned, curves: np.ndarray, initial_cash: float, interval_us: int
) -> pl.DataFrame:
    rows = [
        {"symbol": name, **performance(curves[start:end], initial_cash, interval_us)}
        for name, start, end in zip(run.names, run.starts, run.ends)
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


def drawdown_frame(equity: pl.DataFrame, initial_cash: float) -> pl.DataFrame:
    """ts, equity, peak (running, from the initial cash) and drawdown (fraction of the peak)."""
    return equity.select(
        "ts",
        "equity",
        pl.max_horizontal(pl.col("equity").cum_max(), pl.lit(float(initial_cash))).alias("peak"),
    ).with_columns((1.0 - pl.col("equity") / pl.col("peak")).alias("drawdown"))


# --- trading ---------------------------------------------------------------------------------


def _with_total(per_symbol: pl.DataFrame, total: pl.DataFrame) -> pl.DataFrame:
    if list(total.schema.items()) == list(per_symbol.schema.items()):  # a plain stack
        return pl.concat([per_symbol, total])
    return pl.concat([per_symbol, total.select(per_symbol.columns)], how="vertical_relaxed")


def round_trips_expr(by: str = "symbol") -> pl.Expr:
    """Per fill (in booking order, over symbol): True when it closes or flips a position.

    A round trip is a position opened from flat and brought back to flat (or through it).
    `by`: the column naming the fill's symbol (or its code).
    """
    return _closes_expr(_signed_qty().cum_sum().over(by))


def _signed_qty() -> pl.Expr:
    return pl.col("side").cast(pl.Float64) * pl.col("qty")


def _closes_expr(after: pl.Expr) -> pl.Expr:
    """True on a fill that closes or flips its symbol's position (`after`: position after it)."""
    before = after - _signed_qty()
    tol = 1e-9 * pl.col("qty")  # float residue of an exact close
    flat_before = before.abs() <= tol
    flat_after = after.abs() <= tol
    return ~flat_before & (flat_after | (before.sign() != after.sign()))


def _positions_after(run: Aligned) -> pl.Series:
    """Each fill's symbol's position after it (base units): a running sum per symbol, in
    booking order, added left to right as `cum_sum` does."""
    fills = run.fills
    # side x qty with numpy: one exact product per fill, as the expression computes it
    signed = fills["side"].to_numpy().astype(np.float64) * fills["qty"].to_numpy()
    if len(run.names) <= 1 or fills.height == 0:
        return pl.Series("_after", np.cumsum(signed))
    sid = fills["sid"].to_numpy()
    order = stable_order(sid, len(run.names))  # each symbol's fills together, in booking order
    bounds = np.searchsorted(sid[order], np.arange(1, len(run.names)))
    after = np.empty_like(signed)
    after[order] = np.concatenate([np.cumsum(part) for part in np.split(signed[order], bounds)])
    return pl.Series("_after", after)


def fill_rates(fills: pl.DataFrame, posted: pl.DataFrame) -> pl.DataFrame:
    """Per symbol, side and level: orders posted, maker fills, fill_rate = fills / posted."""
    filled = (
        fills.filter(pl.col("liquidity") == "maker")
        .group_by("symbol", "side", "level", maintain_order=True)
        .agg(pl.len().alias("fills"), pl.col("qty").sum().alias("filled_qty"))
    )
    out = posted.join(filled, on=["symbol", "side", "level"], how="full", coalesce=True)
    return (
        out.with_columns(
            pl.col("orders").fill_null(0),
            pl.col("fills").fill_null(0).cast(pl.Int64),
            pl.col("qty").fill_null(0.0).alias("posted_qty"),
            pl.col("filled_qty").fill_null(0.0),
        )
        .with_columns(
            pl.when(pl.col("orders") > 0)
            .then(pl.col("fills") / pl.col("orders"))
            .alias("fill_rate")
        )
        .select(
            "symbol", "side", "level", "orders", "fills", "fill_rate", "posted_qty", "filled_qty"
        )
        .sort("symbol", pl.col("side"), "level", descending=[False, True, False])
    )


def reason_kind_expr(column: str) -> pl.Expr:
    """The kind of a reason or event string: the text before ':' ("emergency_exit: ..." -> ...)."""
    return pl.col(column).str.split(":").list.first().str.strip_chars()


def rejections_by_reason(rejections: pl.DataFrame) -> pl.DataFrame:
    """Orders refused per symbol and reason kind (post_only, lot_size, leverage, ...)."""
    # group on the full reason first (few distinct strings), then parse each one once
    return (
        rejections.group_by("symbol", "reason", maintain_order=True)
        .agg(
            pl.len().cast(pl.Int64).alias("rejected"),
            (pl.col("side") > 0).sum().cast(pl.Int64).alias("bids"),
            (pl.col("side") < 0).sum().cast(pl.Int64).alias("asks"),
        )
        .group_by("symbol", reason_kind_expr("reason").alias("reason"), maintain_order=True)
        .agg(pl.col("rejected", "bids", "asks").sum())
        .sort("symbol", "rejected", "reason", descending=[False, True, False])
    )


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
    return _trading_stats(equity, align(fills, symbols), rejections, posted)


def _trading_stats(
    equity: pl.DataFrame, run: Aligned, rejections: pl.DataFrame, posted: pl.DataFrame
) -> pl.DataFrame:
    return _trading_plan(equity, run, rejections, posted).run()


def _trading_plan(
    equity: pl.DataFrame, run: Aligned, rejections: pl.DataFrame, posted: pl.DataFrame
) -> Plan:
    notional = pl.col("price") * pl.col("qty")
    maker = pl.col("liquidity") == "maker"
    edge = pl.col("side") * (pl.col("mark") - pl.col("price")) * pl.col("qty")
    # per fill first, so the aggregations below are plain column reductions
    per_fill = (
        run.fills.lazy()
        .with_columns(_positions_after(run))
        .select(
            "sid",
            maker.alias("maker_fills"),
            (~maker).alias("taker_fills"),
            (pl.col("side") > 0).alias("buys"),
            (pl.col("side") < 0).alias("sells"),
            notional.alias("volume"),
            pl.when(maker).then(notional).otherwise(0.0).alias("maker_volume"),
            pl.when(maker).then(edge).otherwise(0.0).alias("_capture"),
            _closes_expr(pl.col("_after")).alias("round_trips"),
        )
    )
    fill_aggs = [
        pl.len().alias("fills"),
        pl.col(
            "maker_fills",
            "taker_fills",
            "buys",
            "sells",
            "volume",
            "maker_volume",
            "_capture",
            "round_trips",
        ).sum(),
    ]
    spread = (pl.col("ask") - pl.col("bid")) / ((pl.col("ask") + pl.col("bid")) / 2) * 1e4
    bid, ask = pl.col("bid").is_not_null(), pl.col("ask").is_not_null()
    # results saved before clamping existed have no clamped column
    clamped = pl.col("clamped") if "clamped" in run.bars.columns else pl.lit(None, pl.Int64)
    # per bar first, so the aggregations below are plain column reductions
    quotes = run.bars.lazy().select(
        "sid",
        spread.alias("quoted_spread_bps"),
        (bid | ask).alias("time_quoting"),
        (bid & ask).alias("quoting_both"),
        (bid ^ ask).alias("quoting_one_side"),
        (~bid & ~ask).alias("quoting_none"),
        clamped.alias("clamped"),
        "orders",
    )
    quote_aggs = [
        pl.col("quoted_spread_bps", "time_quoting", "quoting_both", "quoting_one_side").mean(),
        pl.col("quoting_none").mean(),
        pl.col("clamped").sum().cast(pl.Int64),
        pl.when(pl.col("orders").sum() > 0)
        .then(pl.col("clamped").sum() / pl.col("orders").sum())
        .alias("clamped_share"),
    ]
    post_aggs = [pl.col("orders").sum().alias("orders_posted")]
    rej_aggs = [pl.len().alias("rejected")]
    # every table in one collect (the counts are integers: exact in any order)
    tables = run.per_symbol_and_total_plan(
        (per_fill, fill_aggs),
        (quotes, quote_aggs),
        (posted.lazy(), post_aggs, "symbol"),
        (rejections.lazy(), rej_aggs, "symbol"),
    )

    counts = (
        "fills",
        "maker_fills",
        "taker_fills",
        "buys",
        "sells",
        "round_trips",
        "orders_posted",
        "rejected",
    )
    c = {name: pl.col(name).fill_null(0).cast(pl.Int64).alias(name) for name in counts}
    c |= {name: pl.col(name).fill_null(0.0) for name in ("volume", "maker_volume", "_capture")}

    def finish(frame: pl.DataFrame) -> pl.DataFrame:
        # one eager select per frame: per symbol and TOTAL apart, as a column divided by a
        # number over one row and over several may round differently
        return frame.select(
            "symbol",
            c["fills"],
            c["maker_fills"],
            c["taker_fills"],
            c["buys"],
            c["sells"],
            c["volume"],
            (c["volume"] / mean_equity).alias("turnover"),
            c["orders_posted"],
            pl.when(c["orders_posted"] > 0)
            .then(c["maker_fills"] / c["orders_posted"])
            .alias("fill_rate"),
            c["rejected"],
            c["round_trips"],
            "quoted_spread_bps",
            pl.when(c["maker_volume"] > 0)
            .then(2 * c["_capture"] / c["maker_volume"] * 1e4)
            .alias("captured_spread_bps"),
            "time_quoting",
            "quoting_both",
            "quoting_one_side",
            "quoting_none",
            "clamped",
            "clamped_share",
        )

    mean_equity = float(equity["equity"].mean()) if equity.height else float("nan")

    def finish_all(collected: Sequence[pl.DataFrame]) -> pl.DataFrame:
        (
            (by_fill, total_fill),
            (by_quote, total_quote),
            (by_post, total_post),
            (by_rej, total_rej),
        ) = tables.finish(collected)
        per_symbol = pl.DataFrame(
            [
                *by_fill.get_columns(),
                *(c for f in (by_quote, by_post, by_rej) for c in f.get_columns()[1:]),
            ]
        )
        total = pl.concat(
            [pl.DataFrame({"symbol": [TOTAL]}), total_fill, total_quote, total_post, total_rej],
            how="horizontal",
        )
        return pl.concat([finish(per_symbol), finish(total)])

    return Plan(tables.queries, finish_all)


# --- adverse selection -----------------------------------------------------------------------


def markouts(
    fills: pl.DataFrame,
    symbols: pl.DataFrame,
    horizons: Sequence[int] = HORIZONS,
    *,
    liquidity: str | None = "maker",
) -> pl.DataFrame:
    """Markouts: the mark move after each fill, signed for the filled side, h bars later.

    markout_bps = side * (mark_{t+h} - price) / price * 1e4 for a fill in bar t (mark_{t+0} is
    that bar's close); negative = the market moved against the fill (adverse selection).
    Averaged per symbol, side and horizon; `fills` counts the fills with h bars left after them,
    `markout_usdt` sums side * (mark_{t+h} - price) * qty. liquidity: "maker" (default: the
    quotes' fills), "taker", or None for all fills.
    """
    horizons = markout_horizons(horizons)
    run = align(fills, symbols)
    chosen = run.fills if liquidity is None else run.fills.filter(pl.col("liquidity") == liquidity)
    joined = _marks_ahead(run, chosen, horizons).select(
        "symbol", "side", "price", "qty", *(f"m{h}" for h in horizons)
    )
    # one horizon at a time: a long frame of every (fill, horizon) pair would hold a row per
    # fill and horizon at once
    parts = [
        joined.select(
            "symbol",
            "side",
            (pl.col("side") * (pl.col(f"m{h}") - pl.col("price")) / pl.col("price") * 1e4).alias(
                "bps"
            ),
            (pl.col("side") * (pl.col(f"m{h}") - pl.col("price")) * pl.col("qty")).alias("usdt"),
        )
        .drop_nulls("bps")
        .group_by("symbol", "side", maintain_order=True)
        .agg(
            pl.len().alias("fills"),
            pl.col("bps").mean().alias("markout_bps"),
            pl.col("usdt").sum().alias("markout_usdt"),
        )
        .select(
            "symbol",
            "side",
            pl.lit(h, pl.Int32).alias("horizon"),
            pl.all().exclude("symbol", "side"),
        )
        for h in horizons
    ]
    schema = {
        "symbol": pl.String,
        "side": pl.Int8,
        "horizon": pl.Int32,
        "fills": pl.UInt32,
        "markout_bps": pl.Float64,
        "markout_usdt": pl.Float64,
    }
    return (pl.concat(parts) if parts else pl.DataFrame(schema=schema)).sort(
        "symbol", "side", "horizon", descending=[False, True, False]
    )


def markout_summary(
    fills: pl.DataFrame, symbols: pl.DataFrame, horizons: Sequence[int] = HORIZONS
) -> pl.DataFrame:
    """Per symbol and TOTAL (both sides): mean maker-fill markout in bps at each horizon, wide."""
    return _markout_summary(align(fills, symbols), horizons)


def markout_horizons(horizons: Sequence[int]) -> tuple[int, ...]:
    """Markout horizons as whole bars: each >= 0, none twice (each names its own column)."""
    out = tuple(int(h) for h in horizons)
    if any(h < 0 or h != g for h, g in zip(out, horizons, strict=True)):
        raise ValueError(f"markout horizons must be whole numbers of bars >= 0, got {horizons}")
    twice = sorted({h for h in out if out.count(h) > 1})
    if twice:
        raise ValueError(f"markout horizons must be distinct, got {horizons} ({twice} twice)")
    return out


def _marks_ahead(run: Aligned, fills: pl.DataFrame, horizons: Sequence[int]) -> pl.DataFrame:
    """m{h} per fill: its symbol's mark h bars after the fill's bar (null past its last bar)."""
    row = fills["row"].to_numpy()
    sid = fills["sid"].to_numpy().astype(np.int64)
    start, end = run.starts[sid], run.ends[sid]
    marks = run.bars["mark"].cast(pl.Float64).to_numpy()  # a null mark reads as NaN: null again
    columns = []
    for h in horizons:
        ahead = row + h
        inside = (ahead >= start) & (ahead < end)
        taken = marks[np.clip(ahead, 0, len(marks) - 1)] if len(marks) else np.zeros(len(row))
        columns.append(pl.Series(f"m{h}", np.where(inside, taken, np.nan), nan_to_null=True))
    return fills.hstack(columns)


def _markout_summary(run: Aligned, horizons: Sequence[int]) -> pl.DataFrame:
    return _markout_plan(run, horizons).run()


def _markout_plan(run: Aligned, horizons: Sequence[int]) -> Plan:
    horizons = markout_horizons(horizons)
    joined = _marks_ahead(run, run.fills.filter(pl.col("liquidity") == "maker"), horizons)
    aggs = [
        (pl.col("side") * (pl.col(f"m{h}") - pl.col("price")) / pl.col("price") * 1e4)
        .mean()
        .alias(f"markout_{h}_bps")
        for h in horizons
    ]
    if not aggs:
        return Plan(
            (),
            lambda _: _with_total(
                pl.DataFrame({"symbol": list(run.names)}), pl.DataFrame({"symbol": [TOTAL]})
            ),
        )

    def finish(collected: Sequence[pl.DataFrame]) -> pl.DataFrame:
        per_symbol, over_all = run.per_symbol_frame(collected[0]), joined.select(*aggs)
        total = pl.concat([pl.DataFrame({"symbol": [TOTAL]}), over_all], how="horizontal")
        return _with_total(per_symbol, total)

    return Plan((run.per_symbol_query(joined, *aggs),), finish)


# --- risk ------------------------------------------------------------------------------------


def risk_events(events: pl.DataFrame, equity: pl.DataFrame) -> pl.DataFrame:
    """Emergency exits, early stops and liquidations: ts, bar (0-based index), kind, reason."""
    bars = equity.select("ts").with_row_index("bar")
    return events.join(bars, on="ts", how="left").select(
        "ts",
        pl.col("bar").cast(pl.Int64),
        reason_kind_expr("event").alias("kind"),
        pl.col("event").alias("reason"),
    )


def risk_stats(equity: pl.DataFrame, symbols: pl.DataFrame, events: pl.DataFrame) -> pl.DataFrame:
    """Per symbol and TOTAL: inventory (mean and max |position|, base units and USDT notional),
    leverage (max, mean), margin ratio (TOTAL only, max and mean),
    emergency exits, early stops and liquidations (bars on which each happened)."""
    return _risk_stats(equity, align(None, symbols), events)


def _risk_stats(equity: pl.DataFrame, run: Aligned, events: pl.DataFrame) -> pl.DataFrame:
    return _risk_plan(equity, run, events).run()


def _risk_plan(equity: pl.DataFrame, run: Aligned, events: pl.DataFrame) -> Plan:
    inventory = [
        pl.col("position").abs().mean().alias("mean_abs_position"),
        pl.col("position").abs().max().alias("max_abs_position"),
        pl.col("notional").mean().alias("mean_notional"),
        pl.col("notional").max().alias("max_notional"),
        pl.col("leverage").max().alias("max_leverage"),
        pl.col("leverage").mean().alias("mean_leverage"),
    ]
    kinds = reason_kind_expr("event")
    counts = [
        (kinds == k).sum().cast(pl.Int64).alias(f"{k}s" if k != "early_stop" else "early_stops")
        for k in ("emergency_exit", "early_stop", "liquidation")
    ]
    # the event counts are integers: exact in the same collect as the inventory figures
    queries = (run.per_symbol_query(run.bars, *inventory), events.lazy().select(*counts))

    def finish(collected: Sequence[pl.DataFrame]) -> pl.DataFrame:
        by_symbol, events_counted = collected
        per_symbol = run.per_symbol_frame(by_symbol)
        n = per_symbol.height
        per_symbol = per_symbol.hstack(
            [
                pl.Series(c, [None] * n, dtype=pl.Float64)
                for c in ("max_margin_ratio", "mean_margin_ratio")
            ]
        )
        total = pl.concat(
            [
                pl.DataFrame(
                    [
                        pl.Series("symbol", [TOTAL]),
                        # base units do not add up
                        pl.Series("mean_abs_position", [None], dtype=pl.Float64),
                        pl.Series("max_abs_position", [None], dtype=pl.Float64),
                    ]
                ),
                equity.select(
                    pl.col("notional").mean().alias("mean_notional"),
                    pl.col("notional").max().alias("max_notional"),
                    pl.col("leverage").max().alias("max_leverage"),
                    pl.col("leverage").mean().alias("mean_leverage"),
                    pl.col("margin_ratio").max().alias("max_margin_ratio"),
                    pl.col("margin_ratio").mean().alias("mean_margin_ratio"),
                ),
                events_counted,
            ],
            how="horizontal",
        )
        per_symbol = per_symbol.hstack(
            [
                pl.Series(c, [None] * n, dtype=pl.Int64)
                for c in ("emergency_exits", "early_stops", "liquidations")
            ]
        )
        return _with_total(per_symbol, total)

    return Plan(queries, finish)


# --- everything at once ----------------------------------------------------------------------


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
    run = align(fills, symbols)  # fills matched to their bars once, for every table below
    # every table's queries in one collect
    base, perf, attributed, trading, risk, marks = run_plans(
        _base_plan(equity, run, initial_cash),
        _performance_plan(equity, run, initial_cash, interval_us),
        attribution_plan(run),
        _trading_plan(equity, run, rejections, posted),
        _risk_plan(equity, run, events),
        _markout_plan(run, horizons),
    )
    return _compose_summary(base, perf, attributed, trading, risk, marks)


def _base_rows(equity: pl.DataFrame, run: Aligned, initial_cash: float) -> pl.DataFrame:
    """symbol, pnl, realized, unrealized, fees, funding, final_position: per symbol and TOTAL."""
    return _base_plan(equity, run, initial_cash).run()


def _base_plan(equity: pl.DataFrame, run: Aligned, initial_cash: float) -> Plan:
    columns = ("realized", "unrealized", "fees", "funding", "position")
    return Plan(
        (run.per_symbol_query(run.bars, pl.col(*columns).last()),),
        lambda collected: _base_finish(equity, run.per_symbol_frame(collected[0]), initial_cash),
    )


def _base_finish(equity: pl.DataFrame, last: pl.DataFrame, initial_cash: float) -> pl.DataFrame:
    last = last.select(
        "symbol",
        pnl_expr().alias("pnl"),
        "realized",
        "unrealized",
        "fees",
        "funding",
        pl.col("position").alias("final_position"),
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
    # the ledger's funding is already in `base`; the attribution's is the same figure
    # every table has one row per symbol in the run's order, then TOTAL: side by side, the
    # columns line up as a left join on symbol would line them
    skip = {"symbol", "pnl", "funding", "max_notional", "mean_notional"}
    columns = {c.name: c for c in base.get_columns()}
    for frame in (perf, attributed, trading, marks, risk):
        for column in frame.get_columns():
            if column.name not in skip and column.name not in columns:
                name = "inventory_pnl" if column.name == "inventory" else column.name
                columns[name] = column.alias(name) if name != column.name else column
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
    return pl.DataFrame([columns[c] for c in (*first, *(c for c in columns if c not in first))])


def _empty_rejections() -> pl.DataFrame:
    return pl.DataFrame(schema=in_frames(REJECTION_SCHEMA))


@attrs.frozen(slots=True, eq=False)
class Metrics:
    """Every metric table of one run (immutable); each frame has one row per symbol and TOTAL
    unless said otherwise. Money in USDT, spreads and markouts in bps."""

    summary: pl.DataFrame  # as `summarize`: the key figures of every table, one row each
    performance: pl.DataFrame  # return, annual_return, sharpe, sortino, max_drawdown, calmar
    attribution: pl.DataFrame  # mmsim.results.attribution.COMPONENTS and pnl
    trading: pl.DataFrame  # see trading_stats
    fill_rates: pl.DataFrame  # per symbol, side, level
    rejections: pl.DataFrame  # per symbol, reason kind
    markouts: pl.DataFrame  # per symbol, side, horizon
    risk: pl.DataFrame  # see risk_stats
    events: pl.DataFrame  # ts, bar, kind, reason
    horizons: tuple[int, ...]


def compute_metrics(result: Result, *, horizons: Sequence[int] = HORIZONS) -> Metrics:
    """All metric tables of a Result (pure: the result's frames in, new frames out)."""
    initial_cash = float(result.config["initial_cash"])
    interval_us = int(result.config["interval_us"])
    equity, symbols, fills = result.equity, result.symbols, result.fills
    run = align(fills, symbols)
    base, perf, attributed, trading, risk, marks = run_plans(
        _base_plan(equity, run, initial_cash),
        _performance_plan(equity, run, initial_cash, interval_us),
        attribution_plan(run),
        _trading_plan(equity, run, result.rejections, result.posted),
        _risk_plan(equity, run, result.events),
        _markout_plan(run, horizons),
    )
    summary = _compose_summary(base, perf, attributed, trading, risk, marks)
    return Metrics(
        summary=summary,
        performance=perf,
        attribution=attributed,
        trading=trading,
        fill_rates=fill_rates(fills, result.posted),
        rejections=rejections_by_reason(result.rejections),
        markouts=markouts(fills, symbols, horizons),
        risk=risk,
        events=risk_events(result.events, equity),
        horizons=tuple(int(h) for h in horizons),
    )


def summary_of(result: Result, *, horizons: Sequence[int] = HORIZONS) -> pl.DataFrame:
    """`summarize` recomputed from a Result's frames (also for folders saved by older versions)."""
    return summarize(
        result.equity,
        result.symbols,
        result.fills,
        float(result.config["initial_cash"]),
        int(result.config["interval_us"]),
        rejections=result.rejections,
        events=result.events,
        posted=result.posted,
        horizons=horizons,
    )


COMPARE_COLUMNS = (
    "pnl",
    "return",
    "annual_return",
    "sharpe",
    "sortino",
    "max_drawdown",
    "max_drawdown_days",
    "calmar",
    *(c if c != "inventory" else "inventory_pnl" for c in COMPONENTS),
    "fills",
    "volume",
    "turnover",
    "fill_rate",
    "round_trips",
    "quoted_spread_bps",
    "captured_spread_bps",
    "markout_1_bps",
    "markout_5_bps",
    "max_leverage",
    "max_margin_ratio",
    "quoting_both",
    "quoting_one_side",
    "quoting_none",
    "clamped",
    "emergency_exits",
    "early_stops",
    "liquidations",
)


def compare(results: Mapping[str, Result], *, horizons: Sequence[int] = HORIZONS) -> pl.DataFrame:
    """One row per strategy set (each run's TOTAL summary row), named by the mapping's keys."""
    if not results:
        raise ValueError("compare needs at least one result")
    rows = []
    for name, result in results.items():
        total = summary_of(result, horizons=horizons).filter(pl.col("symbol") == TOTAL)
        rows.append(
            total.select(
                pl.lit(str(name)).alias("name"), *(c for c in COMPARE_COLUMNS if c in total.columns)
            )
        )
    return pl.concat(rows, how="diagonal_relaxed")


__all__ = [
    "COMPARE_COLUMNS",
    "DEFINITIONS",
    "HORIZONS",
    "Metrics",
    "annual_return",
    "bar_returns",
    "compare",
    "compute_metrics",
    "drawdown_expr",
    "drawdown_frame",
    "fill_rates",
    "markout_summary",
    "markouts",
    "max_drawdown",
    "max_drawdown_bars",
    "performance",
    "performance_table",
    "periods_per_year",
    "pnl_expr",
    "rejections_by_reason",
    "returns_expr",
    "risk_events",
    "risk_stats",
    "round_trips_expr",
    "sharpe_ratio",
    "sortino_ratio",
    "summarize",
    "summary_of",
    "trading_stats",
]
