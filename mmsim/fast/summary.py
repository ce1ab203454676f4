"""A run's summary straight from the kernel's tables: `summarize` without building the frames.

`mmsim.results.metrics.summarize` over the frames `mmsim.fast.run.kernel_frames` builds from a
kernel run gives this same table: every column, with the same definitions (see
`mmsim.results.metrics.DEFINITIONS`), floats equal to 1e-9 relative. One compiled pass over
the bars, a block at a time, rebuilds each symbol's account from the ledger (as
`mmsim.fast.run._books` does) into the block's buffers and reduces them while they are in
cache: per-symbol and account figures, each equity curve's returns and drawdowns, and the
fills (attribution, round trips, markouts); no (bars x symbols) table is built. Sums are
compensated (Neumaier) across blocks, and within a block too where terms of either sign may
cancel, so they agree with the frames' pairwise sums to rounding. A sweep point then costs
its kernel run and this pass, not (bars x columns) frames and their reductions.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import polars as pl

from mmsim.fast._jit import entry, kernel
from mmsim.fast.engine import (
    C_CLAMPED,
    C_ORDERS,
    L_ENTRY,
    L_FEES,
    L_FUNDING,
    L_QTY,
    L_REALIZED,
    L_STEP,
    L_SYMBOL,
    L_WALLET,
    R_ASK,
    R_BID,
)
from mmsim.fast.risk import EVENT_EARLY_STOP, EVENT_LIQUIDATION
from mmsim.results.metrics import markout_horizons

# per row (each symbol, then TOTAL): the running figures of the passes, by column
(
    A_REALIZED, A_UNREALIZED, A_FEES, A_FUNDING, A_POSITION,
    A_FILLS, A_MAKER, A_TAKER, A_BUYS, A_SELLS, A_ROUND_TRIPS,
    A_VOLUME, A_MAKER_VOLUME, A_CAPTURE, A_TAKER_EDGE, A_MAKER_FEES, A_REBATES, A_TAKER_FEES,
    A_INVENTORY,
    A_SPREAD, A_SPREAD_N, A_QUOTING, A_BOTH, A_ONE, A_NONE, A_CLAMPED, A_ORDERS, A_BARS,
    A_POSTED, A_REJECTED,
    A_ABS_POSITION, A_MAX_ABS_POSITION, A_LEVERAGE, A_LEVERAGE_N, A_MAX_LEVERAGE,
    A_MARGIN, A_MAX_MARGIN, A_EQUITY,
    A_MARKOUTS,
) = range(39)  # fmt: skip
# per curve (each symbol's initial cash + PnL, then the account's equity): returns, drawdowns
P_LAST, P_MEAN, P_STD, P_DOWNSIDE, P_DEPTH, P_SPELL = range(6)
N_PERF = 6
# per curve, between blocks: last value, peak, deepest drawdown, the value below which a bar
# may be deeper, bars below the peak (now, longest), sums of returns and of squared losses
(
    V_PREV, V_PEAK, V_DEEPEST, V_FLOOR, V_SPELL, V_LONGEST,
    V_TOTAL, V_TOTAL_LOW, V_DOWN, V_DOWN_LOW,
) = range(10)  # fmt: skip
N_STATE = 10
# per symbol, while the pass runs: the account's book (by row)
K_MARK, K_QTY, K_ENTRY, K_REALIZED, K_FEES, K_PAID, K_UNREAL = range(7)
N_BOOK = 7
# bars a pass holds at once in its buffers (per symbol and curve: a few of L1's 48 KiB)
BLOCK = 512


@kernel
def _plus(total, low, x):
    """(total + x, its low-order part carried): one step of a compensated (Neumaier) sum."""
    t = total + x
    if abs(total) >= abs(x):
        low += (total - t) + x
    else:
        low += (x - t) + total
    return t, low


@kernel
def _done(total, low):
    """A compensated sum's value (the plain total when it is not finite, as a plain sum is)."""
    return total + low if math.isfinite(total) else total


@kernel
def _ratio(numerator, equity):
    """As `mmsim.fast.run._ratio`: numerator / equity, inf without equity, 0 without numerator."""
    if numerator == 0.0:
        return 0.0
    if equity > 0.0:
        return numerator / equity
    return math.inf


@kernel
def _symbol_value(realized, unrealized, fees, paid, initial_cash):
    """A symbol's curve: the initial cash plus its PnL, summed as the frames sum it."""
    return realized + unrealized - fees + paid + initial_cash


@kernel
def _symbol_block(s, k0, n, rec, counts, ring, mask, pos, cv, last, acc, low):
    """Symbol s's per-bar figures over bars k0 .. k0 + n - 1 (held in the block's buffers):
    quoting, inventory, leverage and inventory PnL. Sums of terms that are never negative add
    up plainly within the block (at most n ulps off) and compensated across blocks."""
    S = pos.shape[0]
    spread = abs_pos = lev = 0.0
    spread_n = both = one = none = clamped = orders = lev_n = 0
    max_abs, max_lev = acc[s, A_MAX_ABS_POSITION], acc[s, A_MAX_LEVERAGE]
    inventory, inventory_low = acc[s, A_INVENTORY], low[s, A_INVENTORY]
    last_q, last_mark = last[s, 0], last[s, 1]
    for i in range(n):
        k = k0 + i
        bid, ask = rec[k, s, R_BID], rec[k, s, R_ASK]
        has_bid, has_ask = not math.isnan(bid), not math.isnan(ask)
        if has_bid and has_ask:
            spread += (ask - bid) / ((ask + bid) / 2) * 1e4
            spread_n += 1
            both += 1
        elif has_bid or has_ask:
            one += 1
        else:
            none += 1
        clamped += counts[k, s, C_CLAMPED]
        orders += counts[k, s, C_ORDERS]
        q, mark, equity = pos[s, i], ring[s, k & mask], cv[S, i]
        size = abs(q)
        abs_pos += size
        max_abs = max(max_abs, size)
        if equity > 0.0:
            leverage = size * mark / equity
            lev += leverage
            lev_n += 1
            max_lev = max(max_lev, leverage)
        if k > 0:
            move = last_q * (mark - last_mark)
            inventory, inventory_low = _plus(inventory, inventory_low, move)
        last_q, last_mark = q, mark
    acc[s, A_SPREAD], low[s, A_SPREAD] = _plus(acc[s, A_SPREAD], low[s, A_SPREAD], spread)
    acc[s, A_ABS_POSITION], low[s, A_ABS_POSITION] = _plus(
        acc[s, A_ABS_POSITION], low[s, A_ABS_POSITION], abs_pos
    )
    acc[s, A_LEVERAGE], low[s, A_LEVERAGE] = _plus(acc[s, A_LEVERAGE], low[s, A_LEVERAGE], lev)
    acc[s, A_INVENTORY], low[s, A_INVENTORY] = inventory, inventory_low
    acc[s, A_SPREAD_N] += spread_n
    acc[s, A_BOTH] += both
    acc[s, A_ONE] += one
    acc[s, A_NONE] += none
    acc[s, A_CLAMPED] += clamped
    acc[s, A_ORDERS] += orders
    acc[s, A_LEVERAGE_N] += lev_n
    acc[s, A_MAX_ABS_POSITION], acc[s, A_MAX_LEVERAGE] = max_abs, max_lev
    last[s, 0], last[s, 1] = last_q, last_mark


@kernel
def _account_block(n, cv, gross, account):
    """The account's per-bar figures over a block: leverage (never negative: plain within the
    block), the sum of equity (compensated) and the highest leverage."""
    S = cv.shape[0] - 1
    lev = 0.0
    total, total_low, max_lev = account[2], account[3], account[4]
    for i in range(n):
        leverage = _ratio(gross[i], cv[S, i])
        lev += leverage
        total, total_low = _plus(total, total_low, cv[S, i])
        max_lev = max(max_lev, leverage)
    account[0], account[1] = _plus(account[0], account[1], lev)
    account[2], account[3], account[4] = total, total_low, max_lev


@kernel
def _curve_block(r, n, cv, cs, rets, blocks, b):
    """Curve r over a block (its values in cv[r]): returns (the first against the initial
    cash), their compensated sum, the squared losses (plain within the block) and the
    drawdowns, as `mmsim.results.metrics.performance` computes them; then the block's
    deviations (`_deviations`)."""
    previous, peak, deepest, floor = cs[r, V_PREV], cs[r, V_PEAK], cs[r, V_DEEPEST], cs[r, V_FLOOR]
    spell, longest = cs[r, V_SPELL], cs[r, V_LONGEST]
    total, total_low = cs[r, V_TOTAL], cs[r, V_TOTAL_LOW]
    down = 0.0
    for i in range(n):
        value = cv[r, i]
        ret = value / previous - 1.0
        rets[r, i] = ret
        total, total_low = _plus(total, total_low, ret)
        loss = min(ret, 0.0)
        down += loss * loss
        previous = value
        if value > peak:
            peak = value
            floor = peak * (1.0 - deepest) * (1.0 + 1e-12)
        elif math.isnan(value) or math.isnan(peak):
            peak = math.nan  # as np.maximum.accumulate: NaN from here on
        if value < floor:  # below it (give or take rounding) a bar may be the deepest yet
            depth = 1.0 - value / peak
            if depth > deepest:
                deepest = depth
                floor = peak * (1.0 - deepest) * (1.0 + 1e-12)
        if value < peak:
            spell += 1.0
            longest = max(longest, spell)
        else:
            spell = 0.0
    cs[r, V_PREV], cs[r, V_PEAK], cs[r, V_DEEPEST], cs[r, V_FLOOR] = previous, peak, deepest, floor
    cs[r, V_SPELL], cs[r, V_LONGEST] = spell, longest
    cs[r, V_TOTAL], cs[r, V_TOTAL_LOW] = total, total_low
    cs[r, V_DOWN], cs[r, V_DOWN_LOW] = _plus(cs[r, V_DOWN], cs[r, V_DOWN_LOW], down)
    _deviations(rets, n, r, blocks, b)


@kernel
def _deviations(rets, n, r, blocks, b):
    """Block b of curve r's returns (the first n of rets[r]): a centre c (their plain mean),
    the sum of their deviations from c and the sum of the deviations squared. The squared
    deviations about the run's mean m then add up block by block without cancellation:
    sum((x - m)^2) = sum((x - c)^2) + 2 (c - m) sum(x - c) + n (c - m)^2."""
    a0 = a1 = a2 = a3 = 0.0  # four running sums: independent additions, in flight together
    i = 0
    while i + 4 <= n:
        a0 += rets[r, i]
        a1 += rets[r, i + 1]
        a2 += rets[r, i + 2]
        a3 += rets[r, i + 3]
        i += 4
    while i < n:
        a0 += rets[r, i]
        i += 1
    c = ((a0 + a1) + (a2 + a3)) / n
    d0 = d1 = d2 = d3 = q0 = q1 = q2 = q3 = 0.0
    i = 0
    while i + 4 <= n:
        g0, g1 = rets[r, i] - c, rets[r, i + 1] - c
        g2, g3 = rets[r, i + 2] - c, rets[r, i + 3] - c
        d0 += g0
        d1 += g1
        d2 += g2
        d3 += g3
        q0 += g0 * g0
        q1 += g1 * g1
        q2 += g2 * g2
        q3 += g3 * g3
        i += 4
    while i < n:
        g0 = rets[r, i] - c
        d0 += g0
        q0 += g0 * g0
        i += 1
    blocks[r, b, 0] = c
    blocks[r, b, 1] = (d0 + d1) + (d2 + d3)
    blocks[r, b, 2] = (q0 + q1) + (q2 + q3)


@kernel
def _fills_block(s, f0, f1, fills, fill_bar, ring, mask, T, horizons, position, acc, low):
    """Symbol s's fills among f0 .. f1 - 1, each booked against its bar's mark: counts,
    volume, attribution, round trips (fills that bring the position to flat or through it)
    and markouts (every mark they need is in the ring)."""
    H = horizons.shape[0]
    n = makers = buys = sells = trips = 0
    volume, volume_low = acc[s, A_VOLUME], low[s, A_VOLUME]
    maker_volume, maker_volume_low = acc[s, A_MAKER_VOLUME], low[s, A_MAKER_VOLUME]
    capture, capture_low = acc[s, A_CAPTURE], low[s, A_CAPTURE]
    taker_edge, taker_edge_low = acc[s, A_TAKER_EDGE], low[s, A_TAKER_EDGE]
    maker_fees, maker_fees_low = acc[s, A_MAKER_FEES], low[s, A_MAKER_FEES]
    rebates, rebates_low = acc[s, A_REBATES], low[s, A_REBATES]
    taker_fees, taker_fees_low = acc[s, A_TAKER_FEES], low[s, A_TAKER_FEES]
    held = position[s]
    for i in range(f0, f1):
        if fills[i, 1] != s:
            continue
        k = fill_bar[i]
        side, price, qty, fee = fills[i, 2], fills[i, 3], fills[i, 4], fills[i, 5]
        edge = side * (ring[s, k & mask] - price) * qty
        signed = side * qty
        held = held + signed
        before = held - signed
        tol = 1e-9 * qty
        if not abs(before) <= tol and (abs(held) <= tol or np.sign(before) != np.sign(held)):
            trips += 1
        n += 1
        if side > 0:
            buys += 1
        elif side < 0:
            sells += 1
        volume, volume_low = _plus(volume, volume_low, price * qty)
        if fills[i, 6] == 0.0:  # maker
            makers += 1
            maker_volume, maker_volume_low = _plus(maker_volume, maker_volume_low, price * qty)
            capture, capture_low = _plus(capture, capture_low, edge)
            if fee > 0:
                maker_fees, maker_fees_low = _plus(maker_fees, maker_fees_low, -fee)
            elif fee < 0:
                rebates, rebates_low = _plus(rebates, rebates_low, -fee)
            for j in range(H):
                ahead = k + horizons[j]
                if ahead < T:
                    move = side * (ring[s, ahead & mask] - price) / price * 1e4
                    c = A_MARKOUTS + 2 * j
                    acc[s, c], low[s, c] = _plus(acc[s, c], low[s, c], move)
                    acc[s, c + 1] += 1.0
        else:
            taker_edge, taker_edge_low = _plus(taker_edge, taker_edge_low, edge)
            taker_fees, taker_fees_low = _plus(taker_fees, taker_fees_low, -fee)
    acc[s, A_FILLS] += n
    acc[s, A_MAKER] += makers
    acc[s, A_BUYS] += buys
    acc[s, A_SELLS] += sells
    acc[s, A_ROUND_TRIPS] += trips
    acc[s, A_VOLUME], low[s, A_VOLUME] = volume, volume_low
    acc[s, A_MAKER_VOLUME], low[s, A_MAKER_VOLUME] = maker_volume, maker_volume_low
    acc[s, A_CAPTURE], low[s, A_CAPTURE] = capture, capture_low
    acc[s, A_TAKER_EDGE], low[s, A_TAKER_EDGE] = taker_edge, taker_edge_low
    acc[s, A_MAKER_FEES], low[s, A_MAKER_FEES] = maker_fees, maker_fees_low
    acc[s, A_REBATES], low[s, A_REBATES] = rebates, rebates_low
    acc[s, A_TAKER_FEES], low[s, A_TAKER_FEES] = taker_fees, taker_fees_low
    position[s] = held


@kernel
def _books_block(k0, n, ledger, li, present, closes, book, wallet, initial_cash, ring, mask,
                 pos, cv, gross, equity_kept):  # fmt: skip
    """Bars k0 .. k0 + n - 1 of the account carried from the ledger rows (from row li on) as
    `mmsim.fast.run._books` carries it (book: each symbol's mark, position, entry, realized,
    fees, funding and unrealized, by row), into the block's buffers: marks (the ring),
    positions, each curve (initial cash + the symbol's PnL; the account's equity last) and
    the gross notional. Returns (the next ledger row, the wallet)."""
    S = present.shape[1]
    mark, q, entry_price = book[K_MARK], book[K_QTY], book[K_ENTRY]
    realized, fees, paid, unreal = book[K_REALIZED], book[K_FEES], book[K_PAID], book[K_UNREAL]
    for i in range(n):
        k = k0 + i
        while li < ledger.shape[0] and ledger[li, L_STEP] == k:
            s = int(ledger[li, L_SYMBOL])
            q[s], entry_price[s] = ledger[li, L_QTY], ledger[li, L_ENTRY]
            realized[s], fees[s] = ledger[li, L_REALIZED], ledger[li, L_FEES]
            paid[s], wallet = ledger[li, L_FUNDING], ledger[li, L_WALLET]
            li += 1
        total_unreal = total_notional = 0.0
        for s in range(S):  # in symbol order, as the engine adds them up
            if present[k, s]:
                mark[s] = closes[k, s]
            ring[s, k & mask], pos[s, i] = mark[s], q[s]
            unreal[s] = q[s] * (mark[s] - entry_price[s]) if q[s] != 0.0 else 0.0
            total_unreal = total_unreal + unreal[s]
            total_notional = total_notional + abs(q[s]) * mark[s]
            cv[s, i] = _symbol_value(realized[s], unreal[s], fees[s], paid[s], initial_cash)
        cv[S, i] = wallet + total_unreal
        gross[i] = total_notional
        if equity_kept.shape[0]:
            equity_kept[k] = cv[S, i]
    return li, wallet


@kernel
def _at_rest(k0, halted_bar, ledger, li, fills, booked, book, wallet, initial_cash, cs):
    """From bar k0 on nothing moves: the run halted before it (no quotes from the halt on), the
    ledger is read to its end (no account change left), every position is flat, every fill is
    booked and each curve's last value is the value it keeps. Returns whether."""
    if halted_bar < 0 or k0 <= halted_bar or li < ledger.shape[0] or booked < fills.shape[0]:
        return False
    S = book.shape[1]
    for s in range(S):
        if book[K_QTY, s] != 0.0:
            return False
        value = _symbol_value(
            book[K_REALIZED, s], 0.0, book[K_FEES, s], book[K_PAID, s], initial_cash
        )
        if value != cs[s, V_PREV] or value == 0.0 or not math.isfinite(value):
            return False
    equity = wallet + 0.0  # each value nonzero and finite: a bar's return is then exactly 0
    return equity == cs[S, V_PREV] and equity != 0.0 and math.isfinite(equity)


@kernel
def _rest(k0, T, B, b, cs, blocks, acc, account, equity_kept):
    """Bars k0 .. T - 1 of a run at rest (`_at_rest`), blocks b on, at once: what the passes
    would add bar by bar. No quotes, no orders, no position (so no leverage and no inventory
    PnL); returns of exactly 0 (a value over itself), so the sums of returns, of squared losses
    and each block's deviations stay as they are; the drawdown spell goes on below the peak;
    the account's equity is added n times (one product: the exact sum, rounded once)."""
    n = T - k0
    S = cs.shape[0] - 1
    equity = cs[S, V_PREV]
    for s in range(S):
        acc[s, A_NONE] += n
        acc[s, A_MAX_ABS_POSITION] = max(acc[s, A_MAX_ABS_POSITION], 0.0)
        if equity > 0.0:
            acc[s, A_LEVERAGE_N] += n
            acc[s, A_MAX_LEVERAGE] = max(acc[s, A_MAX_LEVERAGE], 0.0)
    account[2], account[3] = _plus(account[2], account[3], n * equity)
    account[4] = max(account[4], 0.0)
    for r in range(S + 1):
        if cs[r, V_PREV] < cs[r, V_PEAK]:
            cs[r, V_SPELL] += n
            cs[r, V_LONGEST] = max(cs[r, V_LONGEST], cs[r, V_SPELL])
        else:
            cs[r, V_SPELL] = 0.0
        for j in range(b, blocks.shape[1]):
            blocks[r, j, 0] = blocks[r, j, 1] = blocks[r, j, 2] = 0.0
    for k in range(k0, equity_kept.shape[0]):
        equity_kept[k] = equity


@kernel
def _due_fills(fills, ts, booked, bar, through, fill_bar):
    """The fills from `booked` on at a bar no later than `through` (a fill's bar: the first
    at or after its time, else the last), each with its bar in fill_bar. Returns (the first
    fill not due, the bar known for it)."""
    T = ts.shape[0]
    while booked < fills.shape[0]:
        t = fills[booked, 0]
        while bar < T - 1 and ts[bar] < t:
            bar += 1
        if bar > through:
            break
        fill_bar[booked] = bar
        booked += 1
    return booked, bar


@kernel
def _totals(acc, low, T, book, posted_n, rejs, account, mmr):
    """Each symbol's running figures completed, and the TOTAL row: the symbols' counts and
    sums added up, the account's own figures and the rejections."""
    S = acc.shape[0] - 1
    for s in range(S):
        for c in range(acc.shape[1]):
            acc[s, c] = _done(acc[s, c], low[s, c])
        acc[s, A_TAKER] = acc[s, A_FILLS] - acc[s, A_MAKER]
        acc[s, A_QUOTING] = acc[s, A_BOTH] + acc[s, A_ONE]
        acc[s, A_BARS] = T
        acc[s, A_REALIZED], acc[s, A_UNREALIZED] = book[K_REALIZED, s], book[K_UNREAL, s]
        acc[s, A_FEES], acc[s, A_FUNDING] = book[K_FEES, s], book[K_PAID, s]
        acc[s, A_POSITION] = book[K_QTY, s]
        acc[s, A_POSTED] = posted_n[s].sum()
    for s in range(S):  # TOTAL: the symbols' counts and (compensated) sums added up
        for c in range(acc.shape[1]):
            if c in (A_MAX_ABS_POSITION, A_MAX_LEVERAGE, A_MAX_MARGIN):
                continue
            acc[S, c] += acc[s, c]
    total_fees = total_paid = 0.0
    for s in range(S):  # the account's totals, added up in symbol order as the engine does
        total_fees = total_fees + book[K_FEES, s]
        total_paid = total_paid + book[K_PAID, s]
    acc[S, A_FEES], acc[S, A_FUNDING] = total_fees, total_paid
    # the account's per-bar figures: leverage, margin ratio (maintenance rate x leverage, bar
    # by bar; 0 when either is), mean equity
    acc[S, A_LEVERAGE], acc[S, A_LEVERAGE_N] = _done(account[0], account[1]), T
    acc[S, A_MAX_LEVERAGE], acc[S, A_EQUITY] = account[4], _done(account[2], account[3])
    acc[S, A_MARGIN] = mmr * acc[S, A_LEVERAGE] if mmr else 0.0
    acc[S, A_MAX_MARGIN] = mmr * account[4] if mmr else 0.0
    for i in range(rejs.shape[0]):
        acc[int(rejs[i, 1]), A_REJECTED] += 1
        acc[S, A_REJECTED] += 1


@kernel
def _performance_rows(cs, blocks, B, T, perf):
    """Each curve's returns (mean, spread, downside) and drawdowns, from its running figures
    and its blocks' deviations (`_deviations`)."""
    for r in range(cs.shape[0]):
        mean = _done(cs[r, V_TOTAL], cs[r, V_TOTAL_LOW]) / T if T else math.nan
        spread = spread_low = 0.0
        for b in range(blocks.shape[1]):
            gap = blocks[r, b, 0] - mean
            term = blocks[r, b, 2] + 2.0 * gap * blocks[r, b, 1] + min(B, T - b * B) * gap * gap
            spread, spread_low = _plus(spread, spread_low, term)
        deviations = _done(spread, spread_low)
        if deviations < 0.0:  # rounding below an exact 0
            deviations = 0.0
        down = _done(cs[r, V_DOWN], cs[r, V_DOWN_LOW])
        perf[r, P_LAST] = cs[r, V_PREV]  # the last value (the initial cash without bars)
        perf[r, P_MEAN] = mean
        perf[r, P_STD] = math.sqrt(deviations / (T - 1)) if T > 1 else math.nan
        perf[r, P_DOWNSIDE] = math.sqrt(down / T) if T else math.nan
        perf[r, P_DEPTH] = cs[r, V_DEEPEST]
        perf[r, P_SPELL] = cs[r, V_LONGEST]


@entry
def summary_pass(
    ts, present, closes, first_marks, ledger, rec, counts, fills, rejs, posted_n,
    initial_cash, mmr, horizons, keep_equity, block, halted_bar,
):  # fmt: skip
    """The running figures of each symbol and the TOTAL (rows: symbols in order, then TOTAL;
    columns A_*), the returns and drawdowns of each curve (P_*), and the equity per bar when
    `keep_equity` (else an empty array); horizons >= 0 bars; halted_bar: the run's first
    halted bar (-1: none), after which the bars of a run at rest are added at once (`_rest`).

    One pass over the bars, a block of `block` bars at a time: the account is carried from
    the ledger into the block's buffers, which the per-symbol, account and curve passes then
    reduce while they are in cache; the fills are booked once the marks of their markouts
    are in (a ring of the latest marks)."""
    T, S = present.shape
    n_acc = A_MARKOUTS + 2 * horizons.shape[0]
    acc, low = np.zeros((S + 1, n_acc)), np.zeros((S + 1, n_acc))
    for s in range(S):
        acc[s, A_MAX_ABS_POSITION] = acc[s, A_MAX_LEVERAGE] = -math.inf
    B = max(1, block)
    furthest = horizons.max() if horizons.shape[0] else 0
    held = min(B + furthest, max(T, 1))  # bars of marks the unbooked fills may need
    ring_bars = 1  # a power of 2: a bar's place in the ring is k & (mask)
    while ring_bars < held:
        ring_bars *= 2
    mask = ring_bars - 1
    ring, pos = np.empty((S, ring_bars)), np.empty((S, B))
    cv, gross = np.empty((S + 1, B)), np.empty(B)  # each curve's values (equity last)
    rets = np.empty((S + 1, B))
    blocks = np.empty((S + 1, (T + B - 1) // B, 3))
    cs = np.zeros((S + 1, N_STATE))
    for r in range(S + 1):
        cs[r, V_PREV] = cs[r, V_PEAK] = cs[r, V_FLOOR] = initial_cash
    account = np.zeros(5)  # leverage and its low part, equity and its low part, top leverage
    account[4] = -math.inf
    last = np.zeros((S, 2))  # each symbol's position and mark on the bar before
    equity_kept = np.empty(T if keep_equity else 0)
    book = np.zeros((N_BOOK, S))
    book[K_MARK] = first_marks
    book[K_ENTRY] = np.nan
    wallet, li = initial_cash, 0
    fill_bar = np.empty(fills.shape[0], dtype=np.int64)
    position = np.zeros(S)
    booked = bar = 0  # fills booked; the bar of the next one (as far as it is known)
    for b in range(blocks.shape[1]):
        k0 = b * B
        n = min(B, T - k0)
        if _at_rest(k0, halted_bar, ledger, li, fills, booked, book, wallet, initial_cash, cs):
            _rest(k0, T, B, b, cs, blocks, acc, account, equity_kept)
            break
        li, wallet = _books_block(
            k0, n, ledger, li, present, closes, book, wallet, initial_cash, ring, mask, pos, cv,
            gross, equity_kept,
        )  # fmt: skip
        for s in range(S):
            _symbol_block(s, k0, n, rec, counts, ring, mask, pos, cv, last, acc, low)
        _account_block(n, cv, gross, account)
        for r in range(S + 1):
            _curve_block(r, n, cv, cs, rets, blocks, b)
        # the fills whose markouts are all in: at a bar no later than the furthest horizon
        # before this block's last bar (or, at the end, any)
        through = T - 1 if k0 + n == T else k0 + n - 1 - furthest
        first = booked
        booked, bar = _due_fills(fills, ts, booked, bar, through, fill_bar)
        for s in range(S if booked > first else 0):
            _fills_block(
                s,
                first,
                booked,
                fills,
                fill_bar,
                ring,
                mask,
                T,
                horizons,
                position,
                acc,
                low,
            )
    _totals(acc, low, T, book, posted_n, rejs, account, mmr)
    perf = np.empty((S + 1, N_PERF))
    _performance_rows(cs, blocks, B, T, perf)
    return acc, perf, equity_kept


# --- the table --------------------------------------------------------------------------------


def _int(x: float) -> int:
    return int(round(x))


def _performance(p: np.ndarray, initial_cash: float, n: int, interval_us: int) -> dict:
    from mmsim.results.metrics import DAY_US, annual_return, periods_per_year

    total = float(p[P_LAST]) / initial_cash - 1.0
    annual = annual_return(total, n, interval_us)
    depth, bars = float(p[P_DEPTH]), _int(p[P_SPELL])
    root = math.sqrt(periods_per_year(interval_us))
    std, downside = float(p[P_STD]), float(p[P_DOWNSIDE])
    usable = n >= 2
    return {
        "return": total,
        "annual_return": annual,
        "sharpe": float(p[P_MEAN] / std * root) if usable and std and math.isfinite(std) else None,
        "sortino": float(p[P_MEAN] / downside * root)
        if usable and downside and math.isfinite(downside)
        else None,
        "max_drawdown": depth,
        "max_drawdown_bars": bars,
        "max_drawdown_days": bars * interval_us / DAY_US,
        "calmar": (annual / depth) if (annual is not None and depth > 0) else None,
    }


def _row(a: np.ndarray, p: np.ndarray, total: bool, context: dict) -> dict:
    """One summary row from its running figures (a) and its curve's (p)."""
    initial_cash, interval_us, horizons = (
        context["initial_cash"], context["interval_us"], context["horizons"]
    )  # fmt: skip
    n = context["bars"]

    def mean(c: int, count: float) -> float | None:
        return float(a[c] / count) if count else None

    maker_fills, posted = _int(a[A_MAKER]), _int(a[A_POSTED])
    volume, maker_volume = float(a[A_VOLUME]), float(a[A_MAKER_VOLUME])
    orders = _int(a[A_ORDERS])
    row = {
        "pnl": context["pnl"],
        "realized": context["realized"],
        "unrealized": context["unrealized"],
        "fees": float(a[A_FEES]),
        "funding": float(a[A_FUNDING]),
        "fills": _int(a[A_FILLS]),
        "volume": volume,
        "final_position": None if total else float(a[A_POSITION]),
        **_performance(p, initial_cash, n, interval_us),
        **context["parts"],
        "maker_fills": maker_fills,
        "taker_fills": _int(a[A_TAKER]),
        "buys": _int(a[A_BUYS]),
        "sells": _int(a[A_SELLS]),
        "turnover": volume / context["mean_equity"],
        "orders_posted": posted,
        "fill_rate": maker_fills / posted if posted > 0 else None,
        "rejected": _int(a[A_REJECTED]),
        "round_trips": _int(a[A_ROUND_TRIPS]),
        "quoted_spread_bps": mean(A_SPREAD, a[A_SPREAD_N]),
        "captured_spread_bps": 2 * float(a[A_CAPTURE]) / maker_volume * 1e4
        if maker_volume > 0
        else None,
        "time_quoting": float(a[A_QUOTING] / a[A_BARS]),
        "quoting_both": float(a[A_BOTH] / a[A_BARS]),
        "quoting_one_side": float(a[A_ONE] / a[A_BARS]),
        "quoting_none": float(a[A_NONE] / a[A_BARS]),
        "clamped": _int(a[A_CLAMPED]),
        "clamped_share": _int(a[A_CLAMPED]) / orders if orders > 0 else None,
    }
    for j, h in enumerate(horizons):
        row[f"markout_{h}_bps"] = mean(A_MARKOUTS + 2 * j, a[A_MARKOUTS + 2 * j + 1])
    with_leverage = a[A_LEVERAGE_N] > 0
    row.update(
        mean_abs_position=None if total else float(a[A_ABS_POSITION] / n),
        max_abs_position=None if total else float(a[A_MAX_ABS_POSITION]),
        max_leverage=float(a[A_MAX_LEVERAGE]) if with_leverage else None,
        mean_leverage=mean(A_LEVERAGE, a[A_LEVERAGE_N]),
        max_margin_ratio=float(a[A_MAX_MARGIN]) if total else None,
        mean_margin_ratio=float(a[A_MARGIN] / n) if total else None,
        **context["events"],
    )
    return row


def _schema(horizons: Sequence[int]) -> dict:
    floats = pl.Float64
    names = {
        "symbol": pl.String,
        **dict.fromkeys(("pnl", "realized", "unrealized", "fees", "funding"), floats),
        "fills": pl.Int64,
        "volume": floats,
        "final_position": floats,
        "max_drawdown": floats,
        "sharpe": floats,
        **dict.fromkeys(("return", "annual_return", "sortino"), floats),
        "max_drawdown_bars": pl.Int64,
        **dict.fromkeys(("max_drawdown_days", "calmar"), floats),
        **dict.fromkeys(_PARTS, floats),
        **dict.fromkeys(("maker_fills", "taker_fills", "buys", "sells"), pl.Int64),
        "turnover": floats,
        "orders_posted": pl.Int64,
        "fill_rate": floats,
        **dict.fromkeys(("rejected", "round_trips"), pl.Int64),
        **dict.fromkeys(("quoted_spread_bps", "captured_spread_bps", "time_quoting"), floats),
        **dict.fromkeys(("quoting_both", "quoting_one_side", "quoting_none"), floats),
        "clamped": pl.Int64,
        "clamped_share": floats,
        **{f"markout_{h}_bps": floats for h in horizons},
        **dict.fromkeys(("mean_abs_position", "max_abs_position"), floats),
        **dict.fromkeys(("max_leverage", "mean_leverage"), floats),
        **dict.fromkeys(("max_margin_ratio", "mean_margin_ratio"), floats),
        **dict.fromkeys(("emergency_exits", "early_stops", "liquidations"), pl.Int64),
    }
    return names


# attribution's components as the summary names them (its funding is the ledger's `funding`)
_PARTS = (
    "spread_capture",
    "taker_execution",
    "inventory_pnl",
    "maker_fees",
    "rebates",
    "taker_fees",
)
_PART_COLUMNS = (A_CAPTURE, A_TAKER_EDGE, A_INVENTORY, A_MAKER_FEES, A_REBATES, A_TAKER_FEES)


def event_counts(codes: np.ndarray) -> dict:
    """Emergency exits, early stops and liquidations among the run's event codes."""
    liquidations = int((codes == EVENT_LIQUIDATION).sum())
    early_stops = int((codes == EVENT_EARLY_STOP).sum())
    return {
        "emergency_exits": len(codes) - liquidations - early_stops,
        "early_stops": early_stops,
        "liquidations": liquidations,
    }


def summary_table(
    acc: np.ndarray,
    perf: np.ndarray,
    symbols: Sequence[str],
    event_codes: np.ndarray,
    initial_cash: float,
    interval_us: int,
    bars: int,
    horizons: Sequence[int],
) -> pl.DataFrame:
    """The summary frame (as `summarize`) from `summary_pass`'s running figures."""
    S = len(symbols)
    horizons = tuple(int(h) for h in horizons)
    mean_equity = float(acc[S, A_EQUITY] / bars) if bars else math.nan
    parts = [{p: float(acc[s, c]) for p, c in zip(_PARTS, _PART_COLUMNS)} for s in range(S)]
    rows = []
    for s in range(S):
        r, u = float(acc[s, A_REALIZED]), float(acc[s, A_UNREALIZED])
        context = {
            "initial_cash": initial_cash, "interval_us": interval_us, "horizons": horizons,
            "bars": bars, "mean_equity": mean_equity, "parts": parts[s],
            "pnl": r + u - float(acc[s, A_FEES]) + float(acc[s, A_FUNDING]),
            "realized": r, "unrealized": u,
            "events": dict.fromkeys(("emergency_exits", "early_stops", "liquidations")),
        }  # fmt: skip
        rows.append({"symbol": symbols[s], **_row(acc[s], perf[s], False, context)})
    context = {
        "initial_cash": initial_cash, "interval_us": interval_us, "horizons": horizons,
        "bars": bars, "mean_equity": mean_equity,
        "parts": {p: math.fsum(part[p] for part in parts) for p in _PARTS},
        "pnl": float(perf[S, P_LAST]) - initial_cash if bars else 0.0,
        "realized": math.fsum(float(acc[s, A_REALIZED]) for s in range(S)),
        "unrealized": math.fsum(float(acc[s, A_UNREALIZED]) for s in range(S)),
        "events": event_counts(event_codes),
    }  # fmt: skip
    rows.append({"symbol": "TOTAL", **_row(acc[S], perf[S], True, context)})
    schema = _schema(horizons)
    return pl.DataFrame([[row[c] for c in schema] for row in rows], schema=schema, orient="row")


def fast_summary(out, inputs, symbols, plan, initial_cash: float, interval_us: int, *,
                 horizons: Sequence[int] = (1, 5, 15, 60), keep_equity: bool = False,
                 block: int = BLOCK):  # fmt: skip
    """(summary, halted text or None, equity per bar or None) of the output of
    `mmsim.fast.engine.run` called with `inputs`, without its frames; raises the run's error
    as `mmsim.fast.run.kernel_frames` does (block: see `summary_pass`)."""
    from mmsim.fast.run import VENUE_INPUT, _event_text, _raise

    rec, counts, ledger, fills, rejs, evs, posted_n, _, halted_ev, halted_bar, error = out
    ts, present, closes, first_marks = inputs[0], inputs[1], inputs[5], inputs[-1]
    venue = inputs[VENUE_INPUT]
    if not np.isnan(error[0]):
        _raise(error, symbols, ts, plan)
    horizons = markout_horizons(horizons)
    acc, perf, equity = summary_pass(
        ts, present, closes, first_marks, ledger, rec, counts, fills, rejs, posted_n,
        float(initial_cash), float(venue[5]), np.array(horizons, dtype=np.int64), keep_equity,
        int(block), int(halted_bar),
    )  # fmt: skip
    codes = evs[:, 1].astype(np.int64)
    summary = summary_table(
        acc, perf, symbols, codes, float(initial_cash), int(interval_us), len(ts), horizons
    )
    halting = (
        int(halted_ev)
        if halted_ev >= 0
        else next(
            (i for i, c in enumerate(codes) if c in (EVENT_EARLY_STOP, EVENT_LIQUIDATION)), -1
        )
    )
    halted = None
    if halting >= 0:
        _, code, value, rule = evs[halting]
        rule_row = None if rule < 0 else plan.risk[int(rule)]
        halted = _event_text(int(code), value, rule_row, float(initial_cash))
    return summary, halted, equity if keep_equity else None


def run_summary(out, inputs, symbols, plan, initial_cash: float, interval_us: int) -> pl.DataFrame:
    """The summary frame alone (`fast_summary`): what a fast run's `result.summary` reads."""
    return fast_summary(out, inputs, symbols, plan, initial_cash, interval_us)[0]


__all__ = ["fast_summary", "run_summary", "summary_pass", "summary_table"]
