"""The engine's promises, checked on a finished run (Polars over its frames, no fold), and the
leverage caps at placement, checked step by step (`check_leverage_caps`).

Each check returns Violations naming the bar (ts), the symbol and the amounts that disagree;
`check_invariants(result, bars)` runs them all, `assert_invariants` fails with a readable list.
"""

from __future__ import annotations

import datetime as dt
import weakref
from collections.abc import Mapping

import attrs
import polars as pl

from mmsim.core.bars import validate_bars
from mmsim.core.risk import RiskRule, leverage_caps, side_notionals, worst_case_notional
from mmsim.core.venue import at_or_through
from mmsim.strategies.base import Strategy

MAX_PER_CHECK = 20
EPOCH = dt.datetime(1970, 1, 1)


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


def format_violations(violations: list[Violation], title: str, limit: int = 20) -> str:
    """'N <title>(s):' and one line per violation (the first `limit`)."""
    lines = "\n  ".join(str(v) for v in violations[:limit])
    more = f"\n  ... and {len(violations) - limit} more" if len(violations) > limit else ""
    return f"{len(violations)} {title}(s):\n  {lines}{more}"


def _rows(frame: pl.DataFrame, invariant: str, detail) -> list[Violation]:
    return [
        Violation(invariant, r["ts"], r.get("symbol"), detail(r))
        for r in frame.head(MAX_PER_CHECK).iter_rows(named=True)
    ]


def _signed_fills(result) -> pl.DataFrame:
    return result.fills.with_columns((pl.col("side").cast(pl.Float64) * pl.col("qty")).alias("sq"))


_LAST_BARS: list = [None, None]  # (weakref to the input frame, its normalized copy)


def _bars(bars: pl.DataFrame) -> pl.DataFrame:
    """The input bars validated and reduced to the base columns (the last one is remembered:
    check_invariants hands the same frame to every check)."""
    ref, frame = _LAST_BARS
    if ref is not None and ref() is bars:
        return frame
    frame = validate_bars(bars, allow_gaps=True).with_columns(pl.col("ts").cast(pl.Datetime("us")))
    if "funding_rate" not in frame.columns:
        frame = frame.with_columns(pl.lit(0.0).alias("funding_rate"))
    frame = frame.select(
        "ts",
        "symbol",
        "open",
        "high",
        "low",
        "close",
        "volume",
        pl.col("funding_rate").fill_null(0.0),
    )
    _LAST_BARS[:] = [weakref.ref(bars), frame]
    return frame


def _specs(result) -> pl.DataFrame:
    return pl.DataFrame(
        [(s, v["tick_size"], v["lot_size"]) for s, v in result.config["specs"].items()],
        schema={"symbol": pl.String, "tick": pl.Float64, "lot": pl.Float64},
        orient="row",
    )


def _off_grid(value: pl.Expr, step: pl.Expr) -> pl.Expr:
    units = value / step
    return (units - units.round(0)).abs() > 1e-6 * (1.0 + units.abs() * 1e-9)


# --- frame-only checks ----------------------------------------------------------------------


def check_equity_identity(result, rel_tol: float = 1e-9) -> list[Violation]:
    """equity_t - equity_{t-1} = sum_symbols [pos_{t-1}*(mark_t - mark_{t-1})
    + sum_fills signed_qty*(mark_t - fill_price)] - fees_t + funding_t;
    and at every close equity = wallet + sum_symbols position*(mark - entry)."""
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
        (
            pl.col("prev_pos") * (pl.col("mark") - pl.col("prev_mark").fill_null(pl.col("mark")))
        ).alias("carry_pnl"),
        (pl.col("position") * (pl.col("mark") - pl.col("entry_price").fill_null(0.0))).alias(
            "unreal"
        ),
    )
    per_bar = sym.group_by("ts", maintain_order=True).agg(
        (pl.col("carry_pnl") + pl.col("fill_pnl")).sum().alias("trading"),
        pl.col("unreal").sum().alias("unreal"),
    )
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
    )
    out = _rows(
        eq.filter((pl.col("d_equity") - pl.col("expected")).abs() > rel_tol * pl.col("scale")),
        "equity_identity",
        lambda r: f"equity changed by {r['d_equity']!r}, expected {r['expected']!r}",
    )
    out += _rows(
        eq.filter(
            (pl.col("equity") - pl.col("wallet") - pl.col("unreal")).abs()
            > rel_tol * pl.col("scale")
        ),
        "equity_identity",
        lambda r: f"equity {r['equity']!r} != wallet {r['wallet']!r} + unrealized {r['unreal']!r}",
    )
    return out


# bankrupt exposure: gross notional over equity <= 0 is +inf by definition (mmsim.core.account)
_INFINITE_WHEN_BANKRUPT = frozenset({"leverage", "margin_ratio"})


def check_finite(result) -> list[Violation]:
    """Every float of the equity, symbols and fills frames is a number (null marks what is
    absent); only leverage and margin ratio may be +inf (exposure over equity <= 0)."""
    out: list[Violation] = []
    for name in ("equity", "symbols", "fills"):
        frame = getattr(result, name)
        for column, dtype in frame.schema.items():
            if not dtype.is_float():
                continue
            value = pl.col(column)
            bad = value.is_nan() | value.is_infinite()
            if column in _INFINITE_WHEN_BANKRUPT:
                bad = value.is_nan() | (value == -float("inf"))
            out += _rows(
                frame.filter(bad),
                "finite",
                lambda r, n=name, c=column: f"{n}.{c} is {r[c]!r}",
            )
    return out


def check_fees(result, rel_tol: float = 1e-9) -> list[Violation]:
    """Each fill's fee = price * qty * (maker_fee or taker_fee); total fees = sum of fill fees."""
    venue = result.config["venue"]
    rate = (
        pl.when(pl.col("liquidity") == "maker")
        .then(venue["maker_fee"])
        .otherwise(venue["taker_fee"])
    )
    bad = result.fills.filter(
        (pl.col("fee") - pl.col("price") * pl.col("qty") * rate).abs()
        > rel_tol * (pl.col("price") * pl.col("qty") + 1.0)
    )
    out = _rows(bad, "fee", lambda r: f"fee {r['fee']!r} is not notional x {r['liquidity']} rate")
    total = result.fills["fee"].sum()
    booked = result.equity["fees"][-1] if result.equity.height else 0.0
    if abs(total - booked) > rel_tol * (abs(total) + 1.0) + 1e-9:
        out.append(
            Violation(
                "fee_total",
                result.equity["ts"][-1],
                None,
                f"fills' fees sum to {total!r}, the ledger's to {booked!r}",
            )
        )
    return out


def check_positions(result, abs_tol: float = 1e-9) -> list[Violation]:
    """position at each bar close = cumulative sum of signed fill quantities up to that bar.

    The tolerance scales with the quantity traded so far: a running float sum of fills of size
    Q carries noise of order Q * 1e-16 even when the position is back to flat (allowed: 1e-12 Q)."""
    cum = (
        _signed_fills(result)
        .group_by("ts", "symbol", maintain_order=True)
        .agg(pl.col("sq").sum(), pl.col("qty").sum().alias("gross"))
    )
    sym = (
        result.symbols.join(cum, on=["ts", "symbol"], how="left")
        .sort("symbol", "ts")
        .with_columns(
            pl.col("sq").fill_null(0.0).cum_sum().over("symbol").alias("from_fills"),
            pl.col("gross").fill_null(0.0).cum_sum().over("symbol").alias("traded"),
        )
        .filter(
            (pl.col("position") - pl.col("from_fills")).abs()
            > abs_tol * (1 + pl.col("from_fills").abs()) + 1e-12 * pl.col("traded")
        )
    )
    return _rows(
        sym, "position", lambda r: f"position {r['position']!r} != sum of fills {r['from_fills']!r}"
    )


def check_liquidation(result) -> list[Violation]:
    """The margin ratio is below 1 at every close with exposure (at 1 the account is liquidated),
    and a liquidation leaves every position flat and halts the run from that bar on."""
    out = _rows(
        result.equity.filter((pl.col("margin_ratio") >= 1.0) & (pl.col("notional") > 0)),
        "liquidation",
        lambda r: f"margin ratio {r['margin_ratio']:.4g} >= 1 at the close but positions are open",
    )
    liquidated = result.fills.filter(pl.col("reason") == "liquidation")["ts"].unique().sort()
    if liquidated.len():
        first = liquidated[0]
        out += _rows(
            result.symbols.join(pl.DataFrame({"ts": liquidated}), on="ts", how="semi").filter(
                pl.col("position") != 0
            ),
            "liquidation",
            lambda r: f"position {r['position']!r} left open by the liquidation",
        )
        out += _rows(
            result.equity.filter((pl.col("ts") >= first) & ~pl.col("halted")),
            "liquidation",
            lambda r: "trading resumed after a liquidation (not halted)",
        )
    return out


def check_halt(result, bars: pl.DataFrame | None = None) -> list[Violation]:
    """After a halt: no order is posted (at the halting close or later), no quote fills, and
    the only trades are the exit orders, at each symbol's next bar (a symbol with no bar keeps
    its exit order until it has one; without `bars`, its first fill after the halt). A
    liquidation of positions a halt left open is the venue's, so it may come at any time."""
    halted = result.equity.filter(pl.col("halted"))
    if halted.height == 0:
        return []
    first = halted["ts"][0]
    out = _rows(
        result.symbols.filter((pl.col("ts") >= first) & (pl.col("orders") > 0)),
        "halt",
        lambda r: f"{r['orders']} order(s) posted at or after the halt",
    )
    after = result.fills.filter((pl.col("ts") > first) & (pl.col("reason") != "liquidation"))
    out += _rows(
        after.filter(pl.col("liquidity") == "maker"),
        "halt",
        lambda r: f"a {r['reason']} fill after the halt",
    )
    if bars is not None:
        next_bar = (
            _bars(bars)
            .filter(pl.col("ts") > first)
            .group_by("symbol", maintain_order=True)
            .agg(pl.col("ts").min().alias("exit_ts"))
        )
    else:
        next_bar = after.group_by("symbol", maintain_order=True).agg(
            pl.col("ts").min().alias("exit_ts")
        )
    late = after.filter(pl.col("liquidity") != "maker").join(next_bar, on="symbol", how="left")
    out += _rows(
        late.filter(pl.col("exit_ts").is_null() | (pl.col("ts") != pl.col("exit_ts"))),
        "halt",
        lambda r: (
            f"a {r['reason']} fill after the halt, later than the symbol's next bar {r['exit_ts']}"
        ),
    )
    return out


# --- checks against the input bars ----------------------------------------------------------


def check_fill_prices(result, bars: pl.DataFrame) -> list[Violation]:
    """Maker buys at p need low <= p - n*tick, sells high >= p + n*tick (on the tick grid, as
    the engine compares them: `at_or_through`; in trade-through runs only, see
    OTHER_FILL_RULES); market fills at the slipped open; liquidations
    at the mark (the close, or the last close of a symbol with no bar then). (Other fills on a
    missing bar: `check_missing_bars`; orders that reached their threshold unfilled:
    `check_missed_fills`.)"""
    frame = _bars(bars)
    venue = result.config["venue"]
    n = venue["penetration_ticks"]
    slip = venue["market_slippage_bps"] / 1e4
    marks = result.symbols.select("ts", "symbol", "mark")
    joined = (
        result.fills.join(frame, on=["ts", "symbol"], how="left")
        .join(marks, on=["ts", "symbol"], how="left")
        .join(_specs(result), on="symbol")
        .filter(pl.col("open").is_not_null() | (pl.col("reason") == "liquidation"))
    )
    eps = 1e-9 * pl.col("price")
    maker_ok = (
        pl.when(pl.col("side") > 0)
        .then(_reached(1, pl.col("price"), n))
        .otherwise(_reached(-1, pl.col("price"), n))
        if _trade_through(result)
        else pl.lit(True)  # `check_maker_prices` still holds them to their order's price
    )
    ok = (
        pl.when(pl.col("liquidity") == "maker")
        .then(maker_ok)
        .when(pl.col("reason") == "liquidation")
        .then((pl.col("price") - pl.col("mark")).abs() <= eps)
        .otherwise((pl.col("price") - pl.col("open") * (1 + pl.col("side") * slip)).abs() <= eps)
    )
    out = _rows(
        joined.filter(~ok),
        "fill_price",
        lambda r: (
            f"{r['reason']} {r['liquidity']} {'buy' if r['side'] > 0 else 'sell'}"
            f" at {r['price']!r} vs bar "
            f"O={r['open']} H={r['high']} L={r['low']} C={r['close']} (mark {r['mark']})"
        ),
    )
    return out + check_maker_prices(result)


# Fill rules that fill by other evidence than the bar's range (a draw against the quote's
# intensity, the bar's prints up to their size): the trade-through rule and its converse do
# not bind their runs. A run saved without a "matching" entry ran the default rule.
OTHER_FILL_RULES = ("intensity_matching", "trade_matching")


def _trade_through(result) -> bool:
    """Whether the run's maker fills follow the trade-through rule (`match_bar` or a user's
    own matching, held to it)."""
    return result.config.get("matching", "match_bar") not in OTHER_FILL_RULES


def _reached(side: int, price: pl.Expr, n: int) -> pl.Expr:
    """The bar's low (buy) or high (sell) reached n ticks through `price` (the engine's rule)."""
    return at_or_through(side, price, pl.col("low"), pl.col("high"), n, pl.col("tick"))


def check_missed_fills(result, bars: pl.DataFrame, rel_tol: float = 1e-9) -> list[Violation]:
    """The converse of the fill rule: the best bid (ask) posted at a close fills in the bar one
    interval later whenever that bar's low (high) reached n ticks through it, for its whole
    quantity or, with max_participation x, for at least min(its quantity, x * volume in whole
    lots) on that side (the cap is allotted innermost level first). Trade-through runs only
    (see OTHER_FILL_RULES); inner levels are not in the frames, so only the best quote is
    checked here (every level: `check_every_order_fills`, step by step)."""
    if not _trade_through(result):
        return []
    venue = result.config["venue"]
    n, cap = venue["penetration_ticks"], venue.get("max_participation")
    filled = (
        result.fills.filter(pl.col("liquidity") == "maker")
        .group_by("ts", "symbol", "side", maintain_order=True)
        .agg(pl.col("qty").sum().alias("filled"))
    )
    rested = _posted_before(result).join(_bars(bars), on=["ts", "symbol"], how="inner")
    rested = rested.join(_specs(result), on="symbol")
    out = []
    for side, name in ((1, "bid"), (-1, "ask")):
        owed = pl.col(f"{name}_qty")
        if cap is not None:
            lots = (cap * pl.col("volume") / pl.col("lot")).pipe(_whole_lots)
            owed = pl.min_horizontal(owed, lots * pl.col("lot"))
        due = (
            rested.filter(pl.col(name).is_not_null() & _reached(side, pl.col(name), n))
            .with_columns(owed.alias("owed"))
            .join(filled.filter(pl.col("side") == side), on=["ts", "symbol"], how="left")
            .with_columns(pl.col("filled").fill_null(0.0))
            .filter(pl.col("filled") < pl.col("owed") * (1 - rel_tol) - 1e-12)
        )
        out += _rows(
            due,
            "missed_fill",
            lambda r, name=name: (
                f"the {name} {r[name]!r} x {r[name + '_qty']!r} rested during a bar with "
                f"low {r['low']!r} / high {r['high']!r} ({n} tick(s) of {r['tick']} through it) "
                f"but only {r['filled']!r} filled (owed {r['owed']!r})"
            ),
        )
    return out


def _whole_lots(lots: pl.Expr) -> pl.Expr:
    """`mmsim.core.venue.whole_lots` on a number of lots (the same float-noise allowance)."""
    return (lots + 1e-9 + 1e-12 * lots.abs()).floor()


def _posted_before(result) -> pl.DataFrame:
    """The best quotes posted at each close, keyed by the bar they rest during: ts + interval."""
    interval = pl.duration(microseconds=result.config["interval_us"])
    return result.symbols.select(
        (pl.col("ts") + interval).alias("ts"), "symbol", "bid", "ask", "bid_qty", "ask_qty"
    )


def check_fill_times(result) -> list[Violation]:
    """A maker fill is in the bar that opens one interval after the close its order was placed
    at: its symbol posted an order on the fill's side at the close of ts - interval. (Market
    orders are excepted: they wait for their symbol's next bar, however late.)"""
    makers = result.fills.filter(pl.col("liquidity") == "maker").join(
        _posted_before(result), on=["ts", "symbol"], how="left"
    )
    best = pl.when(pl.col("side") > 0).then(pl.col("bid")).otherwise(pl.col("ask"))
    interval = result.config["interval_us"]
    return _rows(
        makers.filter(best.is_null()),
        "fill_time",
        lambda r: (
            f"maker {'buy' if r['side'] > 0 else 'sell'} at {r['price']!r}, but no "
            f"{'bid' if r['side'] > 0 else 'ask'} was posted at the close one interval "
            f"({interval / 1e6:g} s) before"
        ),
    )


def check_maker_prices(result, rel_tol: float = 1e-12) -> list[Violation]:
    """A maker fill is at the price of an order that rested during its bar: level 0 at the best
    quote posted at the close one interval before, deeper levels at or beyond it. (A fill with
    no such quote: `check_fill_times`.)"""
    makers = result.fills.filter(pl.col("liquidity") == "maker").join(
        _posted_before(result), on=["ts", "symbol"], how="inner"
    )
    best = pl.when(pl.col("side") > 0).then(pl.col("bid")).otherwise(pl.col("ask"))
    makers = makers.filter(best.is_not_null())
    eps = rel_tol * pl.col("price")
    beyond = (
        pl.when(pl.col("side") > 0)
        .then(pl.col("price") <= best + eps)
        .otherwise(pl.col("price") >= best - eps)
    )
    ok = pl.when(pl.col("level") == 0).then((pl.col("price") - best).abs() <= eps).otherwise(beyond)
    return _rows(
        makers.filter(~ok),
        "fill_price",
        lambda r: (
            f"maker {'buy' if r['side'] > 0 else 'sell'} (level {r['level']})"
            f" at {r['price']!r}, but the best "
            f"{'bid' if r['side'] > 0 else 'ask'} resting was"
            f" {r['bid'] if r['side'] > 0 else r['ask']!r}"
        ),
    )


def check_participation(result, bars: pl.DataFrame, rel_tol: float = 1e-9) -> list[Violation]:
    """With max_participation x, the maker quantity filled per bar, symbol and side <= x·volume."""
    cap = result.config["venue"].get("max_participation")
    if cap is None:
        return []
    per_side = (
        result.fills.filter(pl.col("liquidity") == "maker")
        .group_by("ts", "symbol", "side", maintain_order=True)
        .agg(pl.col("qty").sum())
        .join(_bars(bars), on=["ts", "symbol"], how="inner")
        .filter(pl.col("qty") > cap * pl.col("volume") * (1 + rel_tol) + 1e-12)
    )
    return _rows(
        per_side,
        "participation",
        lambda r: (
            f"filled {r['qty']!r} on one side of a bar of volume {r['volume']!r} (cap {cap:g})"
        ),
    )


def check_marks(result, bars: pl.DataFrame, rel_tol: float = 1e-12) -> list[Violation]:
    """The mark is the bar's close where the symbol has a bar, else its previous mark."""
    sym = (
        result.symbols.select("ts", "symbol", "mark")
        .join(_bars(bars).select("ts", "symbol", "close"), on=["ts", "symbol"], how="left")
        .sort("symbol", "ts")
        .with_columns(pl.col("mark").shift(1).over("symbol").alias("prev_mark"))
        .with_columns(pl.coalesce("close", "prev_mark").alias("expected"))
        .filter(
            pl.col("expected").is_not_null()
            & ((pl.col("mark") - pl.col("expected")).abs() > rel_tol * pl.col("expected").abs())
        )
    )
    return _rows(
        sym,
        "mark",
        lambda r: f"mark {r['mark']!r}, expected {r['expected']!r} (close {r['close']})",
    )


def check_missing_bars(result, bars: pl.DataFrame) -> list[Violation]:
    """A symbol with no bar at a timestamp neither posts orders nor fills there (but a
    liquidation, which closes every position of the account, closes it at its last mark)."""
    frame = _bars(bars).select("ts", "symbol")
    idle = result.symbols.join(frame, on=["ts", "symbol"], how="anti")
    out = _rows(
        idle.filter(
            (pl.col("orders") > 0) | pl.col("bid").is_not_null() | pl.col("ask").is_not_null()
        ),
        "missing_bar",
        lambda r: (
            f"{r['orders']} order(s) posted (bid {r['bid']}, ask {r['ask']})"
            " on a bar the symbol does not have"
        ),
    )
    out += _rows(
        result.fills.join(frame, on=["ts", "symbol"], how="anti").filter(
            pl.col("reason") != "liquidation"
        ),
        "missing_bar",
        lambda r: (
            f"a {r['liquidity']} fill of {r['qty']!r} at {r['price']!r}"
            " on a bar the symbol does not have"
        ),
    )
    return out


def check_placement(result, bars: pl.DataFrame) -> list[Violation]:
    """Posted quotes are on the tick grid (qty on the lot grid) and, post-only ("clamp" or
    "reject"), a bid rests below the close and an ask above it, on the tick grid (a
    millionth of a tick apart counts as equal); maker fills are on both grids too."""
    post_only = result.config["venue"].get("post_only", True) is not False
    sym = result.symbols.join(
        _bars(bars).select("ts", "symbol", "close"), on=["ts", "symbol"], how="inner"
    ).join(_specs(result), on="symbol")
    out = []
    # ticks by which the quote is ahead of the close (on the side that trades at once)
    ahead = {
        "bid": (pl.col("bid") - pl.col("close")) / pl.col("tick"),
        "ask": (pl.col("close") - pl.col("ask")) / pl.col("tick"),
    }
    tolerance = 1e-6 + 1e-15 * (pl.col("close") / pl.col("tick")).abs()
    for side, price, qty, crossed in (
        ("bid", pl.col("bid"), pl.col("bid_qty"), ahead["bid"] >= -tolerance),
        ("ask", pl.col("ask"), pl.col("ask_qty"), ahead["ask"] >= -tolerance),
    ):
        posted = sym.filter(price.is_not_null())
        if post_only:
            out += _rows(
                posted.filter(crossed),
                "post_only",
                lambda r, side=side: f"{side} {r[side]!r} rests through the close {r['close']!r}",
            )
        out += _rows(
            posted.filter(_off_grid(price, pl.col("tick")) | _off_grid(qty, pl.col("lot"))),
            "grid",
            lambda r, side=side: (
                f"{side} {r[side]!r} x {r[side + '_qty']!r} is off the grid"
                f" (tick {r['tick']}, lot {r['lot']})"
            ),
        )
    makers = result.fills.filter(pl.col("liquidity") == "maker").join(_specs(result), on="symbol")
    out += _rows(
        makers.filter(
            _off_grid(pl.col("price"), pl.col("tick")) | _off_grid(pl.col("qty"), pl.col("lot"))
        ),
        "grid",
        lambda r: (
            f"maker fill {r['price']!r} x {r['qty']!r} off the grid"
            f" (tick {r['tick']}, lot {r['lot']})"
        ),
    )
    return out


def check_funding(result, bars: pl.DataFrame, rel_tol: float = 1e-9) -> list[Violation]:
    """Funding at a bar with rate f pays -position * mark * f (position after the bar's fills,
    before a liquidation at its close) into each symbol's running funding."""
    liquidations = (
        _signed_fills(result)
        .filter(pl.col("reason") == "liquidation")
        .group_by("ts", "symbol", maintain_order=True)
        .agg(pl.col("sq").sum().alias("liq"))
    )
    sym = (
        result.symbols.select("ts", "symbol", "position", "mark", "funding")
        .join(_bars(bars).select("ts", "symbol", "funding_rate"), on=["ts", "symbol"], how="left")
        .join(liquidations, on=["ts", "symbol"], how="left")
        .sort("symbol", "ts")
        .with_columns(
            pl.col("funding").diff().over("symbol").fill_null(pl.col("funding")).alias("paid"),
            (
                -(pl.col("position") - pl.col("liq").fill_null(0.0))
                * pl.col("mark")
                * pl.col("funding_rate").fill_null(0.0)
            ).alias("expected"),
        )
        .filter(
            (pl.col("paid") - pl.col("expected")).abs()
            > rel_tol * (pl.col("position").abs() * pl.col("mark") + pl.col("funding").abs() + 1.0)
        )
    )
    return _rows(
        sym,
        "funding",
        lambda r: f"funding {r['paid']!r}, expected {r['expected']!r} (rate {r['funding_rate']})",
    )


FRAME_CHECKS = (
    check_finite,
    check_equity_identity,
    check_fees,
    check_positions,
    check_liquidation,
    check_fill_times,
)
BAR_CHECKS = (
    check_fill_prices,
    check_missed_fills,
    check_participation,
    check_marks,
    check_missing_bars,
    check_placement,
    check_funding,
)


def check_invariants(result, bars: pl.DataFrame | None = None) -> list[Violation]:
    """Every invariant the engine promises that a Result shows: numbers that are numbers (no
    NaN, no infinity but a bankrupt account's leverage), the equity identity, fees,
    positions, liquidation, halts and fill times (a maker fill one interval after its order's
    close); with `bars` (the input frame) also fill prices under the fill rule and its converse
    (an order whose bar reached its threshold filled; both for trade-through runs only, not
    `result.config["matching"]` in OTHER_FILL_RULES), the participation cap, marks, missing
    bars, placement grids and post-only, and funding. Leverage caps at placement need the
    orders: see `check_leverage_caps`."""
    out = [v for check in FRAME_CHECKS for v in check(result)] + check_halt(result, bars)
    if bars is not None:
        out += [v for check in BAR_CHECKS for v in check(result, bars)]
    return out


def assert_invariants(result, bars: pl.DataFrame | None = None) -> None:
    """Raise AssertionError listing every violated invariant (bar, symbol, amounts)."""
    __tracebackhide__ = True  # pytest shows the caller's line, not the kit's
    violations = check_invariants(result, bars)
    if violations:
        raise AssertionError(format_violations(violations, "invariant violation"))


# --- leverage caps, step by step ------------------------------------------------------------


def check_leverage_caps(
    bars: pl.DataFrame,
    strategies: Strategy | Mapping[str, Strategy],
    *,
    max_leverage: float | None = None,
    max_symbol_leverage: float | None = None,
    risk: RiskRule | None = None,
    rel_tol: float = 1e-9,
    **run_kwargs,
) -> list[Violation]:
    """After the risk stage of every bar, if every order of a side filled at its price, no
    symbol's long or short would exceed max_symbol_leverage x equity (or the long or short
    already held, when prices moved it above the cap: orders never add to it, and a side that
    flips the position is held to the cap) and the sum of the symbols' worst cases would not
    exceed max_leverage x equity (or the gross exposure held). risk: the rule under test
    (default: `leverage_caps` with the same caps); run_kwargs: venue, initial_cash,
    allow_gaps, ... as `engine_run`.
    """
    from mmsim.testing.trace import engine_run

    if risk is None:
        risk = leverage_caps(max_leverage=max_leverage, max_symbol_leverage=max_symbol_leverage)
    run = engine_run(bars, strategies, risk=risk, **run_kwargs)
    out = []
    for bars_t, state in zip(run.steps, run.states):
        account = state.account
        equity = max(account.equity, 0.0)
        total_worst = total_held = 0.0
        ts = EPOCH + dt.timedelta(microseconds=bars_t.ts)
        for i, symbol in enumerate(account.symbols):
            orders = tuple(o for o in state.resting if o.symbol == symbol)
            held = account.notional(i)
            worst = worst_case_notional(orders, account.positions[i].qty, account.marks[i])
            total_worst += worst
            total_held += held
            if max_symbol_leverage is not None:
                # per side: the long after every buy may exceed the cap only by the long held
                # (orders never add to it), the short after every sell only by the short held;
                # a side that flips the position is held to the cap itself
                cap = max_symbol_leverage * equity
                n = account.positions[i].qty * account.marks[i]
                buys, sells = side_notionals(orders, account.positions[i].qty, account.marks[i])
                for way, reach, limit in (
                    ("long", buys, max(cap, n)),
                    ("short", -sells, max(cap, -n)),
                ):
                    if reach > limit * (1 + rel_tol) + 1e-9:
                        out.append(
                            Violation(
                                "symbol_leverage",
                                ts,
                                symbol,
                                f"orders could take the position to a {way} of {reach:.6g} USDT "
                                f"> {max_symbol_leverage:g} x equity {equity:.6g} "
                                f"(held {n:+.6g})",
                            )
                        )
        if max_leverage is not None:
            cap = max(max_leverage * equity, total_held)
            if total_worst > cap * (1 + rel_tol) + 1e-9:
                out.append(
                    Violation(
                        "leverage",
                        ts,
                        None,
                        f"orders could take gross notional to {total_worst:.6g}"
                        f" > {max_leverage:g} x equity "
                        f"{equity:.6g} (held {total_held:.6g})",
                    )
                )
        if len(out) >= MAX_PER_CHECK:
            break
    return out


def check_every_order_fills(
    bars: pl.DataFrame,
    strategies: Strategy | Mapping[str, Strategy],
    *,
    rel_tol: float = 1e-9,
    **run_kwargs,
) -> list[Violation]:
    """The converse of the fill rule for every resting order, inner levels included (a Result's
    frames keep only each side's best quote, which `check_missed_fills` reads), step by step:
    an order placed at a close, whose bar one interval later reached n ticks through it, fills
    in that bar for its whole quantity; with max_participation x, the side's maker fills there
    come to at least min(the reached orders' quantity, x * volume in whole lots). Runs whose
    matching follows other evidence (OTHER_FILL_RULES) are not held to it. run_kwargs: venue,
    risk, matching, initial_cash, allow_gaps, ... as `engine_run`.
    """
    from mmsim.core.matching import matching_name
    from mmsim.core.venue import whole_lots
    from mmsim.testing.trace import engine_run

    if "matching" in run_kwargs and matching_name(run_kwargs["matching"]) in OTHER_FILL_RULES:
        return []
    run = engine_run(bars, strategies, **run_kwargs)
    setup = run.setup
    n, cap = setup.venue.penetration_ticks, setup.venue.max_participation
    out: list[Violation] = []
    for k in range(len(run.steps) - 1):
        resting, step = run.states[k].resting, run.steps[k + 1]
        if not resting or step.ts - run.steps[k].ts != setup.interval_us:
            continue  # nothing rests, or the next bar is not in time: the orders expired
        bar_of = {b.symbol: b for b in step.bars if b is not None}
        filled: dict[tuple, float] = {}
        for f in run.fills[k + 1]:
            if f.liquidity == "maker":
                for key in ((f.symbol, f.side, f.level), (f.symbol, f.side)):
                    filled[key] = filled.get(key, 0.0) + f.qty
        owed: dict[tuple, float] = {}
        for order in resting:
            bar = bar_of.get(order.symbol)
            spec = setup.specs[order.symbol]
            if bar is None or not at_or_through(
                order.side, order.price, bar.low, bar.high, n, spec.tick_size
            ):
                continue
            if cap is None:
                got = filled.get((order.symbol, order.side, order.level), 0.0)
                if got < order.qty * (1 - rel_tol) - 1e-12:
                    out.append(_unfilled(step.ts, order, bar, got, order.qty))
            else:
                key = (order.symbol, order.side)
                owed[key] = owed.get(key, 0.0) + order.qty
        for (symbol, side), qty in owed.items():
            bar, lot = bar_of[symbol], setup.specs[symbol].lot_size
            due = min(qty, whole_lots(cap * bar.volume, lot) * lot)
            got = filled.get((symbol, side), 0.0)
            if got < due * (1 - rel_tol) - 1e-12:
                name = "bids" if side > 0 else "asks"
                out.append(
                    Violation(
                        "missed_fill",
                        EPOCH + dt.timedelta(microseconds=step.ts),
                        symbol,
                        f"{name} of {qty!r} reached their threshold in a bar of volume "
                        f"{bar.volume!r} (cap {cap:g}) but only {got!r} filled (owed {due!r})",
                    )
                )
        if len(out) >= MAX_PER_CHECK:
            break
    return out


def _unfilled(ts: int, order, bar, got: float, owed: float) -> Violation:
    side = "bid" if order.side > 0 else "ask"
    return Violation(
        "missed_fill",
        EPOCH + dt.timedelta(microseconds=ts),
        order.symbol,
        f"the level-{order.level} {side} {order.price!r} x {order.qty!r} rested during a bar "
        f"with low {bar.low!r} / high {bar.high!r} but only {got!r} filled (owed {owed!r})",
    )
