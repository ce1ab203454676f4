"""Trade-level fills: resting orders meet the prints of the trade tape during their bar.

A bid at p rests during one bar (as in `match_bar`) and fills from the sell-aggressor prints of
that bar, in time order: a print below p (on the tick grid) is available in full, a print at p
only for its share (1 − queue_ahead), the rest assumed queued ahead of the order. Asks mirror it
with buy prints above / at p. One print fills the side's orders best price first, each up to its
remaining size, so the filled quantity never exceeds what the tape traded; what is left
unfilled at the bar's end is cancelled (orders rest one bar). Fills are at the limit price with
the maker fee; partial fills are rounded down to the lot. The trade-through settings
(penetration_ticks, max_participation) do not apply: the tape is the fill rule and its cap.
Market orders fill at the bar's open as in `match_bar`.
Prices are compared on the tick grid as in `match_bar`: a print within TICK_TOLERANCE (1e-6) of
a tick from a limit is at that limit.
Units: prices in the quote currency, qty in base units; bar ts and the tape's ts in µs (UTC).
"""

from __future__ import annotations

import datetime as dt

import attrs
import polars as pl

from mmsim.core.matching import PerSymbolMatching, maker_fill
from mmsim.core.orders import Fill, Order
from mmsim.core.params import at_least, between, param
from mmsim.core.venue import TICK_TOLERANCE, SymbolSpec, Venue, round_qty, ticks_through
from mmsim.data.timestamps import interval_us as parse_interval


@attrs.frozen(slots=True)
class TapeSlices:
    """The tape cut into bars before the fold (immutable).

    interval_us: the bar length; origin_us: a bar open on the grid (µs since the epoch);
    slices: (symbol, bar open ts in µs) -> (sell prices, sell sizes, buy prices, buy sizes),
    each a tuple of floats in tape order (side = the aggressor's).
    """

    interval_us: int
    origin_us: int
    slices: dict = attrs.field(eq=False, repr=False)

    def bar(self, symbol: str, ts: int) -> tuple:
        """The prints of the bar of `symbol` opening at `ts` (µs); refuses a bar off the grid."""
        if (ts - self.origin_us) % self.interval_us:
            raise ValueError(
                f"bar of {symbol!r} at ts {ts} (µs) is not on the tape's bar grid (every "
                f"{self.interval_us} µs from {self.origin_us}); pass the bars' interval and "
                "origin=<the first bar's open> to trade_matching"
            )
        return self.slices.get((symbol, ts), _EMPTY)


_EMPTY = ((), (), (), ())


def _as_us(value) -> int:
    if isinstance(value, int):
        return value
    if isinstance(value, dt.datetime):
        stamp = value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)
        return round(stamp.timestamp() * 1e6)
    return _as_us(dt.datetime.fromisoformat(str(value)))


def check_tape(trades: pl.DataFrame) -> None:
    """Refuse a tape the stage would misread, naming the first bad row: prints out of time order
    within a symbol (the frame's order is the order prints fill in), a side other than ±1, a
    price or size that is not a positive finite number."""
    missing = [c for c in ("ts", "symbol", "price", "qty", "side") if c not in trades.columns]
    if missing:
        raise ValueError(f"trades frame is missing column(s) {missing}; it has {trades.columns}")
    ts = pl.col("ts")
    ts_us = ts.dt.epoch("us") if isinstance(trades.schema["ts"], pl.Datetime) else ts
    positive = "not a positive finite number"
    checks = (
        (ts_us.diff().over("symbol") < 0, "ts", "earlier than the previous print"),
        (~pl.col("side").is_in([1, -1]) | pl.col("side").is_null(), "side", "not +1 or -1"),
        (~(pl.col("price").is_finite() & (pl.col("price") > 0)).fill_null(True), "price", positive),
        (~(pl.col("qty").is_finite() & (pl.col("qty") > 0)).fill_null(True), "qty", positive),
    )
    rows = trades.with_row_index("__row")
    for condition, column, problem in checks:
        bad = rows.filter(condition)
        if bad.height:
            row = bad.row(0, named=True)
            raise ValueError(
                f"trades frame, symbol {row['symbol']!r} row {row['__row']}: {column} "
                f"{row[column]!r} is {problem}"
            )


def slice_tape(trades: pl.DataFrame, interval: str | int, origin=0) -> TapeSlices:
    """Cut a trades frame (ts, symbol, price, qty, side) into per-bar, per-side price/size lists.

    Bars open every `interval` from `origin` (µs since the epoch, a datetime or ISO text; the
    default, the epoch, puts bars on the UTC minute/hour/day grid). The tape is checked first
    (`check_tape`).
    """
    check_tape(trades)
    step = parse_interval(interval)
    origin_us = _as_us(origin) % step
    ts = pl.col("ts")
    ts_us = ts.dt.epoch("us") if isinstance(trades.schema["ts"], pl.Datetime) else ts
    grouped = (
        trades.select(
            pl.col("symbol").cast(pl.String),
            ((ts_us - origin_us) // step * step + origin_us).alias("bar"),
            pl.col("side").cast(pl.Int8),
            pl.col("price").cast(pl.Float64),
            pl.col("qty").cast(pl.Float64),
        )
        .group_by("symbol", "bar", "side", maintain_order=True)
        .agg("price", "qty")
    )
    slices: dict = {}
    for symbol, bar, side, prices, qtys in grouped.iter_rows():
        entry = slices.setdefault((symbol, bar), [(), (), (), ()])
        k = 0 if side < 0 else 2
        entry[k], entry[k + 1] = tuple(prices), tuple(qtys)
    return TapeSlices(step, origin_us, {key: tuple(val) for key, val in slices.items()})


@attrs.frozen(slots=True)
class TradeMatchingParams:
    """Trade-level fill settings (immutable). queue_ahead: share of at-price prints that goes to
    orders queued ahead (0: none, 1: only prints through the price fill)."""

    queue_ahead: float = param(
        0.5,
        unit="share of at-price prints",
        help="what goes to orders queued ahead (0: none, 1: only prints through the price fill)",
        checks=between(0.0, 1.0, closed="both"),
    )
    interval_us: int = param(60_000_000, unit="µs", help="the bars' length", checks=at_least(1))


def trade_limit_fills(
    orders: tuple[Order, ...],
    bar,
    spec: SymbolSpec,
    venue: Venue,
    tape: TapeSlices,
    queue_ahead: float,
) -> tuple[Fill, ...]:
    """Fills of one symbol's resting limit orders from the tape's prints in its bar."""
    sell_p, sell_q, buy_p, buy_q = tape.bar(bar.symbol, bar.ts)
    tick = spec.tick_size
    at_price = 1.0 - queue_ahead
    fills = []
    for side, prices, sizes in ((1, sell_p, sell_q), (-1, buy_p, buy_q)):
        if not prices:
            continue
        # best price first: a print reaches the best bid before the deeper ones
        mine = sorted((o for o in orders if o.side == side), key=lambda o: -side * o.price)
        if not mine:
            continue
        left = [o.qty for o in mine]
        for price, size in zip(prices, sizes):
            budget = size
            for k, order in enumerate(mine):
                # > 0: printed through the limit; within TICK_TOLERANCE of 0: at it
                through = ticks_through(side, order.price, price, price, tick)
                if through < -TICK_TOLERANCE:
                    break  # this print did not reach the order, nor any deeper one
                if left[k] <= 0.0:
                    continue
                avail = budget if through > TICK_TOLERANCE else budget * at_price
                take = min(left[k], avail)
                left[k] -= take
                budget -= take
                if budget <= 0.0:
                    break
        for order, rest in zip(mine, left):
            if rest >= order.qty:
                continue
            qty = order.qty if rest <= 0.0 else round_qty(order.qty - rest, spec.lot_size)
            if qty <= 0:
                continue
            fills.append(maker_fill(order, bar.ts, qty, venue))
    # the order of match_bar: bids then asks, innermost level first
    return tuple(sorted(fills, key=lambda f: (-f.side, f.level)))


def trade_matching(
    trades: pl.DataFrame, *, interval: str | int, queue_ahead: float = 0.5, origin=0
):
    """A matching stage for `backtest(..., matching=...)` that fills resting orders from a tape.

    trades: a trades frame (`mmsim.read_trades`); interval: the bars' interval ('1m'), which
    cuts the tape into bars; queue_ahead: the share of prints at an order's price assumed to
    fill orders queued ahead of it (0 to 1; see the module docstring); origin: any bar's open
    when the bars are not on the UTC grid of their interval (a bar off the grid is an error).
    Returns a `PerSymbolMatching` called as
    `match(resting, market_orders, bars, symbols, specs, venue) -> fills`, the signature of
    `match_bar`; `match.params` holds the settings and `match.fill_limits.tape` the sliced tape.
    """
    tape = slice_tape(trades, interval, origin)
    params = TradeMatchingParams(float(queue_ahead), tape.interval_us)
    return PerSymbolMatching(TapeFills(tape, params), params, "trade_matching")


@attrs.frozen(slots=True, eq=False)
class TapeFills:
    """The per-symbol limit-fill rule of `trade_matching` (immutable):
    `fills(orders, bar, spec, venue)` is `trade_limit_fills` on this tape."""

    tape: TapeSlices = attrs.field(eq=False, repr=False)
    params: TradeMatchingParams

    def __call__(self, orders, bar, spec: SymbolSpec, venue: Venue) -> tuple[Fill, ...]:
        return trade_limit_fills(orders, bar, spec, venue, self.tape, self.params.queue_ahead)


__all__ = [
    "TapeFills",
    "TapeSlices",
    "TradeMatchingParams",
    "check_tape",
    "slice_tape",
    "trade_limit_fills",
    "trade_matching",
]
