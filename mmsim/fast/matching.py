"""Matching kernels: `mmsim.core.matching` (trade-through) and `mmsim.core.intensity` fills.

Fills are rows of a float table: (ts, symbol, side, price, qty, fee, liquidity, reason, level,
bars waited), liquidity 0 = maker, 1 = taker; reason 0 = "quote", 1 = "liquidation", 2 + k =
the text of risk event number k (the market orders an exit sent).
"""

from __future__ import annotations

import math

from mmsim.fast._jit import kernel
from mmsim.fast.placement import round_qty

MAKER, TAKER = 0.0, 1.0
REASON_QUOTE, REASON_LIQUIDATION, REASON_EVENT = 0.0, 1.0, 2


@kernel
def put_fill(fills, nf, ts, s, side, price, qty, fee, liquidity, reason, level, waited=0):
    fills[nf, 0], fills[nf, 1], fills[nf, 2] = ts, s, side
    fills[nf, 3], fills[nf, 4], fills[nf, 5] = price, qty, fee
    fills[nf, 6], fills[nf, 7], fills[nf, 8] = liquidity, reason, level
    fills[nf, 9] = waited
    return nf + 1


@kernel
def maker_fill(fills, nf, ts, orders, i, qty, maker_fee):
    """`mmsim.core.matching.maker_fill`: resting order i (a row of `orders`: symbol, side,
    price, qty, level) filled for `qty` at its own price, paying (or earning) the maker fee."""
    price = orders[i, 2]
    return put_fill(
        fills, nf, ts, orders[i, 0], orders[i, 1], price, qty, price * qty * maker_fee, MAKER,
        REASON_QUOTE, orders[i, 4],
    )  # fmt: skip


@kernel
def fill_market(
    fills, nf, ts, s, side, qty, reason, placed_ts, interval_us, bar_open, slippage_bps, taker_fee
):
    """A market order at the bar's open, slipped against the trader, with the taker fee; it
    records the bars it waited for its symbol's bar (0: the bar after the close it was sent)."""
    price = bar_open * (1.0 + side * slippage_bps / 1e4)
    waited = (ts - placed_ts) // interval_us - 1
    return put_fill(
        fills, nf, ts, s, side, price, qty, price * qty * taker_fee, TAKER, reason, -1.0, waited
    )


@kernel
def limit_traded(side, price, low, high, tick, penetration):
    """`mmsim.core.venue.at_or_through`: the trade-through rule compared in ticks (a buy at p
    fills when (p - low) / tick >= n - 1e-6, a sell when (high - p) / tick >= n - 1e-6)."""
    through = (price - low) / tick if side > 0 else (high - price) / tick
    return through >= penetration - 1e-6


@kernel
def limit_traded_by(side, price, low, high, tick, inv_tick, penetration):
    """`limit_traded`, the quotient estimated as a product with inv_tick = 1 / tick (rounded):
    within 2**-51 of the quotient, the estimate decides unless it lies within 2**-45 of the
    threshold (then the division does)."""
    threshold = penetration - 1e-6
    through = (price - low) * inv_tick if side > 0 else (high - price) * inv_tick
    margin = 2.0**-45 * abs(through)
    if through - margin > threshold:
        return True
    if through + margin < threshold:
        return False
    return limit_traded(side, price, low, high, tick, penetration)


@kernel
def whole_lots(qty, lot):
    """`mmsim.core.venue.whole_lots`: whole lots in qty, rounded down, float noise forgiven."""
    lots = qty / lot
    return math.floor(lots + 1e-9 + 1e-12 * abs(lots))


@kernel
def fill_trade_through(
    fills, nf, ts, orders, lo, hi, low, high, volume, tick, inv_tick, lot, dec_lot, venue
):
    """`fill_limit_orders` on one symbol's orders (rows lo..hi, bids then asks by level)."""
    penetration, max_participation, maker_fee = venue[2], venue[3], venue[0]
    capped = not math.isnan(max_participation)
    cap = whole_lots(max_participation * volume, lot) if capped else 0
    for side in (1, -1):
        room = cap  # lots this side may still fill
        for i in range(lo, hi):
            if orders[i, 1] != side:
                continue
            price = orders[i, 2]
            if not limit_traded_by(side, price, low, high, tick, inv_tick, penetration):
                continue
            qty = orders[i, 3]
            if capped:
                own = round(qty / lot)
                take = min(own, room)
                if take <= 0:
                    break
                room -= take
                if take < own:
                    qty = round_qty(take * lot, lot, dec_lot)
            nf = maker_fill(fills, nf, ts, orders, i, qty, maker_fee)
    return nf


@kernel
def fill_probability(mp, delta):
    """`mmsim.core.intensity.fill_probability`: A exp(-kappa delta) dt (or 1 - exp(-that))."""
    rate_dt = mp[0] * math.exp(min(-mp[1] * delta, 700.0)) * mp[2]
    if mp[3] == 0.0:
        return rate_dt
    return -math.expm1(-rate_dt)


@kernel
def fill_intensity(fills, nf, ts, orders, lo, hi, bar_open, u_bid, u_ask, mp, maker_fee):
    """`intensity_limit_fills` on one symbol's orders: one uniform draw per side and bar."""
    for side in (1, -1):
        u = u_bid if side > 0 else u_ask
        for i in range(lo, hi):
            if orders[i, 1] != side:
                continue
            price = orders[i, 2]
            delta = (bar_open - price) if side > 0 else (price - bar_open)
            if mp[4] == 1.0:
                delta = delta / bar_open * 1e4
            if not u < fill_probability(mp, delta):
                continue
            qty = orders[i, 3]
            nf = maker_fill(fills, nf, ts, orders, i, qty, maker_fee)
    return nf
