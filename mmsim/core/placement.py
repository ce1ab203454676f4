"""Placement: the venue's rules that turn a strategy's quotes into post-only limit orders.

Prices go to the tick grid (bids down, asks up: never more aggressive than asked), quantities
down to whole lots. A bid at or above the bar's close, or an ask at or below it, would trade at
once against the last price: post-only rejects it (unless `post_only=False`, a model's setting
where such a quote rests and the matching stage decides). A quantity below one lot is rejected too.
"""

from __future__ import annotations

import math

from mmsim.core.orders import Order, Quotes, Rejection
from mmsim.core.venue import SymbolSpec, round_price, round_qty


def crosses(side: int, price, close):
    """True where a quote would trade at once against `close`: a bid >= close, an ask <= close.

    Works elementwise on numpy arrays of prices too (used by vectorised fast paths).
    """
    return price >= close if side > 0 else price <= close


def place_quotes(
    symbol: str, quotes: Quotes, close: float, spec: SymbolSpec, *, post_only: bool = True
) -> tuple[tuple[Order, ...], tuple[Rejection, ...]]:
    """Orders posted and rejections for one symbol's quotes at a bar close."""
    orders, rejected = [], []
    for side, levels in ((1, quotes.bids), (-1, quotes.asks)):
        for level, (price, qty) in enumerate(levels):
            if not (math.isfinite(price) and math.isfinite(qty)) or price <= 0 or qty <= 0:
                raise ValueError(
                    f"strategy for {symbol} proposed an invalid {'bid' if side > 0 else 'ask'} "
                    f"level {level}: price={price!r}, qty={qty!r}"
                )
            p = round_price(price, spec.tick_size, side)
            q = round_qty(qty, spec.lot_size)
            if p <= 0 or q <= 0:
                reason = "tick_size" if p <= 0 else "lot_size"
                rejected.append(Rejection(Order(symbol, side, price, qty, level), reason))
                continue
            order = Order(symbol, side, p, q, level)
            if post_only and crosses(side, p, close):
                rejected.append(Rejection(order, "post_only"))
            else:
                orders.append(order)
    return tuple(orders), tuple(rejected)
