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
from mmsim.fast.placement import place_side
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
# market_slippage_bps, maintenance_margin_rate, post-only mode
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


@entry
def run(
    ts, present, opens, highs, lows, closes, volumes, rates, feats, u_bid, u_ask,
    ticks, lots, dec_ticks, dec_lots, kinds, params, slots, skews, skew_slots, two,
    venue, rules, matching, mp, initial_cash, interval_us, levels, first_marks, expire_by_ts,
):  # fmt: skip
    """The whole backtest. Returns (per symbol-bar floats, per symbol-bar counts (orders,
    rejected), per bar floats (+ halted), fills, rejections, events, posted counts, posted
    quantities, halting event or -1, error row)."""
    T, S = present.shape
    L = levels
    M = S * 2 * L
    maker_fee, taker_fee, slippage, mmr, post_only = (
        venue[0],
        venue[1],
        venue[4],
        venue[5],
        venue[6],
    )
    rec = np.full((N_REC, T, S), np.nan)
    counts = np.zeros((2, T, S), dtype=np.int64)
    bars = np.zeros((N_BAR + 1, T))
    fills = np.empty((max(16, T // 4), 9))
    rejs = np.empty((max(16, T // 16), 7))
    evs = np.empty((16, 4))
    nf = nr_total = ne = 0
    posted_n = np.zeros((S, 2, L), dtype=np.int64)
    posted_q = np.zeros((S, 2, L))
    acct = np.zeros((N_FIELDS, S))
    acct[MARK, :] = first_marks
    wallet = np.array([initial_cash])
    resting = np.empty((M, 5))
    orders = np.empty((M, 5))
    spare = np.empty((M, 5))
    n_rest = 0
    rest_due = -1
    mo_side = np.zeros(S)
    mo_qty = np.zeros(S)
    mo_reason = np.zeros(S)
    sent = np.zeros(S, dtype=np.bool_)
    states = np.full(rules.shape[0], -np.inf)
    step_fills = np.empty((M + 2 * S, 9))
    step_rej = np.empty((M, 6))
    step_ev = np.empty((rules.shape[0] + 1, 3))
    work = np.empty((S, 5))
    bid_p, bid_q = np.empty(L), np.empty(L)
    ask_p, ask_q = np.empty(L), np.empty(L)
    error = np.full(7, np.nan)
    halted_ev = -1
    for k in range(T):
        t = ts[k]
        # 1. matching
        sf = 0
        due = t == rest_due or not expire_by_ts
        lo = 0
        for s in range(S):
            hi = lo
            while hi < n_rest and resting[hi, 0] == s:
                hi += 1
            if present[k, s]:
                if mo_side[s] != 0.0:
                    sf = fill_market(
                        step_fills, sf, t, s, mo_side[s], mo_qty[s], REASON_EVENT + mo_reason[s],
                        opens[k, s], slippage, taker_fee,
                    )  # fmt: skip
                    mo_side[s] = 0.0
                if due and hi > lo:
                    if matching == 0:
                        sf = fill_trade_through(
                            step_fills, sf, t, resting, lo, hi, lows[k, s], highs[k, s],
                            volumes[k, s], ticks[s], lots[s], dec_lots[s], venue,
                        )  # fmt: skip
                    else:
                        for side in (1, -1):
                            has = False
                            for i in range(lo, hi):
                                has = has or resting[i, 1] == side
                            u = u_bid[k, s] if side > 0 else u_ask[k, s]
                            if has and not (0.0 <= u < 1.0):
                                error[0], error[1], error[2], error[3] = ERROR_DRAW, k, s, side
                                error[4] = u
                                return (rec, counts, bars, fills[:nf], rejs[:nr_total],
                                        evs[:ne], posted_n, posted_q, halted_ev, error)  # fmt: skip
                        sf = fill_intensity(
                            step_fills, sf, t, resting, lo, hi, opens[k, s], u_bid[k, s],
                            u_ask[k, s], mp, maker_fee,
                        )  # fmt: skip
            lo = hi
        n_rest = 0
        # 2. accounting
        for i in range(sf):
            settle(acct, wallet, int(step_fills[i, 1]), step_fills[i, 2], step_fills[i, 3],
                   step_fills[i, 4], step_fills[i, 5])  # fmt: skip
        for s in range(S):
            if present[k, s]:
                acct[MARK, s] = closes[k, s]
        pay_funding(acct, wallet, rates[k], present[k])
        eq = equity(acct, wallet)
        gross = gross_notional(acct)
        margin = ratio(gross * mmr, eq)
        liquidated = -1
        if not margin < 1.0:
            evs = ensure(evs, ne + 1)
            evs[ne, 0], evs[ne, 1], evs[ne, 2], evs[ne, 3] = k, EVENT_LIQUIDATION, margin, -1
            liquidated = ne
            ne += 1
            for s in range(S):
                q = acct[QTY, s]
                if q != 0:
                    m_s = acct[MARK, s]
                    side = -1.0 if q > 0 else 1.0
                    sf = put_fill(step_fills, sf, t, s, side, m_s, abs(q), m_s * abs(q) * taker_fee,
                                  TAKER, REASON_LIQUIDATION, -1.0)  # fmt: skip
            for i in range(sf):
                if step_fills[i, 7] == REASON_LIQUIDATION:
                    settle(acct, wallet, int(step_fills[i, 1]), step_fills[i, 2],
                           step_fills[i, 3], step_fills[i, 4], step_fills[i, 5])  # fmt: skip
        fills = ensure(fills, nf + sf)
        fills[nf : nf + sf] = step_fills[:sf]
        nf += sf
        if halted_ev >= 0 or liquidated >= 0:
            if halted_ev < 0:
                halted_ev = liquidated
            if liquidated >= 0:
                mo_side[:] = 0.0
            record(k, rec, counts, bars, acct, wallet, resting, 0, step_rej, 0, True)
            continue
        # 3. strategies and placement
        m = 0
        nr = 0
        for s in range(S):
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
                if n == 0:
                    continue
                m, nr, bad = place_side(
                    s, side, bid_p if side > 0 else ask_p, bid_q if side > 0 else ask_q, n,
                    close, ticks[s], lots[s], dec_ticks[s], dec_lots[s], post_only, orders, m,
                    step_rej, nr,
                )  # fmt: skip
                if bad >= 0:
                    error[0], error[1], error[2], error[3], error[4] = ERROR_QUOTE, k, s, side, bad
                    error[5] = bid_p[bad] if side > 0 else ask_p[bad]
                    error[6] = bid_q[bad] if side > 0 else ask_q[bad]
                    return (rec, counts, bars, fills[:nf], rejs[:nr_total], evs[:ne],
                            posted_n, posted_q, halted_ev, error)  # fmt: skip
        # 4. risk
        sent[:] = False
        m, nr, n_ev, halt, in_spare = risk_chain(
            rules, states, orders, m, spare, acct, eq, gross, mmr, initial_cash, lots, dec_lots,
            step_rej, nr, step_ev, 0, ne, mo_side, mo_qty, mo_reason, sent, work,
        )  # fmt: skip
        evs = ensure(evs, ne + n_ev)
        for j in range(n_ev):
            evs[ne, 0], evs[ne, 1], evs[ne, 2], evs[ne, 3] = (
                k,
                step_ev[j, 0],
                step_ev[j, 1],
                step_ev[j, 2],
            )
            ne += 1
        rejs = ensure(rejs, nr_total + nr)
        for i in range(nr):
            rejs[nr_total, 0] = k
            for c in range(6):
                rejs[nr_total, c + 1] = step_rej[i, c]
            nr_total += 1
        if halt >= 0:
            halted_ev = halt
            n_rest = 0
        else:
            if in_spare:
                resting, spare = spare, resting
            else:
                resting, orders = orders, resting
            n_rest = m
            rest_due = t + interval_us
            if k < T - 1:
                for i in range(n_rest):
                    s, side_i, level = (
                        int(resting[i, 0]),
                        0 if resting[i, 1] > 0 else 1,
                        int(resting[i, 4]),
                    )
                    posted_n[s, side_i, level] += 1
                    posted_q[s, side_i, level] += resting[i, 3]
        record(k, rec, counts, bars, acct, wallet, resting, n_rest, step_rej, nr, halted_ev >= 0)
    return (rec, counts, bars, fills[:nf], rejs[:nr_total], evs[:ne], posted_n, posted_q,
            halted_ev, error)  # fmt: skip
