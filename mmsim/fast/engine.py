"""The fold kernel: `mmsim.core.engine`'s step over (bars x symbols) numpy columns.

Per bar, as in the reference: 1. matching (market orders at the open, then the orders resting
since the last close, only in the bar right after it), 2. accounting (fills, marks, funding,
liquidation), 3. each symbol's strategy and placement, 4. the risk chain. Everything the
reference's recorder keeps is written into columns; frames are built after the run.
"""

from __future__ import annotations

import math

import numpy as np

from mmsim.fast._jit import entry, kernel
from mmsim.fast.account import (
    ENTRY,
    FEES,
    FUNDING,
    MARK,
    N_FIELDS,
    QTY,
    REALIZED,
    equity,
    gross_notional,
    pay_funding,
    ratio,
    settle,
    unrealized,
)
from mmsim.fast.matching import (
    REASON_EVENT,
    REASON_LIQUIDATION,
    TAKER,
    fill_intensity,
    fill_market,
    fill_trade_through,
    put_fill,
)
from mmsim.fast.placement import N_ORDER, place_side
from mmsim.fast.risk import EVENT_LIQUIDATION, risk_chain
from mmsim.fast.strategies import (
    AVELLANEDA_STOIKOV,
    FIXED_SPREAD,
    GLFT,
    avellaneda_stoikov,
    fixed_spread,
    glft,
    mexico,
)

# per symbol-bar float columns, per bar float columns
(
    R_POSITION,
    R_ENTRY,
    R_MARK,
    R_REALIZED,
    R_FEES,
    R_FUNDING,
    R_BID,
    R_ASK,
    R_BID_QTY,
    R_ASK_QTY,
    R_RESERVATION,
) = range(11)
N_REC = 11
B_WALLET, B_EQUITY, B_UNREALIZED, B_NOTIONAL, B_FEES, B_FUNDING, B_REALIZED = range(7)
N_BAR = 7
# venue row: maker_fee, taker_fee, penetration_ticks, max_participation (NaN: none),
# market_slippage_bps, maintenance_margin_rate, post-only mode (see mmsim.fast.placement)
ERROR_QUOTE, ERROR_DRAW = 1, 2


@kernel
def ensure(buf, need):
    """`buf`, or a copy with room for `need` rows (doubling)."""
    if need <= buf.shape[0]:
        return buf
    out = np.empty((max(need, 2 * buf.shape[0]), buf.shape[1]))
    out[: buf.shape[0]] = buf
    return out


@kernel
def quote(
    kind, p, f, slots, skews, skew_slots, close, close_ts, interval_us, position, entry, two,
    bid_p, bid_q, ask_p, ask_q,
):  # fmt: skip
    if kind == FIXED_SPREAD:
        return fixed_spread(p, close, position, bid_p, bid_q, ask_p, ask_q)
    if kind == AVELLANEDA_STOIKOV:
        return avellaneda_stoikov(
            p, f, slots, close, close_ts, interval_us, position, two, bid_p, bid_q, ask_p, ask_q
        )
    if kind == GLFT:
        return glft(p, f, slots, close, position, bid_p, bid_q, ask_p, ask_q)
    return mexico(
        p, f, slots, skews, skew_slots, close, position, entry, two, bid_p, bid_q, ask_p, ask_q
    )


@kernel
def record(k, rec, counts, bars, acct, wallet, resting, n_rest, step_rej, nr, halted):
    S = acct.shape[1]
    for s in range(S):
        q = acct[QTY, s]
        rec[R_POSITION, k, s] = q
        rec[R_ENTRY, k, s] = acct[ENTRY, s] if q else math.nan
        rec[R_MARK, k, s] = acct[MARK, s]
        rec[R_REALIZED, k, s] = acct[REALIZED, s]
        rec[R_FEES, k, s] = acct[FEES, s]
        rec[R_FUNDING, k, s] = acct[FUNDING, s]
    for i in range(n_rest):
        s = int(resting[i, 0])
        counts[0, k, s] += 1
        if resting[i, 5] != 0.0:
            counts[2, k, s] += 1
        price = resting[i, 2]
        if resting[i, 1] > 0:
            if math.isnan(rec[R_BID, k, s]) or price > rec[R_BID, k, s]:
                rec[R_BID, k, s], rec[R_BID_QTY, k, s] = price, resting[i, 3]
        elif math.isnan(rec[R_ASK, k, s]) or price < rec[R_ASK, k, s]:
            rec[R_ASK, k, s], rec[R_ASK_QTY, k, s] = price, resting[i, 3]
    for i in range(nr):
        counts[1, k, int(step_rej[i, 0])] += 1
    unreal = fees = funding = realized = 0.0
    for s in range(S):
        unreal += unrealized(acct, s)
        fees += acct[FEES, s]
        funding += acct[FUNDING, s]
        realized += acct[REALIZED, s]
    bars[B_WALLET, k] = wallet[0]
    bars[B_EQUITY, k] = wallet[0] + unreal
    bars[B_UNREALIZED, k] = unreal
    bars[B_NOTIONAL, k] = gross_notional(acct)
    bars[B_FEES, k] = fees
    bars[B_FUNDING, k] = funding
    bars[B_REALIZED, k] = realized
    bars[N_BAR, k] = 1.0 if halted else 0.0


@kernel
def bad_draw(resting, lo, hi, side, u):
    """A side with orders needs a uniform draw in [0, 1) (`intensity._draw`)."""
    for i in range(lo, hi):
        if resting[i, 1] == side:
            return not (0.0 <= u < 1.0)
    return False


@kernel
def match_step(
    k, t, due, resting, n_rest, market, present, opens, lows, highs, volumes, u_bid, u_ask,
    ticks, lots, dec_lots, venue, matching, mp, interval_us, step_fills, error,
):  # fmt: skip
    """1. matching: each symbol's market order at its open, then its resting orders (when they
    are due in this bar). Returns the step's fill count, or -1 after a bad draw (in `error`)."""
    sf = 0
    lo = 0
    for s in range(present.shape[1]):
        hi = lo
        while hi < n_rest and resting[hi, 0] == s:
            hi += 1
        if present[k, s]:
            if market[0, s] != 0.0:
                sf = fill_market(
                    step_fills, sf, t, s, market[0, s], market[1, s], REASON_EVENT + market[2, s],
                    int(market[3, s]), interval_us, opens[k, s], venue[4], venue[1],
                )  # fmt: skip
                market[0, s] = 0.0
            if due and hi > lo and matching == 0:
                sf = fill_trade_through(
                    step_fills, sf, t, resting, lo, hi, lows[k, s], highs[k, s], volumes[k, s],
                    ticks[s], lots[s], dec_lots[s], venue,
                )  # fmt: skip
            elif due and hi > lo:
                for side, u in ((1, u_bid[k, s]), (-1, u_ask[k, s])):
                    if bad_draw(resting, lo, hi, side, u):
                        error[0], error[1], error[2], error[3], error[4] = ERROR_DRAW, k, s, side, u
                        return -1
                sf = fill_intensity(
                    step_fills, sf, t, resting, lo, hi, opens[k, s], u_bid[k, s], u_ask[k, s],
                    mp, venue[0],
                )  # fmt: skip
        lo = hi
    return sf


@kernel
def account_step(k, t, sf, step_fills, acct, wallet, present, closes, rates, venue):
    """2. accounting: book the fills, mark to the closes, pay funding, liquidate at a margin
    ratio of 1. Returns (fill count, equity, gross notional, margin ratio, liquidated)."""
    for i in range(sf):
        settle(acct, wallet, int(step_fills[i, 1]), step_fills[i, 2], step_fills[i, 3],
               step_fills[i, 4], step_fills[i, 5])  # fmt: skip
    for s in range(acct.shape[1]):
        if present[k, s]:
            acct[MARK, s] = closes[k, s]
    pay_funding(acct, wallet, rates[k], present[k])
    eq = equity(acct, wallet)
    gross = gross_notional(acct)
    margin = ratio(gross * venue[5], eq)
    if margin < 1.0:
        return sf, eq, gross, margin, False
    first = sf
    for s in range(acct.shape[1]):
        q = acct[QTY, s]
        if q != 0:
            m_s = acct[MARK, s]
            side = -1.0 if q > 0 else 1.0
            sf = put_fill(step_fills, sf, t, s, side, m_s, abs(q), m_s * abs(q) * venue[1],
                          TAKER, REASON_LIQUIDATION, -1.0)  # fmt: skip
    for i in range(first, sf):
        settle(acct, wallet, int(step_fills[i, 1]), step_fills[i, 2], step_fills[i, 3],
               step_fills[i, 4], step_fills[i, 5])  # fmt: skip
    return sf, eq, gross, margin, True


@kernel
def quote_step(
    k, t, present, closes, feats, kinds, params, slots, skews, skew_slots, two, acct, ticks,
    lots, dec_ticks, dec_lots, post_only, interval_us, orders, step_rej, quotes, rec, error,
):  # fmt: skip
    """3. strategies and placement for every symbol with a bar. Returns (orders, rejections),
    or m = -1 after an invalid proposal (in `error`)."""
    m = nr = 0
    bid_p, bid_q, ask_p, ask_q = quotes[0], quotes[1], quotes[2], quotes[3]
    for s in range(present.shape[1]):
        if not present[k, s]:
            continue
        close = closes[k, s]
        nb, na, r = quote(
            kinds[s], params[s], feats[k, s], slots[s], skews[s], skew_slots, close,
            t + interval_us, interval_us, acct[QTY, s], acct[ENTRY, s], two[0],
            bid_p, bid_q, ask_p, ask_q,
        )  # fmt: skip
        rec[R_RESERVATION, k, s] = r
        for side in (1, -1):
            n = nb if side > 0 else na
            prices, qtys = (bid_p, bid_q) if side > 0 else (ask_p, ask_q)
            if n == 0:
                continue
            m, nr, bad = place_side(
                s, side, prices, qtys, n, close, ticks[s], lots[s], dec_ticks[s], dec_lots[s],
                post_only, orders, m, step_rej, nr,
            )  # fmt: skip
            if bad >= 0:
                error[0], error[1], error[2], error[3], error[4] = ERROR_QUOTE, k, s, side, bad
                error[5], error[6] = prices[bad], qtys[bad]
                return -1, nr
    return m, nr


@kernel
def count_posted(resting, n_rest, posted_n, posted_q):
    """Orders that will rest during the next bar: the denominators of fill rates."""
    for i in range(n_rest):
        s, side_i, level = int(resting[i, 0]), 0 if resting[i, 1] > 0 else 1, int(resting[i, 4])
        posted_n[s, side_i, level] += 1
        posted_q[s, side_i, level] += resting[i, 3]


@kernel
def append_rows(buf, n, k, rows, count):
    """`rows[:count]` appended to `buf` after row n, each prefixed with the step k."""
    buf = ensure(buf, n + count)
    for i in range(count):
        buf[n + i, 0] = k
        for c in range(rows.shape[1]):
            buf[n + i, c + 1] = rows[i, c]
    return buf, n + count


@entry
def run(
    ts, present, opens, highs, lows, closes, volumes, rates, feats, u_bid, u_ask,
    ticks, lots, dec_ticks, dec_lots, kinds, params, slots, skews, skew_slots, two,
    venue, rules, matching, mp, initial_cash, interval_us, levels, first_marks,
):  # fmt: skip
    """The whole backtest. Returns (per symbol-bar floats, per symbol-bar counts (orders,
    rejected), per bar floats (+ halted), fills, rejections, events, posted counts, posted
    quantities, halting event or -1, error row)."""
    T, S = present.shape
    M = S * 2 * levels
    rec = np.full((N_REC, T, S), np.nan)
    counts = np.zeros((3, T, S), dtype=np.int64)  # orders, rejected, clamped
    bars = np.zeros((N_BAR + 1, T))
    fills = np.empty((max(16, T // 4), 10))
    rejs = np.empty((max(16, T // 16), 7))
    evs = np.empty((16, 4))
    nf = nr_total = ne = 0
    posted_n = np.zeros((S, 2, levels), dtype=np.int64)
    posted_q = np.zeros((S, 2, levels))
    acct = np.zeros((N_FIELDS, S))
    acct[MARK, :] = first_marks
    wallet = np.array([initial_cash])
    resting = np.empty((M, N_ORDER))
    orders, spare = np.empty((M, N_ORDER)), np.empty((M, N_ORDER))
    n_rest = 0
    rest_due = -1
    market = np.zeros((4, S))  # side (0: none), qty, reason event, placed at (ts)
    sent = np.zeros(S, dtype=np.bool_)
    states = np.full(rules.shape[0], -np.inf)
    step_fills = np.empty((M + 2 * S, 10))
    step_rej = np.empty((M, 6))
    step_ev = np.empty((rules.shape[0] + 1, 3))
    work = np.empty((S, 5))
    quotes = np.empty((4, levels))
    error = np.full(7, np.nan)
    halted_ev = -1
    for k in range(T):
        t = ts[k]
        sf = match_step(
            k, t, t == rest_due, resting, n_rest, market, present, opens, lows, highs, volumes,
            u_bid, u_ask, ticks, lots, dec_lots, venue, matching, mp, interval_us, step_fills,
            error,
        )  # fmt: skip
        if sf < 0:
            break
        n_rest = 0
        sf, eq, gross, margin, liquidated = account_step(
            k, t, sf, step_fills, acct, wallet, present, closes, rates, venue
        )
        fills = ensure(fills, nf + sf)
        fills[nf : nf + sf] = step_fills[:sf]
        nf += sf
        if liquidated:
            step_ev[0, 0], step_ev[0, 1], step_ev[0, 2] = EVENT_LIQUIDATION, margin, -1
            evs, ne = append_rows(evs, ne, k, step_ev, 1)
            market[0, :] = 0.0  # the liquidation closed every position
            if halted_ev < 0:
                halted_ev = ne - 1
        if halted_ev >= 0:
            record(k, rec, counts, bars, acct, wallet, resting, 0, step_rej, 0, True)
            continue
        m, nr = quote_step(
            k, t, present, closes, feats, kinds, params, slots, skews, skew_slots, two, acct,
            ticks, lots, dec_ticks, dec_lots, venue[6], interval_us, orders, step_rej, quotes,
            rec, error,
        )  # fmt: skip
        if m < 0:
            break
        sent[:] = False
        m, nr, n_ev, halt, in_spare = risk_chain(
            rules, states, orders, m, spare, acct, eq, gross, venue[5], initial_cash, lots,
            dec_lots, step_rej, nr, step_ev, 0, ne, market[0], market[1], market[2], sent, work,
        )  # fmt: skip
        evs, ne = append_rows(evs, ne, k, step_ev, n_ev)
        rejs, nr_total = append_rows(rejs, nr_total, k, step_rej, nr)
        for s in range(S):
            if sent[s]:  # stamped with this close: a late fill tells how many bars it waited
                market[3, s] = t
        if halt >= 0:
            halted_ev = halt
        else:
            if in_spare:
                resting, spare = spare, resting
            else:
                resting, orders = orders, resting
            n_rest = m
            rest_due = t + interval_us
            # counted as posted when they meet a bar: the next one is in time
            if k < T - 1 and ts[k + 1] - t == interval_us:
                count_posted(resting, n_rest, posted_n, posted_q)
        record(k, rec, counts, bars, acct, wallet, resting, n_rest, step_rej, nr, halted_ev >= 0)
    return (rec, counts, bars, fills[:nf], rejs[:nr_total], evs[:ne], posted_n, posted_q,
            halted_ev, error)  # fmt: skip
