"""Orders, quotes and fills: the values that flow between the stages of a step.

Sign convention everywhere: side = +1 buys (bid), -1 sells (ask); quantities are positive base
units, positions are signed base units; prices are in the quote currency (USDT).
"""

from __future__ import annotations

import math

import attrs

BUY = 1
SELL = -1

MAKER = "maker"
TAKER = "taker"


def _side(instance, attribute, value):
    if value not in (BUY, SELL):
        raise ValueError(f"{attribute.name} must be +1 (buy) or -1 (sell), got {value!r}")


def _positive(instance, attribute, value):
    if not (value > 0 and math.isfinite(value)):
        raise ValueError(f"{attribute.name} must be a positive finite number, got {value!r}")


@attrs.frozen(slots=True)
class Quotes:
    """A strategy's proposal for one symbol at one bar close (immutable).

    bids / asks: (price, qty) pairs, innermost level first; price in USDT, qty in base units.
    reservation_price: the strategy's indifference price in USDT, or None when it has none.
    """

    bids: tuple[tuple[float, float], ...] = ()
    asks: tuple[tuple[float, float], ...] = ()
    reservation_price: float | None = None


NO_QUOTES = Quotes()


@attrs.frozen(slots=True)
class Order:
    """A post-only limit order resting for one bar; level 0 is the innermost (immutable).

    clamped_from: the price the strategy asked for when placement moved a crossing quote
    behind the close (Venue.post_only="clamp"), else None.
    """

    symbol: str
    side: int = attrs.field(validator=_side)
    price: float = attrs.field(validator=_positive)
    qty: float = attrs.field(validator=_positive)
    level: int = 0
    clamped_from: float | None = attrs.field(default=None, kw_only=True)

    @property
    def notional(self) -> float:
        return self.price * self.qty


@attrs.frozen(slots=True)
class MarketOrder:
    """A market order executed at the next bar's open with the taker fee (immutable).

    placed_ts: the open time (µs) of the bar at whose close it was sent; the engine stamps it.
    If its symbol has no next bar, it waits for the symbol's next bar, however late.
    """

    symbol: str
    side: int = attrs.field(validator=_side)
    qty: float = attrs.field(validator=_positive)
    reason: str = "market"
    placed_ts: int | None = None


@attrs.frozen(slots=True)
class Rejection:
    """An order that was proposed but not posted, and why (immutable)."""

    order: Order
    reason: str


@attrs.frozen(slots=True)
class Fill:
    """An execution (immutable). fee in USDT, positive = paid, negative = rebate received.

    ts: the open time (µs since epoch) of the bar in which the fill happened.
    reason: "quote" for maker fills, else what sent the market order (e.g. "emergency_exit").
    placed_ts: for a market order's fill, the open time of the bar at whose close the order was
    sent (ts - placed_ts is one interval unless its symbol's bars were missing); None for a
    maker fill (its order was placed at the close one interval before ts, always) and for a
    liquidation (at this bar's close, no order).
    """

    ts: int
    symbol: str
    side: int = attrs.field(validator=_side)
    price: float = attrs.field(validator=_positive)
    qty: float = attrs.field(validator=_positive)
    fee: float
    liquidity: str
    reason: str = "quote"
    level: int = -1
    placed_ts: int | None = None

    @property
    def signed_qty(self) -> float:
        return self.side * self.qty

    @property
    def notional(self) -> float:
        return self.price * self.qty
