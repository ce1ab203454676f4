"""Risk kernels: the rules of `mmsim.core.risk` (early stop, emergency exit, leverage caps,
minimum order value) and their `chain`, over the order table of `mmsim.fast.placement`.

A rule reads orders `src[0:m]` and writes the ones it keeps to `dst`; orders are grouped by
symbol in symbol order, bids before asks, each side innermost level first (the order placement
writes them in, which every rule keeps). Events are rows (code, value, rule) with the codes
EVENT_* below; their texts are formatted after the run.
"""

from __future__ import annotations

import math

import numpy as np

from mmsim.fast._jit import kernel
from mmsim.fast.account import MARK, QTY, ratio
from mmsim.fast.placement import REJECT_EVENT, REJECT_LEVERAGE, REJECT_MIN_VALUE, round_qty

EARLY_STOP, EMERGENCY_EXIT, LEVERAGE_CAPS, MIN_ORDER_VALUE = 0, 1, 2, 3
EVENT_LIQUIDATION, EVENT_LEVERAGE, EVENT_MARGIN, EVENT_DRAWDOWN, EVENT_EARLY_STOP = 0, 1, 2, 3, 4


@kernel
def reject(rej, nr, src, i, qty, reason):
    rej[nr, 0], rej[nr, 1], rej[nr, 2] = src[i, 0], src[i, 1], src[i, 4]
    rej[nr, 3], rej[nr, 4], rej[nr, 5] = src[i, 2], qty, reason
    return nr + 1


@kernel
def trim_side(src, lo, hi, side, signed_notional, cap, lot, dec_lot, dst, md, rej, nr):
    """`_trim_side`: keep one side's orders (innermost first) within |notional| <= cap."""
    n = signed_notional
    for i in range(lo, hi):
        if src[i, 1] != side:
            continue
        price, qty = src[i, 2], src[i, 3]
        room = (cap - n) if side > 0 else (cap + n)
        new_qty = qty if room >= price * qty else round_qty(max(room, 0.0) / price, lot, dec_lot)
        if new_qty <= 0:
            nr = reject(rej, nr, src, i, qty, REJECT_LEVERAGE)
            continue
        for c in range(src.shape[1]):
            dst[md, c] = src[i, c]
        dst[md, 3] = new_qty
        md += 1
        n += side * (price * new_qty)
    return md, nr, n


@kernel
def side_fits(src, lo, hi, side, signed_notional, cap):
    """`trim_side` when it keeps every order of the side whole: (notional after them, whether
    it does), with its arithmetic, writing nothing."""
    n = signed_notional
    for i in range(lo, hi):
        if src[i, 1] != side:
            continue
        price, qty = src[i, 2], src[i, 3]
        room = (cap - n) if side > 0 else (cap + n)
        if not room >= price * qty:
            return n, False
        n += side * (price * qty)
    return n, True


@kernel
def symbol_fits(src, lo, hi, signed_notional, cap):
    """`trim_symbol` when it keeps every order whole: (worst notional, whether it does)."""
    n_buy, fits_buy = side_fits(src, lo, hi, 1, signed_notional, cap)
    n_sell, fits_sell = side_fits(src, lo, hi, -1, signed_notional, cap)
    worst = max(abs(signed_notional), abs(n_buy), abs(n_sell))
    return worst, fits_buy and fits_sell


@kernel
def trim_symbol(src, lo, hi, signed_notional, cap, lot, dec_lot, dst, md, rej, nr):
    md, nr, n_buy = trim_side(src, lo, hi, 1, signed_notional, cap, lot, dec_lot, dst, md, rej, nr)
    md, nr, n_sell = trim_side(
        src, lo, hi, -1, signed_notional, cap, lot, dec_lot, dst, md, rej, nr
    )
    worst = max(abs(signed_notional), abs(n_buy), abs(n_sell))
    return md, nr, worst


@kernel
def leverage_caps(
    src, m, dst, acct, equity_, gross, max_leverage, max_symbol_leverage, symbol_cap_holds,
    lots, dec_lots, rej, nr, work,
):  # fmt: skip
    """`leverage_caps` (`gross`: the account's gross notional): per-symbol caps, then one scale
    factor on every symbol's added exposure (with `symbol_cap_holds`, each symbol's scaled cap is
    also held to its own cap). Returns
    (m, nr, the orders are in `dst`: else every order of `src` was kept whole, left there)."""
    eq = max(equity_, 0.0)
    symbol_cap = math.inf if math.isnan(max_symbol_leverage) else max_symbol_leverage * eq
    # work[g] = (first row, end row, symbol, n0, worst) of each symbol's group of orders
    groups = 0
    lo = 0
    while lo < m:
        hi = lo
        while hi < m and src[hi, 0] == src[lo, 0]:
            hi += 1
        work[groups, 0], work[groups, 1], work[groups, 2] = lo, hi, src[lo, 0]
        groups += 1
        lo = hi
    nr0 = nr
    md = m
    in_dst = False
    for g in range(groups):  # the common case: the symbol caps keep every order whole
        s = int(work[g, 2])
        n0 = acct[QTY, s] * acct[MARK, s]
        worst, fits = symbol_fits(src, int(work[g, 0]), int(work[g, 1]), n0, symbol_cap)
        work[g, 3], work[g, 4] = n0, worst
        if not fits:
            in_dst = True
            break
    if in_dst:  # some order is trimmed or refused: the symbol caps' pass proper
        md = 0
        for g in range(groups):
            s = int(work[g, 2])
            n0 = acct[QTY, s] * acct[MARK, s]
            md, nr, worst = trim_symbol(
                src, int(work[g, 0]), int(work[g, 1]), n0, symbol_cap, lots[s], dec_lots[s],
                dst, md, rej, nr,
            )  # fmt: skip
            work[g, 3], work[g, 4] = n0, worst
    if not math.isnan(max_leverage):
        current = gross
        added = 0.0
        for g in range(groups):
            added += max(work[g, 4] - abs(work[g, 3]), 0.0)
        total_cap = max_leverage * eq
        if added > 0 and current + added > total_cap:
            k = max(0.0, (total_cap - current) / added)
            md, nr = 0, nr0
            in_dst = True
            for g in range(groups):
                s = int(work[g, 2])
                n0 = work[g, 3]
                cap = abs(n0) + k * max(work[g, 4] - abs(n0), 0.0)
                if symbol_cap_holds:
                    cap = min(cap, symbol_cap)
                md, nr, _ = trim_symbol(
                    src,
                    int(work[g, 0]),
                    int(work[g, 1]),
                    n0,
                    cap,
                    lots[s],
                    dec_lots[s],
                    dst,
                    md,
                    rej,
                    nr,
                )
    return md, nr, in_dst


@kernel
def min_order_value(orders, m, value, rej, nr):
    """`min_order_value`, in place: the kept orders move up over the rejected ones."""
    md = 0
    for i in range(m):
        if orders[i, 2] * orders[i, 3] < value:
            nr = reject(rej, nr, orders, i, orders[i, 3], REJECT_MIN_VALUE)
        else:
            if md != i:
                for c in range(orders.shape[1]):
                    orders[md, c] = orders[i, c]
            md += 1
    return md, nr


@kernel
def exit_all(src, m, acct, event, rej, nr, market, sent):
    """`_exit`: reject every order, flatten every position with market orders (first wins)."""
    for i in range(m):
        nr = reject(rej, nr, src, i, src[i, 3], REJECT_EVENT + event)
    for s in range(acct.shape[1]):
        q = acct[QTY, s]
        if q != 0 and not sent[s]:
            market[0, s] = -1.0 if q > 0 else 1.0  # side, qty, reason event
            market[1, s] = abs(q)
            market[2, s] = event
            sent[s] = True
    return nr


@kernel
def risk_chain(
    rules,
    states,
    orders,
    m,
    spare,
    acct,
    equity_,
    gross,
    mmr,
    initial_cash,
    lots,
    dec_lots,
    rej,
    nr,
    events,
    ne,
    event_base,
    market,
    sent,
    work,
):
    """`chain` of the rules in `rules` (rows: kind, p1, p2, p3). The kept orders end in
    `orders` (or `spare`: the returned flag says which). Returns
    (m, nr, ne, halt event or -1, kept in spare, some market order sent)."""
    src, dst = orders, spare
    in_spare = False
    halt = -1
    any_sent = False
    for r in range(rules.shape[0]):
        kind = int(rules[r, 0])
        if kind == LEVERAGE_CAPS:
            m, nr, in_dst = leverage_caps(
                src, m, dst, acct, equity_, gross, rules[r, 1], rules[r, 2], rules[r, 3] == 1.0,
                lots, dec_lots, rej, nr, work,
            )  # fmt: skip
            if in_dst:
                src, dst = dst, src
                in_spare = not in_spare
        elif kind == MIN_ORDER_VALUE:
            m, nr = min_order_value(src, m, rules[r, 1], rej, nr)
        elif kind == EARLY_STOP:
            if not equity_ >= rules[r, 1] * initial_cash:
                events[ne, 0], events[ne, 1], events[ne, 2] = EVENT_EARLY_STOP, equity_, r
                nr = exit_all(src, m, acct, event_base + ne, rej, nr, market, sent)
                any_sent = True
                if halt < 0:
                    halt = event_base + ne
                ne += 1
                m = 0
        else:  # EMERGENCY_EXIT
            peak = max(states[r], equity_)
            code, value = -1, 0.0
            if not math.isnan(rules[r, 1]) and ratio(gross, equity_) > rules[r, 1]:
                code, value = EVENT_LEVERAGE, ratio(gross, equity_)
            elif not math.isnan(rules[r, 2]):
                margin = ratio(gross * mmr, equity_)
                if margin > rules[r, 2]:
                    code, value = EVENT_MARGIN, margin
            if code < 0 and not math.isnan(rules[r, 3]) and equity_ < peak * (1 - rules[r, 3]):
                code, value = EVENT_DRAWDOWN, 1 - equity_ / peak
            if code < 0:
                states[r] = peak
            else:
                states[r] = equity_
                events[ne, 0], events[ne, 1], events[ne, 2] = code, value, r
                nr = exit_all(src, m, acct, event_base + ne, rej, nr, market, sent)
                any_sent = True
                ne += 1
                m = 0
    return m, nr, ne, halt, in_spare, any_sent


def new_states(rules: np.ndarray) -> np.ndarray:
    """Each rule's initial state (an emergency exit's equity peak starts at -inf)."""
    return np.full(rules.shape[0], -np.inf)
