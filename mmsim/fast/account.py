"""Account kernels: `mmsim.core.account` on a float table, one column per symbol.

The account is `acct[field, symbol]` with the fields below and the wallet in `wallet[0]`.
"""

from __future__ import annotations

import math

from mmsim.fast._jit import kernel

QTY, ENTRY, MARK, REALIZED, FEES, FUNDING, TRADED = 0, 1, 2, 3, 4, 5, 6
N_FIELDS = 7


@kernel
def trade(q, entry, signed_qty, price):
    """`mmsim.core.account.trade`: (new qty, new entry price, realized PnL)."""
    new_q = q + signed_qty
    if abs(new_q) < 1e-12 * max(abs(q), abs(signed_qty)):
        new_q = 0.0
    if q == 0.0:
        return new_q, price, 0.0
    if (q > 0) == (signed_qty > 0):
        return new_q, (q * entry + signed_qty * price) / new_q, 0.0
    closed = min(abs(signed_qty), abs(q))
    realized = closed * (price - entry) * (1.0 if q > 0 else -1.0)
    if new_q == 0.0:
        return 0.0, 0.0, realized
    if (new_q > 0) == (q > 0):
        return new_q, entry, realized
    return new_q, price, realized


@kernel
def settle(acct, wallet, s, side, price, qty, fee):
    """`mmsim.core.account.settle`: book one fill."""
    q, e, realized = trade(acct[QTY, s], acct[ENTRY, s], side * qty, price)
    acct[QTY, s], acct[ENTRY, s] = q, e
    wallet[0] = wallet[0] + realized - fee
    acct[REALIZED, s] = acct[REALIZED, s] + realized
    acct[FEES, s] = acct[FEES, s] + fee
    acct[TRADED, s] = acct[TRADED, s] + price * qty


@kernel
def unrealized(acct, s):
    q = acct[QTY, s]
    return q * (acct[MARK, s] - acct[ENTRY, s]) if q else 0.0


@kernel
def equity_gross(acct, wallet):
    """(equity: wallet + the sum of unrealized PnL, gross notional: the sum of |qty| * mark),
    each summed in symbol order as the reference does."""
    total = gross = 0.0
    for s in range(acct.shape[1]):
        total += unrealized(acct, s)
        gross += abs(acct[QTY, s]) * acct[MARK, s]
    return wallet[0] + total, gross


@kernel
def ratio(numerator, equity_):
    """`mmsim.core.account._ratio`: 0 without exposure, inf when equity <= 0."""
    if numerator == 0.0:
        return 0.0
    return numerator / equity_ if equity_ > 0 else math.inf


@kernel
def pay_funding(acct, wallet, rates, present_row):
    """`mmsim.core.account.pay_funding`: -position * mark * rate into the wallet. Returns
    whether any money moved."""
    n = acct.shape[1]
    any_rate = False
    for s in range(n):
        if present_row[s] and rates[s] != 0.0:
            any_rate = True
    if not any_rate:
        return False
    any_flow = False
    total = 0.0
    for s in range(n):
        f = rates[s] if present_row[s] else 0.0
        flow = -acct[QTY, s] * acct[MARK, s] * f
        total += flow
        if flow != 0.0:
            any_flow = True
    if not any_flow:
        return False
    wallet[0] = wallet[0] + total
    for s in range(n):
        f = rates[s] if present_row[s] else 0.0
        acct[FUNDING, s] = acct[FUNDING, s] + -acct[QTY, s] * acct[MARK, s] * f
    return True
