"""The engine's promises, checked on a finished run from its frames alone (Polars, no fold).

Each check returns Violations naming the bar (ts), the symbol and the amounts that disagree.
"""

from __future__ import annotations

import attrs
import polars as pl

from mmsim.bars import validate_bars


@attrs.frozen(slots=True)
class Violation:
    """One broken invariant at one bar (and symbol, where it applies)."""

    invariant: str
    ts: object
    symbol: str | None
    detail: str

    def __str__(self) -> str:
        where = f"{self.ts}" + (f" {self.symbol}" if self.symbol else "")
        return f"[{self.invariant}] at {where}: {self.detail}"


def _signed_fills(result) -> pl.DataFrame:
    return result.fills.with_columns((pl.col("side").cast(pl.Float64) * pl.col("qty")).alias("sq"))


def check_equity_identity(result, rel_tol: float = 1e-9) -> list[Violation]:
    """equity_t - equity_{t-1} = sum_symbols [pos_{t-1}*(mark_t - mark_{t-1})
    + sum_fills signed_qty*(mark_t - fill_price)] - fees_t + funding_t."""
    sym = result.symbols.sort("symbol", "ts").with_columns(
        pl.col("position").shift(1, fill_value=0.0).over("symbol").alias("prev_pos"),
        pl.col("mark").shift(1).over("symbol").alias("prev_mark"),
    )
    marks = result.symbols.select("ts", "symbol", "mark")
    fill_pnl = (
        _signed_fills(result)
        .join(marks, on=["ts", "symbol"], how="left")
        .group_by("ts", "symbol", maintain_order=True)
        .agg((pl.col("sq") * (pl.col("mark") - pl.col("price"))).sum().alias("fill_pnl"))
    )
    sym = sym.join(fill_pnl, on=["ts", "symbol"], how="left").with_columns(
        pl.col("fill_pnl").fill_null(0.0),
        (pl.col("prev_pos") * (pl.col("mark") - pl.col("prev_mark").fill_null(pl.col("mark")))).alias(
            "carry_pnl"
        ),
    )
    per_bar = sym.group_by("ts", maintain_order=True).agg((pl.col("carry_pnl") + pl.col("fill_pnl")).sum().alias("trading"))
    initial = result.config["initial_cash"]
    eq = (
        result.equity.join(per_bar, on="ts", how="left")
        .sort("ts")
        .with_columns(
            pl.col("equity").diff().fill_null(pl.col("equity") - initial).alias("d_equity"),
            pl.col("fees").diff().fill_null(pl.col("fees")).alias("d_fees"),
            pl.col("funding").diff().fill_null(pl.col("funding")).alias("d_funding"),
        )
        .with_columns(
            (pl.col("trading") - pl.col("d_fees") + pl.col("d_funding")).alias("expected"),
            (pl.col("equity").abs() + pl.col("notional") + initial).alias("scale"),
        )
        .filter((pl.col("d_equity") - pl.col("expected")).abs() > rel_tol * pl.col("scale"))
    )
    return [
        Violation(
            "equity_identity", r["ts"], None,
            f"equity changed by {r['d_equity']!r}, expected {r['expected']!r}",
        )
        for r in eq.head(20).iter_rows(named=True)
    ]


def check_fees(result, rel_tol: float = 1e-9) -> list[Violation]:
    """Each fill's fee = price * qty * (maker_fee or taker_fee); total fees = sum of fill fees."""
    venue = result.config["venue"]
    rate = pl.when(pl.col("liquidity") == "maker").then(venue["maker_fee"]).otherwise(venue["taker_fee"])
    bad = result.fills.filter(
        (pl.col("fee") - pl.col("price") * pl.col("qty") * rate).abs()
        > rel_tol * (pl.col("price") * pl.col("qty") + 1.0)
    )
    out = [
        Violation("fee", r["ts"], r["symbol"], f"fee {r['fee']!r} is not notional x {r['liquidity']} rate")
        for r in bad.head(20).iter_rows(named=True)
    ]
    total = result.fills["fee"].sum()
    booked = result.equity["fees"][-1] if result.equity.height else 0.0
    if abs(total - booked) > rel_tol * (abs(total) + 1.0) + 1e-9:
        out.append(Violation("fee_total", None, None, f"fills' fees sum to {total!r}, ledger has {booked!r}"))
    return out


def check_positions(result, abs_tol: float = 1e-9) -> list[Violation]:
    """position at each bar close = cumulative sum of signed fill quantities up to that bar."""
    cum = (
        _signed_fills(result)
        .group_by("ts", "symbol", maintain_order=True)
        .agg(pl.col("sq").sum())
    )
    sym = (
        result.symbols.join(cum, on=["ts", "symbol"], how="left")
        .sort("symbol", "ts")
        .with_columns(pl.col("sq").fill_null(0.0).cum_sum().over("symbol").alias("from_fills"))
        .filter((pl.col("position") - pl.col("from_fills")).abs() > abs_tol * (1 + pl.col("from_fills").abs()))
    )
    return [
        Violation("position", r["ts"], r["symbol"], f"position {r['position']!r} != sum of fills {r['from_fills']!r}")
        for r in sym.head(20).iter_rows(named=True)
    ]


def check_fill_prices(result, bars: pl.DataFrame) -> list[Violation]:
    """Maker buys at p need low <= p - n*tick, sells high >= p + n*tick; market fills at the slipped open;
    liquidations at the close."""
    frame = validate_bars(bars, allow_gaps=True).with_columns(pl.col("ts").cast(pl.Datetime("us")))
    venue = result.config["venue"]
    specs = pl.DataFrame(
        [(s, v["tick_size"]) for s, v in result.config["specs"].items()],
        schema={"symbol": pl.String, "tick": pl.Float64},
        orient="row",
    )
    through = venue["penetration_ticks"] * pl.col("tick")
    slip = venue["market_slippage_bps"] / 1e4
    joined = result.fills.join(frame, on=["ts", "symbol"], how="left").join(specs, on="symbol")
    eps = 1e-9 * pl.col("price")
    reason = pl.col("reason")
    ok = (
        pl.when(pl.col("liquidity") == "maker")
        .then(
            pl.when(pl.col("side") > 0)
            .then(pl.col("low") <= pl.col("price") - through + eps)
            .otherwise(pl.col("high") >= pl.col("price") + through - eps)
        )
        .when(reason == "liquidation")
        .then((pl.col("price") - pl.col("close")).abs() <= eps)
        .otherwise((pl.col("price") - pl.col("open") * (1 + pl.col("side") * slip)).abs() <= eps)
    )
    bad = joined.filter(~ok | pl.col("open").is_null())
    return [
        Violation(
            "fill_price", r["ts"], r["symbol"],
            f"{r['liquidity']} {'buy' if r['side'] > 0 else 'sell'} at {r['price']!r} vs bar "
            f"O={r['open']} H={r['high']} L={r['low']} C={r['close']}",
        )
        for r in bad.head(20).iter_rows(named=True)
    ]


def check_halt(result) -> list[Violation]:
    """After a halt: no resting quotes, and no fills beyond the bar that executes the exit orders."""
    halted = result.equity.filter(pl.col("halted"))
    if halted.height == 0:
        return []
    first = halted["ts"][0]
    later = result.equity.filter(pl.col("ts") > first)["ts"]
    grace = later[0] if later.len() else first
    out = []
    quoting = result.symbols.filter((pl.col("ts") >= first) & (pl.col("orders") > 0))
    for r in quoting.head(5).iter_rows(named=True):
        out.append(Violation("halt", r["ts"], r["symbol"], "orders posted after the halt"))
    fills = result.fills.filter(
        (pl.col("ts") > grace) | ((pl.col("ts") > first) & (pl.col("liquidity") == "maker"))
    )
    for r in fills.head(5).iter_rows(named=True):
        out.append(Violation("halt", r["ts"], r["symbol"], f"a {r['reason']} fill after the halt"))
    return out


def check_invariants(result, bars: pl.DataFrame | None = None) -> list[Violation]:
    """Every invariant the engine promises; `bars` (the input frame) enables the fill-price check."""
    out = check_equity_identity(result) + check_fees(result) + check_positions(result) + check_halt(result)
    if bars is not None:
        out += check_fill_prices(result, bars)
    return out


def assert_invariants(result, bars: pl.DataFrame | None = None) -> None:
    """Raise AssertionError listing every violated invariant (bar, symbol, amounts)."""
    violations = check_invariants(result, bars)
    if violations:
        lines = "\n  ".join(str(v) for v in violations[:20])
        raise AssertionError(f"{len(violations)} invariant violation(s):\n  {lines}")
