"""Placement kernel: `mmsim.core.placement.place_quotes` and the venue's grid rounding on floats.

Orders are rows of a float table: (symbol, side, price, qty, level); rejections rows of
(symbol, side, level, price, qty, reason) with the reason codes of REJECT_* below.
"""

from __future__ import annotations

import math

import numpy as np

from mmsim.fast._jit import kernel

REJECT_TICK, REJECT_LOT, REJECT_POST_ONLY, REJECT_LEVERAGE, REJECT_MIN_VALUE = 0, 1, 2, 3, 4
REJECT_EVENT = 10  # 10 + k: rejected by the risk event number k (its text is the reason)
POST_ONLY_OFF, POST_ONLY_REJECT = 0, 1


@kernel
def on_grid(n, step, digits):
    """n steps as a float rounded to `digits` decimals (none when digits < 0)."""
    return round(n * step, digits) if digits >= 0 else n * step


@kernel
def round_price(price, tick, side, digits):
    """`mmsim.core.venue.round_price`: bids down, asks up to the tick grid."""
    ticks = price / tick
    noise = 1e-9 + 1e-12 * abs(ticks)
    n = math.floor(ticks + noise) if side > 0 else math.ceil(ticks - noise)
    return on_grid(n, tick, digits)


@kernel
def round_qty(qty, lot, digits):
    """`mmsim.core.venue.round_qty`: down to whole lots."""
    lots = qty / lot
    n = math.floor(lots + 1e-9 + 1e-12 * abs(lots))
    return on_grid(n, lot, digits)


@kernel
def crosses(side, price, close):
    return price >= close if side > 0 else price <= close


@kernel
def place_side(
    s, side, prices, qtys, n, close, tick, lot, dec_tick, dec_lot, post_only, orders, m, rej, nr
):
    """One side's levels to orders (appended at row m) and rejections (at row nr).

    Returns (m, nr, bad): bad = the level of an invalid proposal (the run stops), else -1.
    """
    for level in range(n):
        price, qty = prices[level], qtys[level]
        if not (np.isfinite(price) and np.isfinite(qty)) or price <= 0 or qty <= 0:
            return m, nr, level
        p = round_price(price, tick, side, dec_tick)
        q = round_qty(qty, lot, dec_lot)
        if p <= 0 or q <= 0:
            rej[nr, 0], rej[nr, 1], rej[nr, 2] = s, side, level
            rej[nr, 3], rej[nr, 4] = price, qty
            rej[nr, 5] = REJECT_TICK if p <= 0 else REJECT_LOT
            nr += 1
            continue
        if post_only == POST_ONLY_REJECT and crosses(side, p, close):
            rej[nr, 0], rej[nr, 1], rej[nr, 2] = s, side, level
            rej[nr, 3], rej[nr, 4], rej[nr, 5] = p, q, REJECT_POST_ONLY
            nr += 1
            continue
        orders[m, 0], orders[m, 1], orders[m, 2] = s, side, p
        orders[m, 3], orders[m, 4] = q, level
        m += 1
    return m, nr, -1
