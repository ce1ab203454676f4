"""Matching: orders resting since the previous bar meet this bar's OHLC (pure functions).

Within-bar assumptions (bars carry no order of events):
- a resting buy at p fills in full at p when low <= p - n*tick; a sell when high >= p + n*tick
  (n = venue.penetration_ticks; n = 0 fills on touch); both sides may fill in one bar;
- with venue.max_participation = x, the filled quantity per side is capped at x * volume,
  allotted to the innermost levels first; the unfilled rest is cancelled;
- market orders fill at open * (1 + side * slippage_bps / 1e4) with the taker fee.
A symbol with no bar this step (None) fills nothing; its orders expire with the bar.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from mmsim.core.orders import MAKER, TAKER, Fill, MarketOrder, Order
from mmsim.core.venue import SymbolSpec, Venue, round_qty


def fill_limit_orders(
    orders: tuple[Order, ...], bar, spec: SymbolSpec, venue: Venue
) -> tuple[Fill, ...]:
    """Fills of one symbol's resting limit orders against its bar (trade-through rule)."""
    through = venue.penetration_ticks * spec.tick_size
    cap = None if venue.max_participation is None else venue.max_participation * bar.volume
    fills = []
    for side in (1, -1):
        room = cap
        for order in sorted((o for o in orders if o.side == side), key=lambda o: o.level):
            traded = (
                (bar.low <= order.price - through)
                if side > 0
                else (bar.high >= order.price + through)
            )
            if not traded:
                continue
            qty = order.qty
            if room is not None:
                qty = round_qty(min(qty, room), spec.lot_size)
                room -= qty
                if qty <= 0:
                    break
            fills.append(
                Fill(
                    ts=bar.ts,
                    symbol=order.symbol,
                    side=side,
                    price=order.price,
                    qty=qty,
                    fee=order.price * qty * venue.maker_fee,
                    liquidity=MAKER,
                    reason="quote",
                    level=order.level,
                )
            )
    return tuple(fills)


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
            )
        )
    return tuple(fills)


def per_symbol_matching(
    fill_limits: Callable[[tuple[Order, ...], object, SymbolSpec, Venue], tuple[Fill, ...]],
) -> Callable[..., tuple[Fill, ...]]:
    """A matching stage from a per-symbol limit-fill rule: market orders at the open first,
    then `fill_limits(orders, bar, spec, venue)` on each symbol's resting orders.

    Market orders execute first because they are sent before the bar opens. Orders of a symbol
    with no bar (None) do not execute (the engine carries market orders to its next bar).
    """

    def match(
        resting: tuple[Order, ...],
        market_orders: tuple[MarketOrder, ...],
        bars: tuple,
        symbols: tuple[str, ...],
        specs: Mapping[str, SymbolSpec],
        venue: Venue,
    ) -> tuple[Fill, ...]:
        fills: list[Fill] = []
        for symbol, bar in zip(symbols, bars, strict=True):
            if bar is None:
                continue
            mine = tuple(o for o in market_orders if o.symbol == symbol)
            if mine:
                fills.extend(fill_market_orders(mine, bar, venue))
            mine = tuple(o for o in resting if o.symbol == symbol)
            if mine:
                fills.extend(fill_limits(mine, bar, specs[symbol], venue))
        return tuple(fills)

    return match


match_bar = per_symbol_matching(fill_limit_orders)
match_bar.__doc__ = (
    """The default matching stage: market orders at the open, then limit trade-through."""
)
