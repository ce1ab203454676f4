"""Strategy kernels: the built-in strategies' quotes at one bar close, formula for formula.

Each writes a side's levels into (prices, qtys) rows and returns (n_bids, n_asks, reservation
price or NaN). `p` is the strategy's parameter row, `f` the bar's feature row (NaN = null),
`slots` the columns of `f` it reads. Squares are products (x * x), as in the reference. `memo`
is the symbol's row of terms that depend only on parameters (A-S's log(1 + gamma / kappa),
GLFT's two coefficients), kept with the kappa (and A) they were computed for: recomputed, by the
same expression, only when a fitted kappa changes them, not at every bar.
"""

from __future__ import annotations

import math

from mmsim.fast._jit import kernel

FIXED_SPREAD, AVELLANEDA_STOIKOV, GLFT, MEXICO, PAPER = 0, 1, 2, 3, 4


@kernel
def feature(f, slot):
    return math.nan if slot < 0 else f[slot]


@kernel
def log_term(memo, gamma, kappa):
    """log1p(gamma / kappa), computed once per kappa (memo[0]: its kappa, memo[1]: the term)."""
    if memo[0] != kappa:
        memo[0], memo[1] = kappa, math.log1p(gamma / kappa)
    return memo[1]


@kernel
def fixed_spread(p, close, position, bid_p, bid_q, ask_p, ask_q):
    h = p[0] / 1e4
    qty = p[1] / close
    bid_ok = ask_ok = True
    if not math.isnan(p[2]):
        exposure = position * close
        bid_ok = exposure + p[1] <= p[2]
        ask_ok = -exposure + p[1] <= p[2]
    if not (bid_ok or ask_ok):
        return 0, 0, math.nan
    nb = na = 0
    if bid_ok:
        bid_p[0], bid_q[0], nb = close * (1 - h), qty, 1
    if ask_ok:
        ask_p[0], ask_q[0], na = close * (1 + h), qty, 1
    return nb, na, close


@kernel
def side_reservation(side, q_model, g2s2, denominator, mid, gamma):
    """One side's infinite-horizon reservation price, NaN where it has none."""
    arg = 1.0 + (-side - 2.0 * q_model) * g2s2 / denominator if denominator > 0 else -1.0
    return mid + math.log(arg) / gamma if arg > 0 else math.nan


@kernel
def infinite_horizon(p, q, mid, sigma, kappa, memo):
    """The infinite-horizon quotes: (bid, ask, reservation, has bid, has ask)."""
    gamma, cap, discount = p[0], p[4], p[8]
    q_model = q if math.isnan(cap) else max(-cap, min(cap, q))
    g2, s2 = gamma * gamma, sigma * sigma
    if not math.isnan(discount):
        omega = discount
    else:
        bound = cap + 1.0
        omega = 0.5 * g2 * s2 * (bound * bound)
    g2s2 = g2 * s2
    # as the reference: no quotes while omega <= gamma^2 sigma^2 / 2 (q_max = 0)
    denominator = 2.0 * omega - g2s2 * (q_model * q_model) if omega > 0.5 * g2s2 else 0.0
    depth = log_term(memo, gamma, kappa) / gamma
    r_bid = side_reservation(1, q_model, g2s2, denominator, mid, gamma)
    r_ask = side_reservation(-1, q_model, g2s2, denominator, mid, gamma)
    has_bid, has_ask = not math.isnan(r_bid), not math.isnan(r_ask)
    r = (r_bid + r_ask) / 2 if has_bid and has_ask else math.nan
    return r_bid - depth, r_ask + depth, r, has_bid, has_ask


@kernel
def phase(clock, close_ts, h_us):
    """close_ts % h_us, from the last close's phase where that is a sum (`clock`: the last
    close and its phase, -1 at first): an integer division once a horizon, not every bar."""
    last = clock[0]
    if last >= 0 and close_ts >= last:
        ph = clock[1] + (close_ts - last)
        if ph < h_us:
            clock[0], clock[1] = close_ts, ph
            return ph
    ph = close_ts % h_us
    clock[0], clock[1] = close_ts, ph
    return ph


@kernel
def avellaneda_stoikov(
    p, f, slots, close, close_ts, interval_us, position, clock, memo, bid_p, bid_q, ask_p,
    ask_q,
):  # fmt: skip
    gamma, kappa, horizon_us, order_value = p[0], p[1], p[2], p[3]
    cap, bps, eta, min_spread = p[4], p[5] == 1.0, p[6], p[7]
    sigma_ret = feature(f, slots[0])
    if math.isnan(sigma_ret):
        return 0, 0, math.nan
    s = close
    q = position * s / order_value
    fitted = feature(f, slots[1])
    if slots[1] >= 0 and not math.isnan(fitted) and fitted > 0:
        kappa = fitted if bps else fitted * 1e4 / s
    if bps:
        sigma, mid, floor = sigma_ret * 1e4, 0.0, min_spread
    else:
        sigma, mid, floor = sigma_ret * s, s, min_spread * s / 1e4
    if horizon_us < 0:
        bid, ask, r, has_bid, has_ask = infinite_horizon(p, q, mid, sigma, kappa, memo)
    else:
        h_us = int(horizon_us)
        bars_left = (h_us - phase(clock, close_ts, h_us)) / interval_us
        s2 = sigma * sigma
        r = mid - q * gamma * s2 * bars_left
        spread = gamma * s2 * bars_left + (2.0 / gamma) * log_term(memo, gamma, kappa)
        half = spread / 2
        bid, ask, has_bid, has_ask = r - half, r + half, True, True
    if has_bid and has_ask and ask - bid < floor:
        centre, half = (bid + ask) / 2, floor / 2
        bid, ask = centre - half, centre + half
    has_r = has_bid and has_ask
    if bps:
        if has_r:
            r = s * (1 + r / 1e4)
        if has_bid:
            bid = s * (1 + bid / 1e4)
        if has_ask:
            ask = s * (1 + ask / 1e4)
    bid_value = ask_value = order_value
    if eta != 0.0:
        bid_value = order_value * math.exp(-eta * max(q, 0.0))
        ask_value = order_value * math.exp(-eta * max(-q, 0.0))
    nb = na = 0
    if has_bid and bid > 0 and (math.isnan(cap) or q + bid_value / order_value <= cap + 1e-9):
        bid_p[0], bid_q[0], nb = bid, bid_value / s, 1
    if has_ask and ask > 0 and (math.isnan(cap) or -q + ask_value / order_value <= cap + 1e-9):
        ask_p[0], ask_q[0], na = ask, ask_value / s, 1
    return nb, na, (r if has_r and r > 0 else math.nan)


@kernel
def glft(p, f, slots, close, position, memo, bid_p, bid_q, ask_p, ask_q):
    gamma, kappa, A, order_value, cap, min_spread = p[0], p[1], p[2], p[3], p[4], p[5]
    sigma_ret = feature(f, slots[0])
    if math.isnan(sigma_ret):
        return 0, 0, math.nan
    s = close
    q = position * s / order_value
    if slots[1] >= 0:
        fit_a, fit_k = f[slots[1]], f[slots[2]]
        if not (math.isnan(fit_a) or math.isnan(fit_k)) and fit_a > 0 and fit_k > 0:
            A, kappa = fit_a, fit_k
    if memo[0] != kappa or memo[1] != A:  # memo: kappa, A, c1, c2
        x = gamma / kappa
        log1p_x = math.log1p(x)
        memo[2] = log1p_x / gamma
        memo[3] = math.sqrt(gamma / (2.0 * A * kappa) * math.exp((1.0 / x + 1.0) * log1p_x))
        memo[0], memo[1] = kappa, A
    c1, c2 = memo[2], memo[3]
    sigma = sigma_ret * 1e4
    d_bid = c1 + sigma * c2 * (0.5 + q)
    d_ask = c1 + sigma * c2 * (0.5 - q)
    short = min_spread - (d_bid + d_ask)
    if short > 0:
        d_bid, d_ask = d_bid + short / 2, d_ask + short / 2
    bid = s * (1.0 - 1 * d_bid / 1e4)
    ask = s * (1.0 - -1 * d_ask / 1e4)
    qty = order_value / s
    nb = na = 0
    if bid > 0 and (math.isnan(cap) or q + 1 <= cap + 1e-9):
        bid_p[0], bid_q[0], nb = bid, qty, 1
    if ask > 0 and (math.isnan(cap) or -q + 1 <= cap + 1e-9):
        ask_p[0], ask_q[0], na = ask, qty, 1
    r = max(s * (1 + (d_ask - d_bid) / 2e4), 0.0)
    return nb, na, (r if r != 0.0 else math.nan)


@kernel
def level_value(base, sizing, size_ratio, room, cap, i):
    """Mexico's value of level i: constant, geometric or adaptive sizing."""
    if sizing == 1.0:
        return base * math.pow(size_ratio, float(i))
    if sizing == 2.0:
        return base * min(1.0, room / cap)
    return base


@kernel
def ladder(
    reference, spacing, impact, sigma_bps, volume_value, levels, base, sizing, size_ratio, cap,
    side, room, out_p, out_q,
):  # fmt: skip
    """`mmsim.strategies.ladder.ladder` over Mexico's distances (i+1)*spacing (+ impact)."""
    n = 0
    used = 0.0
    through = 0.0
    for i in range(levels):
        d = (i + 1) * spacing
        value = level_value(base, sizing, size_ratio, room, cap, i)
        if impact != 0.0 and volume_value > 0:
            through += value
            d += impact * sigma_bps * math.sqrt(through / volume_value)
        price = reference * (1.0 - side * d / 1e4)
        if price <= 0 or value <= 0:
            continue
        if used + value > room + 1e-9:
            break
        used += value
        out_p[n], out_q[n] = price, value / price
        n += 1
    return n


@kernel
def mexico(p, f, slots, skews, skew_slots, close, position, entry, bid_p, bid_q, ask_p, ask_q):
    for j in range(4):
        if slots[j] >= 0 and math.isnan(f[slots[j]]):
            return 0, 0, math.nan
    order_value, levels, sizing, size_ratio, aggressiveness = p[0], int(p[1]), p[2], p[3], p[4]
    cap = p[5]
    c = close
    position_value = position * c
    sigma = f[slots[0]] if slots[0] >= 0 else 0.0
    sigma_bps = sigma * 1e4
    s_mom = 0.0
    if slots[2] >= 0:
        s_mom = f[slots[2]] / (sigma * math.sqrt(p[16])) if sigma > 0 else 0.0
    skew = p[10] * (-position_value / cap)
    if p[11] != 0.0 and position != 0.0:
        unrealized = position * (c - entry)
        skew += p[11] * math.copysign(1.0, position) * unrealized / cap
    if slots[1] >= 0:
        skew += p[12] * (
            math.log(c / f[slots[1]]) / (sigma * math.sqrt(p[15])) if sigma > 0 else 0.0
        )
    skew += p[13] * s_mom
    for j in range(skew_slots.shape[0]):
        if not math.isnan(skews[j]):
            x = f[skew_slots[j]]
            skew += skews[j] * (0.0 if math.isnan(x) else x)
    r = c * (1.0 + skew / 1e4)
    spacing = max(p[9] / 2, p[6] + p[7] * sigma_bps + p[8] * abs(s_mom))
    volume_value = f[slots[3]] if slots[3] >= 0 else 0.0
    base = order_value * aggressiveness
    room = max(cap - position_value, 0.0)
    nb = ladder(
        r, spacing, p[14], sigma_bps, volume_value, levels, base, sizing, size_ratio, cap, 1,
        room, bid_p, bid_q,
    )  # fmt: skip
    room = max(cap + position_value, 0.0)
    na = ladder(
        r, spacing, p[14], sigma_bps, volume_value, levels, base, sizing, size_ratio, cap, -1,
        room, ask_p, ask_q,
    )  # fmt: skip
    return nb, na, (r if r > 0 else math.nan)


@kernel
def paper(p, close, close_ts, position, bid_p, bid_q, ask_p, ask_q):
    """`mmsim.research.paper`'s strategies (Avellaneda-Stoikov 2008): r -/+ spread / 2 around
    the reservation price (center 1) or the close (center 0), sigma and T fixed."""
    gamma, sigma, kappa, center, spread = p[0], p[1], p[2], p[3], p[4]
    horizon_us, time_unit_us, order_qty = int(p[5]), int(p[6]), p[7]
    tau = (horizon_us - close_ts % horizon_us) / time_unit_us
    s2 = sigma * sigma
    if math.isnan(spread):
        spread = gamma * s2 * tau + (2.0 / gamma) * math.log1p(gamma / kappa)
    r = close
    if center == 1.0:
        r = close - position / order_qty * gamma * s2 * tau
    half = spread / 2.0
    bid, ask = r - half, r + half
    nb = na = 0
    if bid > 0:
        bid_p[0], bid_q[0], nb = bid, order_qty, 1
    if ask > 0:
        ask_p[0], ask_q[0], na = ask, order_qty, 1
    return nb, na, (r if r > 0 else math.nan)
