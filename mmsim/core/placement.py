"""Placement: the venue's rules that turn a strategy's quotes into post-only limit orders.

Prices go to the tick grid (bids down, asks up: never more aggressive than asked), quantities
down to whole lots; a quantity below one lot is rejected. A bid at or above the bar's close, or
an ask at or below it (compared on the tick grid), would trade at once against the last price.
The venue's `post_only` mode decides its fate: "clamp" moves it to the best price behind the
close, one tick away (a bid to close - tick, an ask to close + tick; a close between two grid
prices: the grid price just below it for a bid, just above for an ask) and keeps its size;
"reject" refuses it; False lets it rest (a model's setting: the matching stage decides).
"""

from __future__ import annotations

import math
import sys

from mmsim.core.frozen import unchecked
from mmsim.core.orders import Order, Quotes, Rejection
from mmsim.core.venue import (
    TICK_TOLERANCE,
    SymbolSpec,
    _decimal_step,
    _post_only_mode,
    on_decimal_grid,
    on_grid,
)

_EPS = sys.float_info.epsilon


def _grid_tolerance(ticks):
    """A millionth of a tick (TICK_TOLERANCE), plus the float noise of a price over its tick."""
    return TICK_TOLERANCE + 4 * _EPS * abs(ticks)


def crosses(side: int, price, close, tick_size: float | None = None):
    """True where a quote would trade at once against `close`: a bid >= close, an ask <= close.

    With tick_size the comparison is on the tick grid (prices a millionth of a tick apart are
    equal); without it, in floats. Works elementwise on numpy arrays too (vectorised paths).
    """
    if tick_size is None:
        return price >= close if side > 0 else price <= close
    ahead = side * (price - close) / tick_size  # ticks on the aggressive side of the close
    return ahead >= -_grid_tolerance(close / tick_size)


def behind_close(side: int, close: float, tick_size: float) -> float:
    """The best price on the tick grid that does not cross `close`: one tick behind it.

    A close on the grid gives close - tick for a bid and close + tick for an ask; a close
    between two grid prices gives the grid price just below it (bid) or just above it (ask).
    May be <= 0 for a bid when the close is under one tick.
    """
    ticks = close / tick_size
    k = round(ticks)
    if abs(ticks - k) <= _grid_tolerance(ticks):
        k = k - side
    else:
        k = math.floor(ticks) if side > 0 else math.ceil(ticks)
    return on_grid(k, tick_size)


def place_quotes(
    symbol: str,
    quotes: Quotes,
    close: float,
    spec: SymbolSpec,
    *,
    post_only: str | bool = "clamp",
) -> tuple[tuple[Order, ...], tuple[Rejection, ...]]:
    """Orders posted and rejections for one symbol's quotes at a bar close.

    post_only: "clamp", "reject" (or True) or False, as `Venue.post_only`. A clamped order
    keeps the price the strategy asked for in `Order.clamped_from`.
    """
    mode = post_only if post_only is False or post_only == "clamp" else _post_only_mode(post_only)
    tick, lot = spec.tick_size, spec.lot_size
    # round_price, round_qty and crosses, written out with the grid of each size read once
    # (this runs per level per bar): the same operations in the same order
    tick_grid, lot_grid = _decimal_step(tick), _decimal_step(lot)
    crossing = -_grid_tolerance(close / tick)
    orders, rejected = [], []
    for side, levels in ((1, quotes.bids), (-1, quotes.asks)):
        for level, (price, qty) in enumerate(levels):
            if not (0 < price < math.inf and 0 < qty < math.inf):  # NaN fails too
                raise ValueError(
                    f"strategy for {symbol} proposed an invalid {'bid' if side > 0 else 'ask'} "
                    f"level {level}: price={price!r}, qty={qty!r}"
                )
            ticks = price / tick
            noise = 1e-9 + 1e-12 * abs(ticks)
            n = math.floor(ticks + noise) if side > 0 else math.ceil(ticks - noise)
            p = _grid(n, tick, tick_grid)
            lots = qty / lot
            q = _grid(math.floor(lots + 1e-9 + 1e-12 * abs(lots)), lot, lot_grid)
            if p <= 0 or q <= 0:
                reason = "tick_size" if p <= 0 else "lot_size"
                rejected.append(Rejection(_order(symbol, side, price, qty, level, None), reason))
                continue
            # p and q are positive grid values of finite numbers: valid order fields
            if mode and side * (p - close) / tick >= crossing:
                moved = behind_close(side, close, tick) if mode == "clamp" else 0.0
                if moved > 0:
                    orders.append(_order(symbol, side, moved, q, level, p))
                else:
                    rejected.append(Rejection(_order(symbol, side, p, q, level, None), "post_only"))
            else:
                orders.append(_order(symbol, side, p, q, level, None))
    return tuple(orders), tuple(rejected)


_order = unchecked(Order)
_grid = on_decimal_grid
