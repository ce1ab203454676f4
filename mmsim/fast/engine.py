"""The fold kernel: `mmsim.core.engine`'s step over (bars x symbols) numpy columns.

Per bar, as in the reference: 1. matching (market orders at the open, then the orders resting
since the last close, only in the bar right after it), 2. accounting (fills, marks, funding,
liquidation), 3. each symbol's strategy and placement, 4. the risk chain. Everything the
reference's recorder keeps is written into columns; frames are built after the run.
"""

from __future__ import annotations

import math

import numpy as np

from mmsim.fast._jit import entry, grow, kernel, stage
from mmsim.fast.account import (
    ENTRY,
    FEES,
    FUNDING,
    MARK,
    N_FIELDS,
    QTY,
    REALIZED,
    equity_gross,
    pay_funding,
    ratio,
    settle,
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
    PAPER,
    avellaneda_stoikov,
    fixed_spread,
    glft,
    mexico,
    paper,
)

# per symbol-bar records: the quotes resting after the close (best bid and ask, their sizes) and
# the strategy's reservation price; counts of the orders resting and of those clamped. Every
# other column of the frames is derived after the run from the ledger and the closes.
R_BID, R_ASK, R_BID_QTY, R_ASK_QTY, R_RESERVATION = range(5)
N_REC = 5
C_ORDERS, C_CLAMPED = range(2)
# the ledger: a row per symbol and bar whose account changed (a fill, funding, a liquidation),
# its state after the bar's accounting
L_STEP, L_SYMBOL, L_QTY, L_ENTRY, L_REALIZED, L_FEES, L_FUNDING, L_WALLET = range(8)
N_LEDGER = 8
# venue row: maker_fee, taker_fee, penetration_ticks, max_participation (NaN: none),
# market_slippage_bps, maintenance_margin_rate, post-only mode (see mmsim.fast.placement)
ERROR_QUOTE, ERROR_DRAW = 1, 2


@grow
def ensure(buf, need):
    """A copy of `buf` with room for `need` rows (doubling)."""
    out = np.empty((max(need, 2 * buf.shape[0]), buf.shape[1]))
    out[: buf.shape[0]] = buf
    return out


@kernel
def quote(
    kind, p, f, slots, skews, skew_slots, close, close_ts, interval_us, position, entry, clock,
    memo, bid_p, bid_q, ask_p, ask_q,
):  # fmt: skip
    if kind == FIXED_SPREAD:
        return fixed_spread(p, close, position, bid_p, bid_q, ask_p, ask_q)
    if kind == AVELLANEDA_STOIKOV:
        return avellaneda_stoikov(
            p, f, slots, close, close_ts, interval_us, position, clock, memo, bid_p, bid_q,
            ask_p, ask_q,
        )  # fmt: skip
    if kind == GLFT:
        return glft(p, f, slots, close, position, memo, bid_p, bid_q, ask_p, ask_q)
    if kind == PAPER:
        return paper(p, close, close_ts, position, bid_p, bid_q, ask_p, ask_q)
    return mexico(
        p, f, slots, skews, skew_slots, close, position, entry, bid_p, bid_q, ask_p, ask_q
    )


@kernel
def record(k, rec, counts, resting, n_rest, quoted):
    """The quotes resting after bar k's close (`quoted`: the strategies ran at this close): each
    symbol's best bid and ask (the first at the best price) and order counts, gathered in
    registers over its rows (grouped by symbol, in symbol order) and written once."""
    i = 0
    for s in range(rec.shape[1]):
        bid = ask = bid_qty = ask_qty = math.nan
        orders = clamped = 0
        while i < n_rest and resting[i, 0] == s:
            orders += 1
            if resting[i, 5] != 0.0:
                clamped += 1
            price = resting[i, 2]
            if resting[i, 1] > 0:
                if math.isnan(bid) or price > bid:
                    bid, bid_qty = price, resting[i, 3]
            elif math.isnan(ask) or price < ask:
                ask, ask_qty = price, resting[i, 3]
            i += 1
        rec[k, s, R_BID], rec[k, s, R_ASK] = bid, ask
        rec[k, s, R_BID_QTY], rec[k, s, R_ASK_QTY] = bid_qty, ask_qty
        if not quoted:
            rec[k, s, R_RESERVATION] = math.nan
        counts[k, s, C_ORDERS], counts[k, s, C_CLAMPED] = orders, clamped


@kernel
def write_ledger(k, acct, wallet, changed, ledger, n):
    """A ledger row for each symbol whose account bar k changed; returns the row count."""
    for s in range(acct.shape[1]):
        if changed[s]:
            changed[s] = False
            q = acct[QTY, s]
            ledger[n, L_STEP], ledger[n, L_SYMBOL], ledger[n, L_QTY] = k, s, q
            ledger[n, L_ENTRY] = acct[ENTRY, s] if q else math.nan
            ledger[n, L_REALIZED], ledger[n, L_FEES] = acct[REALIZED, s], acct[FEES, s]
            ledger[n, L_FUNDING], ledger[n, L_WALLET] = acct[FUNDING, s], wallet[0]
            n += 1
    return n


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
    ticks, inv_ticks, lots, dec_lots, venue, matching, mp, interval_us, step_fills, sf, error,
):  # fmt: skip
    """1. matching: each symbol's market order at its open, then its resting orders (when they
    are due in this bar), fills written from row sf of `step_fills`. Returns the row after the
    last fill, or -1 after a bad draw (in `error`)."""
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
                    ticks[s], inv_ticks[s], lots[s], dec_lots[s], venue,
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
def account_step(
    k, t, f0, sf, step_fills, acct, wallet, present, closes, rates, funding, venue, changed
):
    """2. accounting: book the fills (rows f0..sf), mark to the closes, pay funding (`funding`:
    some rate of the run is not 0), liquidate at a margin ratio of 1 (`changed` flags the
    symbols whose account moved). Returns (row after the last fill, equity, gross notional,
    margin ratio (0 below 1/2: read only after a liquidation), liquidated, an account moved)."""
    moved = sf > f0
    for i in range(f0, sf):
        s = int(step_fills[i, 1])
        settle(acct, wallet, s, step_fills[i, 2], step_fills[i, 3], step_fills[i, 4],
               step_fills[i, 5])  # fmt: skip
        changed[s] = True
    for s in range(acct.shape[1]):
        if present[k, s]:
            acct[MARK, s] = closes[k, s]
    if funding and pay_funding(acct, wallet, rates[k], present[k]):
        moved = True
        for s in range(acct.shape[1]):
            changed[s] = True
    eq, gross = equity_gross(acct, wallet)
    required = gross * venue[5]
    if required < 0.5 * eq:  # a margin ratio under 1/2 (the division only near 1)
        return sf, eq, gross, 0.0, False, moved
    margin = ratio(required, eq)
    if margin < 1.0:
        return sf, eq, gross, margin, False, moved
    first = sf
    for s in range(acct.shape[1]):
        q = acct[QTY, s]
        if q != 0:
            m_s = acct[MARK, s]
            side = -1.0 if q > 0 else 1.0
            sf = put_fill(step_fills, sf, t, s, side, m_s, abs(q), m_s * abs(q) * venue[1],
                          TAKER, REASON_LIQUIDATION, -1.0)  # fmt: skip
    for i in range(first, sf):
        s = int(step_fills[i, 1])
        settle(acct, wallet, s, step_fills[i, 2], step_fills[i, 3], step_fills[i, 4],
               step_fills[i, 5])  # fmt: skip
        changed[s] = True
    return sf, eq, gross, margin, True, True


@kernel
def quote_step(
    k, t, present, closes, feats, kinds, params, slots, skews, skew_slots, acct, ticks,
    lots, inv_ticks, inv_lots, dec_ticks, dec_lots, post_only, interval_us, clocks, memos,
    orders, step_rej, quotes, rec, error,
):  # fmt: skip
    """3. strategies and placement for every symbol with a bar. Returns (orders, rejections),
    or m = -1 after an invalid proposal (in `error`)."""
    m = nr = 0
    bid_p, bid_q, ask_p, ask_q = quotes[0], quotes[1], quotes[2], quotes[3]
    for s in range(present.shape[1]):
        if not present[k, s]:
            rec[k, s, R_RESERVATION] = math.nan
            continue
        close = closes[k, s]
        nb, na, r = quote(
            kinds[s], params[s], feats[k, s], slots[s], skews[s], skew_slots, close,
            t + interval_us, interval_us, acct[QTY, s], acct[ENTRY, s], clocks[s],
            memos[s], bid_p, bid_q, ask_p, ask_q,
        )  # fmt: skip
        rec[k, s, R_RESERVATION] = r
        for side in (1, -1):
            n = nb if side > 0 else na
            prices, qtys = (bid_p, bid_q) if side > 0 else (ask_p, ask_q)
            if n == 0:
                continue
            m, nr, bad = place_side(
                s, side, prices, qtys, n, closes, k, ticks[s], lots[s], inv_ticks[s],
                inv_lots[s], dec_ticks[s], dec_lots[s], post_only, orders, m, step_rej, nr,
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
    """`rows[:count]` written to `buf` (with room) after row n, each prefixed with the step k."""
    for i in range(count):
        buf[n + i, 0] = k
        for c in range(rows.shape[1]):
            buf[n + i, c + 1] = rows[i, c]
    return n + count


@kernel
def at_rest(acct, market):
    """No symbol holds a position or has a market order pending: once a run has halted, its
    later bars change nothing but the marks (no quotes, no fills, no funding on no position)."""
    held = 0.0
    for s in range(acct.shape[1]):
        held += abs(acct[QTY, s]) + abs(market[0, s])
    return held == 0.0


@kernel
def after_halt(k, ctl, acct, market, rec, counts, resting):
    """Bar k of a run that has halted (ctl[2] >= 0): the first halted bar noted (ctl[3]); with
    the account at rest, bars k + 1 on recorded at once as a halted bar records them (nothing
    resting, no quotes). Returns whether they were (the run is over)."""
    if ctl[2] < 0:
        return False
    if ctl[3] < 0:
        ctl[3] = k
    if not at_rest(acct, market):
        return False
    for j in range(k + 1, rec.shape[0]):
        record(j, rec, counts, resting, 0, False)
    return True


@kernel
def lacks_room(sizes, step_fills, step_rej, step_ev, fills, rejs, evs, ledger, S):
    """Whether a table lacks room for one more bar's rows."""
    return (
        sizes[0] + step_fills.shape[0] > fills.shape[0]
        or sizes[1] + step_rej.shape[0] > rejs.shape[0]
        or sizes[2] + step_ev.shape[0] > evs.shape[0]
        or sizes[3] + S > ledger.shape[0]
    )


@kernel
def stamp_sent(market, sent, t):
    """The market orders the risk chain sent, stamped with this close (a late fill tells the
    bars it waited); `sent` all False again for the next bar's chain."""
    for s in range(sent.shape[0]):
        if sent[s]:
            market[3, s] = t
            sent[s] = False


@stage
def fold(
    k0, ts, present, opens, highs, lows, closes, volumes, rates, funding, feats, u_bid, u_ask,
    ticks, lots, inv_ticks, inv_lots, dec_ticks, dec_lots, kinds, params, slots, skews,
    skew_slots, venue, rules, matching, mp, initial_cash, interval_us, rec, counts, ledger,
    posted_n, posted_q, acct, wallet, changed, books, market, sent, states, clocks, memos,
    step_fills, step_rej, step_ev, work, quotes, error, ctl, fills, rejs, evs, sizes,
):  # fmt: skip
    """The bars from k0 on, the whole loop in one function (a call per bar would pass every
    table on the stack): per bar matching, accounting, strategies and placement, risk, records.
    Stops at the end (returns T; a halted run at rest writes its remaining records at once,
    `after_halt`), after an error (returns -1, the error in `error`) or when a
    table of fills, rejections, events or ledger rows lacks room for one more bar (returns the
    bar to resume at). ctl = (orders resting, when they are due, halting event or -1, first
    halted bar or -1, then which of the three `books` holds the resting orders, which the
    placed ones and which the risk rules' spare); sizes = (fills, rejections, events, ledger
    rows) written so far. Fills are written straight into `fills` (`step_fills` is its room)."""
    T, S = present.shape
    i_rest, i_orders, i_spare = ctl[4], ctl[5], ctl[6]
    resting, orders, spare = books[i_rest], books[i_orders], books[i_spare]
    for k in range(k0, T):
        if lacks_room(sizes, step_fills, step_rej, step_ev, fills, rejs, evs, ledger, S):
            ctl[4], ctl[5], ctl[6] = i_rest, i_orders, i_spare
            return k
        ne = sizes[2]
        nf = sizes[0]
        t = ts[k]
        sf = match_step(
            k, t, t == ctl[1], resting, ctl[0], market, present, opens, lows, highs, volumes,
            u_bid, u_ask, ticks, inv_ticks, lots, dec_lots, venue, matching, mp, interval_us,
            fills, nf, error,
        )  # fmt: skip
        if sf < 0:
            return -1
        ctl[0] = 0
        sf, eq, gross, margin, liquidated, moved = account_step(
            k, t, nf, sf, fills, acct, wallet, present, closes, rates, funding, venue, changed
        )
        if moved:
            sizes[3] = write_ledger(k, acct, wallet, changed, ledger, sizes[3])
        n_ev = nr = 0
        if liquidated:
            step_ev[0, 0], step_ev[0, 1], step_ev[0, 2] = EVENT_LIQUIDATION, margin, -1
            n_ev = 1
            for s in range(S):
                market[0, s] = 0.0  # the liquidation closed every position
            if ctl[2] < 0:
                ctl[2] = ne
        if ctl[2] >= 0:
            record(k, rec, counts, resting, 0, False)
        else:
            m, nr = quote_step(
                k, t, present, closes, feats, kinds, params, slots, skews, skew_slots,
                acct, ticks, lots, inv_ticks, inv_lots, dec_ticks, dec_lots, venue[6],
                interval_us, clocks, memos, orders, step_rej, quotes, rec, error,
            )  # fmt: skip
            if m < 0:
                return -1
            m, nr, n_ev, halt, in_spare, any_sent = risk_chain(
                rules, states, orders, m, spare, acct, eq, gross, venue[5], initial_cash, lots,
                dec_lots, step_rej, nr, step_ev, 0, ne, market, sent, work,
            )  # fmt: skip
            if any_sent:
                stamp_sent(market, sent, t)
            if halt >= 0:
                ctl[2] = halt
            else:
                # the kept orders rest: their book becomes the resting one (no copy)
                if in_spare:
                    i_rest, i_spare = i_spare, i_rest
                    resting, spare = spare, resting
                else:
                    i_rest, i_orders = i_orders, i_rest
                    resting, orders = orders, resting
                ctl[0] = m
                ctl[1] = t + interval_us
                # counted as posted when they meet a bar: the next one is in time
                if k < T - 1 and ts[k + 1] - t == interval_us:
                    count_posted(resting, m, posted_n, posted_q)
            record(k, rec, counts, resting, ctl[0], True)
        sizes[0] = sf
        sizes[1] = append_rows(rejs, sizes[1], k, step_rej, nr)
        sizes[2] = append_rows(evs, ne, k, step_ev, n_ev)
        if after_halt(k, ctl, acct, market, rec, counts, resting):
            break
    ctl[4], ctl[5], ctl[6] = i_rest, i_orders, i_spare
    return T


@grow
def new_tables(T, S, levels, n_rules):
    """The run's output tables, empty: per symbol-bar records and counts, fills, rejections,
    events and ledger rows."""
    M = S * 2 * levels
    rec = np.empty((T, S, N_REC))
    counts = np.empty((T, S, 2), dtype=np.int32)
    # room for a fill every symbol-bar before the table doubles (a copy, the old table and the
    # new held at once), and for every ledger row a run can write (one per symbol-bar): a page
    # is only touched when a row is written on it, so the room costs addresses, not memory
    fills = np.empty((max(16, T * S, 2 * (M + 2 * S)), 10))
    rejs = np.empty((max(16, T // 16, 2 * M), 7))
    evs = np.empty((2 * (n_rules + 1) + 16, 4))
    ledger = np.empty((max(4 * S, T * S), N_LEDGER))
    return rec, counts, fills, rejs, evs, ledger


@grow
def drive(
    ts, present, opens, highs, lows, closes, volumes, rates, feats, u_bid, u_ask,
    ticks, lots, dec_ticks, dec_lots, kinds, params, slots, skews, skew_slots,
    venue, rules, matching, mp, initial_cash, interval_us, levels, first_marks, tables,
):  # fmt: skip
    """The whole backtest into `tables` (`new_tables`'s, any contents: each run writes before
    it reads). Returns the run's outputs (see `run`) and the tables, grown where they had to."""
    rec, counts, fills, rejs, evs, ledger = tables
    T, S = present.shape
    M = S * 2 * levels
    inv_ticks, inv_lots = 1.0 / ticks, 1.0 / lots  # estimates of grid counts (placement)
    posted_n = np.zeros((S, 2, levels), dtype=np.int64)
    posted_q = np.zeros((S, 2, levels))
    acct = np.zeros((N_FIELDS, S))
    acct[MARK, :] = first_marks
    wallet = np.array([initial_cash])
    changed = np.zeros(S, dtype=np.bool_)
    books = np.empty((3, M, N_ORDER))  # resting, placed and spare orders (ctl[4:7])
    market = np.zeros((4, S))  # side (0: none), qty, reason event, placed at (ts)
    sent = np.zeros(S, dtype=np.bool_)
    states = np.full(rules.shape[0], -np.inf)
    clocks = np.full((S, 2), -1, dtype=np.int64)  # a close (ts) and its phase in the horizon
    memos = np.full((S, 4), np.nan)  # the strategies' parameter terms (NaN: none yet)
    funding = bool(np.any(rates != 0.0))
    step_fills = np.empty((M + 2 * S, 10))
    step_rej = np.empty((M, 6))
    step_ev = np.empty((rules.shape[0] + 1, 3))
    work = np.empty((S, 5))
    quotes = np.empty((4, levels))
    error = np.full(7, np.nan)
    ctl = np.array([0, -1, -1, -1, 0, 1, 2], dtype=np.int64)
    sizes = np.zeros(4, dtype=np.int64)
    # an int64 from the start: typed as the literal 0, `fold` would be compiled twice
    k = sizes[0]
    while 0 <= k < T:
        k = fold(
            k, ts, present, opens, highs, lows, closes, volumes, rates, funding, feats, u_bid,
            u_ask, ticks, lots, inv_ticks, inv_lots, dec_ticks, dec_lots, kinds, params, slots,
            skews, skew_slots, venue, rules, matching, mp, initial_cash, interval_us, rec,
            counts, ledger, posted_n, posted_q, acct, wallet, changed, books, market, sent,
            states, clocks, memos, step_fills, step_rej, step_ev, work, quotes, error, ctl, fills,
            rejs, evs, sizes,
        )  # fmt: skip
        if 0 <= k < T:  # a table is full: double it
            if sizes[0] + step_fills.shape[0] > fills.shape[0]:
                fills = ensure(fills, sizes[0] + step_fills.shape[0])
            if sizes[1] + step_rej.shape[0] > rejs.shape[0]:
                rejs = ensure(rejs, sizes[1] + step_rej.shape[0])
            if sizes[2] + step_ev.shape[0] > evs.shape[0]:
                evs = ensure(evs, sizes[2] + step_ev.shape[0])
            if sizes[3] + S > ledger.shape[0]:
                ledger = ensure(ledger, sizes[3] + S)
    nf, nr, ne, nl = sizes[0], sizes[1], sizes[2], sizes[3]
    return (rec, counts, ledger[:nl], fills[:nf], rejs[:nr], evs[:ne], posted_n, posted_q,
            ctl[2], ctl[3], error), (rec, counts, fills, rejs, evs, ledger)  # fmt: skip


@entry
def run(
    ts, present, opens, highs, lows, closes, volumes, rates, feats, u_bid, u_ask,
    ticks, lots, dec_ticks, dec_lots, kinds, params, slots, skews, skew_slots,
    venue, rules, matching, mp, initial_cash, interval_us, levels, first_marks,
):  # fmt: skip
    """The whole backtest. Returns (per symbol-bar quote records (T, S, N_REC), per symbol-bar
    counts (T, S, 2: orders, clamped), ledger rows, fills, rejections, events, posted counts,
    posted quantities, halting event or -1, first halted bar or -1, error row)."""
    T, S = present.shape
    out, _ = drive(
        ts, present, opens, highs, lows, closes, volumes, rates, feats, u_bid, u_ask,
        ticks, lots, dec_ticks, dec_lots, kinds, params, slots, skews, skew_slots,
        venue, rules, matching, mp, initial_cash, interval_us, levels, first_marks,
        new_tables(T, S, levels, rules.shape[0]),
    )  # fmt: skip
    return out


@entry
def run_into(
    tables, ts, present, opens, highs, lows, closes, volumes, rates, feats, u_bid, u_ask,
    ticks, lots, dec_ticks, dec_lots, kinds, params, slots, skews, skew_slots,
    venue, rules, matching, mp, initial_cash, interval_us, levels, first_marks,
):  # fmt: skip
    """`run` writing into `tables` (from `new_tables` or an earlier `run_into` of the same bars,
    symbols and levels), so many runs of one worker reuse pages the system already gave it
    instead of faulting in fresh ones for each. Returns (run's outputs, the tables to reuse);
    the outputs are views of those tables, valid until the next run into them."""
    return drive(
        ts, present, opens, highs, lows, closes, volumes, rates, feats, u_bid, u_ask,
        ticks, lots, dec_ticks, dec_lots, kinds, params, slots, skews, skew_slots,
        venue, rules, matching, mp, initial_cash, interval_us, levels, first_marks, tables,
    )  # fmt: skip
