"""Matching: orders resting since the previous bar meet this bar's OHLC (pure functions).

Within-bar assumptions (bars carry no order of events):
- a resting buy at p fills in full at p when low <= p - n*tick; a sell when high >= p + n*tick
  (n = venue.penetration_ticks; n = 0 fills on touch); both sides may fill in one bar. Prices
  are compared on the tick grid, in ticks: a buy fills when (p - low) / tick >= n - 1e-6, a
  sell when (high - p) / tick >= n - 1e-6 (`mmsim.core.venue.at_or_through`), so float noise
  (2146.45 - 0.01 = 2146.4399999999996) never decides a fill;
- with venue.max_participation = x, the filled quantity per side is capped at x * volume, in
  whole lots (`whole_lots(x * volume, lot)`, rounded down), allotted to the orders that traded
  in level order (level 0, the innermost, first): each takes min(its lots, the lots left); the
  unfilled rest is cancelled;
- market orders fill at open * (1 + side * slippage_bps / 1e4) with the taker fee.
A symbol with no bar this step (None) fills nothing; its orders expire with the bar (its market
orders wait for its next bar). The engine hands matching only the orders placed at the close one
interval before the step: after a hole in time the resting orders have expired.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import attrs

from mmsim.core.frozen import unchecked
from mmsim.core.orders import MAKER, TAKER, Fill, MarketOrder, Order
from mmsim.core.venue import TICK_TOLERANCE, SymbolSpec, Venue, round_qty, whole_lots

_fill = unchecked(Fill)


def maker_fill(order: Order, ts: int, qty: float, venue: Venue) -> Fill:
    """A resting order filled for `qty` at its own price, paying (or earning) the maker fee."""
    if not (qty > 0 and qty < math.inf):
        raise ValueError(f"qty must be a positive finite number, got {qty!r}")
    # the order's side and price are valid, and so is qty: the fill needs no second check
    return _fill(
        ts,
        order.symbol,
        order.side,
        order.price,
        qty,
        order.price * qty * venue.maker_fee,
        MAKER,
        "quote",
        order.level,
        None,
    )


def fill_limit_orders(
    orders: tuple[Order, ...], bar, spec: SymbolSpec, venue: Venue
) -> tuple[Fill, ...]:
    """Fills of one symbol's resting limit orders against its bar (trade-through rule)."""
    n, tick, lot = venue.penetration_ticks, spec.tick_size, spec.lot_size
    threshold = n - TICK_TOLERANCE  # `at_or_through`, written out: this runs per order per bar
    low, high = bar.low, bar.high
    cap = None
    if venue.max_participation is not None:
        cap = whole_lots(venue.max_participation * bar.volume, lot)
    fills = []
    for side in (1, -1):
        room = cap  # lots this side may still fill
        mine = [o for o in orders if o.side == side]
        if len(mine) > 1:
            mine.sort(key=_level)
        for order in mine:
            through = (order.price - low) / tick if side > 0 else (high - order.price) / tick
            if not through >= threshold:
                continue
            qty = order.qty
            if room is not None:
                own = round(order.qty / lot)  # orders are placed on the lot grid
                take = min(own, room)
                if take <= 0:
                    break
                room -= take
                if take < own:
                    qty = round_qty(take * lot, lot)
            fills.append(maker_fill(order, bar.ts, qty, venue))
    return tuple(fills)


def _level(order: Order) -> int:
    return order.level


def fill_market_orders(orders: tuple[MarketOrder, ...], bar, venue: Venue) -> tuple[Fill, ...]:
    """Fills of one symbol's market orders at its bar's open, slipped against the trader."""
    fills = []
    for order in orders:
        price = bar.open * (1.0 + order.side * venue.market_slippage_bps / 1e4)
        fills.append(
            Fill(
                ts=bar.ts,
                symbol=order.symbol,
                side=order.side,
                price=price,
                qty=order.qty,
                fee=price * order.qty * venue.taker_fee,
                liquidity=TAKER,
                reason=order.reason,
                placed_ts=order.placed_ts,
            )
        )
    return tuple(fills)


LimitFills = Callable[[tuple[Order, ...], object, SymbolSpec, Venue], tuple[Fill, ...]]


@attrs.frozen(slots=True)
class PerSymbolMatching:
    """A matching stage from a per-symbol limit-fill rule (immutable): market orders at the
    open first, then `fill_limits(orders, bar, spec, venue)` on each symbol's resting orders.

    Called as every matching stage is (`mmsim.core.engine.Matching`):
    `match(resting, market_orders, bars, symbols, specs, venue) -> fills`. Market orders execute
    first because they are sent before the bar opens. Orders of a symbol with no bar (None) do
    not execute (the engine carries market orders to its next bar). params: the settings of a
    built-in fill model (None for a user's own rule); name: what it is called in messages.
    """

    fill_limits: LimitFills
    params: Any = None
    name: str = "per_symbol_matching"

    def __call__(
        self,
        resting: tuple[Order, ...],
        market_orders: tuple[MarketOrder, ...],
        bars: tuple,
        symbols: tuple[str, ...],
        specs: Mapping[str, SymbolSpec],
        venue: Venue,
    ) -> tuple[Fill, ...]:
        fills: list[Fill] = []
        alone = len(symbols) == 1  # every order is this symbol's
        for symbol, bar in zip(symbols, bars, strict=True):
            if bar is None:
                continue
            if market_orders:
                mine = (
                    market_orders
                    if alone
                    else tuple(o for o in market_orders if o.symbol == symbol)
                )
                if mine:
                    fills.extend(fill_market_orders(mine, bar, venue))
            if resting:
                mine = resting if alone else tuple(o for o in resting if o.symbol == symbol)
                if mine:
                    fills.extend(self.fill_limits(mine, bar, specs[symbol], venue))
        return tuple(fills)


def per_symbol_matching(fill_limits: LimitFills, *, params: Any = None) -> PerSymbolMatching:
    """A matching stage from a per-symbol limit-fill rule (see `PerSymbolMatching`)."""
    return PerSymbolMatching(fill_limits, params)


# The default matching stage: market orders at the open, then limit trade-through.
match_bar = PerSymbolMatching(fill_limit_orders, name="match_bar")


def matching_name(matching) -> str:
    """What a run's config calls its matching stage: its `name` ("match_bar",
    "intensity_matching", "trade_matching", ...), else its function or class name."""
    name = getattr(matching, "name", None) or getattr(matching, "__name__", None)
    return str(name or type(matching).__name__)
