"""Placement kernel: `mmsim.core.placement.place_quotes` and the venue's grid rounding on floats.

Orders are rows of a float table: (symbol, side, price, qty, level, clamped: 1.0 when placement
moved a crossing quote behind the close); rejections rows of (symbol, side, level, price, qty,
reason) with the reason codes of REJECT_* below.
"""

from __future__ import annotations

import math

import numpy as np

from mmsim.fast._jit import kernel

REJECT_TICK, REJECT_LOT, REJECT_POST_ONLY, REJECT_LEVERAGE, REJECT_MIN_VALUE = 0, 1, 2, 3, 4
REJECT_EVENT = 10  # 10 + k: rejected by the risk event number k (its text is the reason)
POST_ONLY_OFF, POST_ONLY_REJECT, POST_ONLY_CLAMP = 0, 1, 2
POST_ONLY_MODES = {False: POST_ONLY_OFF, "reject": POST_ONLY_REJECT, "clamp": POST_ONLY_CLAMP}
N_ORDER = 6  # columns of an order row
TICK_TOLERANCE = 1e-6  # mmsim.core.venue.TICK_TOLERANCE
EPS = 2.220446049250313e-16  # sys.float_info.epsilon


# exact powers of ten (10**22 is the last a float holds exactly)
POW10 = np.array([10.0**i for i in range(23)])


@kernel
def round_digits(x, digits):
    """`round(x, digits)` as numba computes it (x * 10**digits to the nearest integer, ties to
    even, divided back), with the power of ten read from a table: numba's own `round` calls out
    of line and raises 10 to the power in a loop on every call."""
    if digits > 22 or not math.isfinite(x):
        return round(x, digits)
    p = POW10[digits]
    y = x * p
    if math.isinf(y):
        return x
    return np.rint(y) / p


@kernel
def on_grid(n, step, digits):
    """n steps as a float rounded to `digits` decimals (none when digits < 0): the venue's
    `on_grid`, the IEEE quotient (n * m) / 10**digits of two exact floats (m = step * 10**digits,
    a whole number) while n * m is below 2**53, else `round(n * step, digits)`. A count of -0.0
    (np.ceil of a negative fraction) is the venue's integer 0: + 0.0 makes it 0.0."""
    count = n + 0.0
    if digits < 0:
        return count * step
    if digits <= 22:
        p = POW10[digits]
        units = count * np.rint(step * p)  # exact below 2**53 (a product of whole numbers)
        if abs(units) < 2.0**53:
            return units / p
    return round_digits(count * step, digits)


@kernel
def estimated_steps(x, inv_step, side):
    """(count, sure): the venue's count of whole steps in x, floor(x / step + noise) (side > 0)
    or ceil(x / step - noise) (side < 0) with noise = 1e-9 + 1e-12 |x / step|, from
    x * inv_step (inv_step = 1 / step, rounded), without the division (a chain of divisions per
    quote is most of placement's time); sure when it is that count bit for bit. The count is a
    whole float, as `on_grid` multiplies it: a round trip through an integer would add two
    conversions to every quote's chain of dependent instructions (`on_grid` reads a -0.0 count
    as the 0 it stands for).

    The estimate is within 2**-51 |x / step| of the rounded quotient, so the noisy sum is within
    2**-49 (1 + |x / step|) of the venue's (whatever the order of its additions): further than
    2**-40 (1 + |x / step|) from every whole number, both lie between the same two."""
    t = x * inv_step
    if abs(t) < 2.0**52:
        u = t + side * (1e-9 + 1e-12 * abs(t))
        below, above = np.floor(u), np.ceil(u)
        margin = 2.0**-40 * (1.0 + abs(t))
        if u - below > margin and above - u > margin:
            return (below if side > 0 else above), True
    return 0.0, False


@kernel
def tick_count(price, tick, inv_tick, side):
    """`round_price`'s whole ticks (bids down, asks up; a whole float), the division only where
    needed."""
    n, sure = estimated_steps(price, inv_tick, side)
    if sure:
        return n
    ticks = price / tick
    noise = 1e-9 + 1e-12 * abs(ticks)
    return np.floor(ticks + noise) if side > 0 else np.ceil(ticks - noise)


@kernel
def lot_count(qty, lot, inv_lot):
    """`round_qty`'s whole lots (down; a whole float), the division only where needed."""
    n, sure = estimated_steps(qty, inv_lot, 1)
    if sure:
        return n
    lots = qty / lot
    return np.floor(lots + 1e-9 + 1e-12 * abs(lots))


@kernel
def round_price(price, tick, side, digits):
    """`mmsim.core.venue.round_price`: bids down, asks up to the tick grid."""
    ticks = price / tick
    noise = 1e-9 + 1e-12 * abs(ticks)
    n = np.floor(ticks + noise) if side > 0 else np.ceil(ticks - noise)
    return on_grid(n, tick, digits)


@kernel
def round_qty(qty, lot, digits):
    """`mmsim.core.venue.round_qty`: down to whole lots."""
    lots = qty / lot
    n = np.floor(lots + 1e-9 + 1e-12 * abs(lots))
    return on_grid(n, lot, digits)


@kernel
def grid_tolerance(ticks):
    """`mmsim.core.placement._grid_tolerance`: a millionth of a tick plus float noise."""
    return TICK_TOLERANCE + 4 * EPS * abs(ticks)


@kernel
def crosses(side, price, close, tick):
    """`mmsim.core.placement.crosses` on the tick grid: a bid >= close, an ask <= close."""
    ahead = side * (price - close) / tick
    return ahead >= -grid_tolerance(close / tick)


@kernel
def crosses_by(side, price, close, tick, inv_tick):
    """`crosses`, deciding without a division a quote at or beyond the close (ahead >= 0) and
    one over a tick behind it (the quotient, within 2**-50 of its estimate, is then below
    -(1 - 2**-50), under minus any tolerance of a close below 2**40 ticks)."""
    d = side * (price - close)
    if tick > 0.0:
        if d >= 0.0:
            return True
        if d * inv_tick <= -1.0 and abs(close * inv_tick) < 2.0**40:
            return False
    return crosses(side, price, close, tick)


@kernel
def behind_close(side, close, tick, digits):
    """`mmsim.core.placement.behind_close`: the best grid price one tick behind `close`."""
    ticks = close / tick
    k = round(ticks)
    if abs(ticks - k) <= grid_tolerance(ticks):
        k = k - side
    else:
        k = math.floor(ticks) if side > 0 else math.ceil(ticks)
    return on_grid(k, tick, digits)


@kernel
def place_side(
    s, side, prices, qtys, n, closes, k, tick, lot, inv_tick, inv_lot, dec_tick, dec_lot,
    post_only, orders, m, rej, nr,
):  # fmt: skip
    """One side's levels to orders (appended at row m) and rejections (at row nr), against
    the close `closes[k, s]`.

    Returns (m, nr, bad): bad = the level of an invalid proposal (the run stops), else -1.
    """
    for level in range(n):
        # the close read from its table at each level, not passed as a value: from a value
        # the same at every level, the compiler computes the clamp's division and roundings
        # ahead of the loop, for every quote, where only one crossing the close needs them;
        # a read after a store to `orders` (which might be the table) stays where it is
        close = closes[k, s]
        price, qty = prices[level], qtys[level]
        if not (np.isfinite(price) and np.isfinite(qty)) or price <= 0 or qty <= 0:
            return m, nr, level
        p = on_grid(tick_count(price, tick, inv_tick, side), tick, dec_tick)
        q = on_grid(lot_count(qty, lot, inv_lot), lot, dec_lot)
        if p <= 0 or q <= 0:
            rej[nr, 0], rej[nr, 1], rej[nr, 2] = s, side, level
            rej[nr, 3], rej[nr, 4] = price, qty
            rej[nr, 5] = REJECT_TICK if p <= 0 else REJECT_LOT
            nr += 1
            continue
        placed, moved = p, 0.0
        if post_only != POST_ONLY_OFF and crosses_by(side, p, close, tick, inv_tick):
            # clamp: one tick behind the close, refused when that is no price (a bid <= 0)
            placed = 0.0
            if post_only == POST_ONLY_CLAMP:
                placed = behind_close(side, close, tick, dec_tick)
            if placed <= 0:
                rej[nr, 0], rej[nr, 1], rej[nr, 2] = s, side, level
                rej[nr, 3], rej[nr, 4], rej[nr, 5] = p, q, REJECT_POST_ONLY
                nr += 1
                continue
            moved = 1.0
        orders[m, 0], orders[m, 1], orders[m, 2] = s, side, placed
        orders[m, 3], orders[m, 4], orders[m, 5] = q, level, moved
        m += 1
    return m, nr, -1
