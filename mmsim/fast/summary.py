"""A run's summary straight from the kernel's tables: `summarize` without building the frames.

`mmsim.results.metrics.summarize` over the frames `mmsim.fast.run.kernel_frames` builds from a
kernel run gives this same table: every column, with the same definitions (see
`mmsim.results.metrics.DEFINITIONS`), floats equal to 1e-9 relative. Here one compiled pass over
the bars rebuilds each symbol's account from the ledger (as `mmsim.fast.run._books` does) and
reduces it as it goes, a second pass over the fills books their trading figures, attribution
and markouts, and a third over the equity curves gives returns and drawdowns; sums are
compensated (Neumaier), so they agree with the frames' pairwise sums to rounding. A sweep point
then costs its kernel run and these passes, not (bars x columns) frames and their reductions.
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

# per row (each symbol, then TOTAL): the running figures of the passes, by column
(
    A_REALIZED, A_UNREALIZED, A_FEES, A_FUNDING, A_POSITION,
    A_FILLS, A_MAKER, A_TAKER, A_BUYS, A_SELLS, A_ROUND_TRIPS,
    A_VOLUME, A_MAKER_VOLUME, A_CAPTURE, A_TAKER_EDGE, A_MAKER_FEES, A_REBATES, A_TAKER_FEES,
    A_INVENTORY, A_FUNDING_PAID,
    A_SPREAD, A_SPREAD_N, A_QUOTING, A_BOTH, A_ONE, A_NONE, A_CLAMPED, A_ORDERS, A_BARS,
    A_POSTED, A_REJECTED,
    A_ABS_POSITION, A_MAX_ABS_POSITION, A_LEVERAGE, A_LEVERAGE_N, A_MAX_LEVERAGE,
    A_MARGIN, A_MAX_MARGIN, A_EQUITY,
    A_MARKOUTS,
) = range(40)  # fmt: skip
# per curve (each symbol's initial cash + PnL, then the account's equity): returns, drawdowns
P_LAST, P_MEAN, P_STD, P_DOWNSIDE, P_DEPTH, P_SPELL = range(6)
N_PERF = 6


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


@entry
def _books(ts, present, closes, first_marks, ledger, initial_cash, marks, positions, funding,
           curves, gross):  # fmt: skip
    """Every symbol's mark, position and funding after each bar, its curve (initial cash +
    PnL) and the account's equity (curves' last row) and gross notional: the account carried
    from the ledger rows as `mmsim.fast.run._books` carries it."""
    T, S = present.shape
    mark = first_marks.copy()
    q = np.zeros(S)
    entry_price = np.full(S, np.nan)
    realized, fees, paid, unreal = np.zeros(S), np.zeros(S), np.zeros(S), np.zeros(S)
    wallet = initial_cash
    li, nl = 0, ledger.shape[0]
    for k in range(T):
        while li < nl and ledger[li, L_STEP] == k:
            s = int(ledger[li, L_SYMBOL])
            q[s], entry_price[s] = ledger[li, L_QTY], ledger[li, L_ENTRY]
            realized[s], fees[s] = ledger[li, L_REALIZED], ledger[li, L_FEES]
            paid[s], wallet = ledger[li, L_FUNDING], ledger[li, L_WALLET]
            li += 1
        total_unreal = total_notional = 0.0
        for s in range(S):  # in symbol order, as the engine adds them up
            if present[k, s]:
                mark[s] = closes[k, s]
            marks[k, s], positions[k, s], funding[k, s] = mark[s], q[s], paid[s]
            unreal[s] = q[s] * (mark[s] - entry_price[s]) if q[s] != 0.0 else 0.0
            total_unreal = total_unreal + unreal[s]
            total_notional = total_notional + abs(q[s]) * mark[s]
            curves[s, k] = realized[s] + unreal[s] - fees[s] + paid[s] + initial_cash
        curves[S, k] = wallet + total_unreal
        gross[k] = total_notional
    return realized, unreal, fees, paid


@entry
def _symbol_bars(s, marks, positions, funding, equity, rec, counts, acc):
    """Symbol s's per-bar figures: quoting, inventory, leverage, inventory PnL and funding."""
    T = marks.shape[0]
    spread = spread_low = abs_pos = abs_low = lev = lev_low = 0.0
    inventory = inventory_low = paid = paid_low = 0.0
    spread_n = both = one = none = clamped = orders = lev_n = 0
    max_abs = max_lev = -math.inf
    for k in range(T):
        bid, ask = rec[k, s, R_BID], rec[k, s, R_ASK]
        has_bid, has_ask = not math.isnan(bid), not math.isnan(ask)
        if has_bid and has_ask:
            spread, spread_low = _plus(spread, spread_low, (ask - bid) / ((ask + bid) / 2) * 1e4)
            spread_n += 1
            both += 1
        elif has_bid or has_ask:
            one += 1
        else:
            none += 1
        clamped += counts[k, s, C_CLAMPED]
        orders += counts[k, s, C_ORDERS]
        q, mark = positions[k, s], marks[k, s]
        abs_pos, abs_low = _plus(abs_pos, abs_low, abs(q))
        max_abs = max(max_abs, abs(q))
        if equity[k] > 0.0:
            leverage = abs(q) * mark / equity[k]
            lev, lev_low = _plus(lev, lev_low, leverage)
            lev_n += 1
            max_lev = max(max_lev, leverage)
        if k > 0:
            move = positions[k - 1, s] * (mark - marks[k - 1, s])
            inventory, inventory_low = _plus(inventory, inventory_low, move)
            paid, paid_low = _plus(paid, paid_low, funding[k, s] - funding[k - 1, s])
        else:
            paid, paid_low = _plus(paid, paid_low, funding[k, s])
    quoting = both + one
    acc[s, A_SPREAD], acc[s, A_SPREAD_N] = _done(spread, spread_low), spread_n
    acc[s, A_QUOTING], acc[s, A_BOTH], acc[s, A_ONE], acc[s, A_NONE] = quoting, both, one, none
    acc[s, A_CLAMPED], acc[s, A_ORDERS], acc[s, A_BARS] = clamped, orders, T
    acc[s, A_ABS_POSITION], acc[s, A_MAX_ABS_POSITION] = _done(abs_pos, abs_low), max_abs
    acc[s, A_LEVERAGE], acc[s, A_LEVERAGE_N] = _done(lev, lev_low), lev_n
    acc[s, A_MAX_LEVERAGE] = max_lev
    acc[s, A_INVENTORY], acc[s, A_FUNDING_PAID] = (
        _done(inventory, inventory_low),
        _done(paid, paid_low),
    )


@entry
def _account_bars(equity, gross, mmr, acc, S):
    """The account's per-bar figures (the TOTAL row): leverage, margin ratio, mean equity."""
    lev = lev_low = total = total_low = 0.0
    max_lev = -math.inf
    for k in range(equity.shape[0]):
        leverage = _ratio(gross[k], equity[k])
        lev, lev_low = _plus(lev, lev_low, leverage)
        total, total_low = _plus(total, total_low, equity[k])
        max_lev = max(max_lev, leverage)
    acc[S, A_LEVERAGE], acc[S, A_LEVERAGE_N] = _done(lev, lev_low), equity.shape[0]
    acc[S, A_MAX_LEVERAGE], acc[S, A_EQUITY] = max_lev, _done(total, total_low)
    # margin ratio = maintenance rate x leverage, bar by bar (0 when either is)
    acc[S, A_MARGIN] = mmr * acc[S, A_LEVERAGE] if mmr else 0.0
    acc[S, A_MAX_MARGIN] = mmr * max_lev if mmr else 0.0


@entry
def _symbol_fills(s, ts, fills, marks, horizons, acc):
    """Symbol s's fills, each booked against its bar's mark: counts, volume, attribution,
    round trips (fills that bring the position to flat or through it) and markouts."""
    T = marks.shape[0]
    H = horizons.shape[0]
    marked, marked_low, marked_n = np.zeros(H), np.zeros(H), np.zeros(H)
    n = makers = buys = sells = trips = 0
    volume = volume_low = maker_volume = maker_volume_low = capture = capture_low = 0.0
    taker_edge = taker_edge_low = maker_fees = maker_fees_low = rebates = rebates_low = 0.0
    taker_fees = taker_fees_low = position = 0.0
    k = 0
    for i in range(fills.shape[0]):
        if fills[i, 1] != s:
            continue
        t = fills[i, 0]
        while k < T - 1 and ts[k] < t:
            k += 1
        side, price, qty, fee = fills[i, 2], fills[i, 3], fills[i, 4], fills[i, 5]
        edge = side * (marks[k, s] - price) * qty
        signed = side * qty
        position = position + signed
        before = position - signed
        tol = 1e-9 * qty
        if not abs(before) <= tol and (
            abs(position) <= tol or np.sign(before) != np.sign(position)
        ):
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
                    move = side * (marks[ahead, s] - price) / price * 1e4
                    marked[j], marked_low[j] = _plus(marked[j], marked_low[j], move)
                    marked_n[j] += 1
        else:
            taker_edge, taker_edge_low = _plus(taker_edge, taker_edge_low, edge)
            taker_fees, taker_fees_low = _plus(taker_fees, taker_fees_low, -fee)
    acc[s, A_FILLS], acc[s, A_MAKER], acc[s, A_TAKER] = n, makers, n - makers
    acc[s, A_BUYS], acc[s, A_SELLS], acc[s, A_ROUND_TRIPS] = buys, sells, trips
    acc[s, A_VOLUME] = _done(volume, volume_low)
    acc[s, A_MAKER_VOLUME] = _done(maker_volume, maker_volume_low)
    acc[s, A_CAPTURE] = _done(capture, capture_low)
    acc[s, A_TAKER_EDGE] = _done(taker_edge, taker_edge_low)
    acc[s, A_MAKER_FEES] = _done(maker_fees, maker_fees_low)
    acc[s, A_REBATES] = _done(rebates, rebates_low)
    acc[s, A_TAKER_FEES] = _done(taker_fees, taker_fees_low)
    for j in range(H):
        acc[s, A_MARKOUTS + 2 * j] = _done(marked[j], marked_low[j])
        acc[s, A_MARKOUTS + 2 * j + 1] = marked_n[j]


@entry
def _curve(curve, initial_cash, perf, r, returns):
    """Returns (the first against the initial cash) and drawdowns of one curve, as
    `mmsim.results.metrics.performance` computes them (`returns`: room for them)."""
    T = curve.shape[0]
    total = total_low = down = down_low = 0.0
    previous = peak = initial_cash
    deepest = 0.0  # the initial cash is its own peak
    floor = peak  # below it (give or take rounding) a bar may be the deepest yet
    spell = longest = 0
    for k in range(T):
        value = curve[k]
        ret = value / previous - 1.0
        returns[k] = ret
        total, total_low = _plus(total, total_low, ret)
        loss = min(ret, 0.0)
        down, down_low = _plus(down, down_low, loss * loss)
        previous = value
        if value > peak:
            peak = value
            floor = peak * (1.0 - deepest) * (1.0 + 1e-12)
        elif math.isnan(value) or math.isnan(peak):
            peak = math.nan  # as np.maximum.accumulate: NaN from here on
        if value < floor:
            depth = 1.0 - value / peak
            if depth > deepest:
                deepest = depth
                floor = peak * (1.0 - deepest) * (1.0 + 1e-12)
        if value < peak:
            spell += 1
            longest = max(longest, spell)
        else:
            spell = 0
    mean = _done(total, total_low) / T if T else math.nan
    spread = spread_low = 0.0
    for k in range(T):
        gap = returns[k] - mean
        spread, spread_low = _plus(spread, spread_low, gap * gap)
    perf[r, P_LAST] = curve[T - 1] if T else initial_cash
    perf[r, P_MEAN] = mean
    perf[r, P_STD] = math.sqrt(_done(spread, spread_low) / (T - 1)) if T > 1 else math.nan
    perf[r, P_DOWNSIDE] = math.sqrt(_done(down, down_low) / T) if T else math.nan
    perf[r, P_DEPTH] = deepest
    perf[r, P_SPELL] = longest


@entry
def summary_pass(
    ts, present, closes, first_marks, ledger, rec, counts, fills, rejs, posted_n,
    initial_cash, mmr, horizons, keep_equity,
):  # fmt: skip
    """The running figures of each symbol and the TOTAL (rows: symbols in order, then TOTAL;
    columns A_*), the returns and drawdowns of each curve (P_*), and the equity per bar when
    `keep_equity` (else an empty array)."""
    T, S = present.shape
    n_acc = A_MARKOUTS + 2 * horizons.shape[0]
    acc = np.zeros((S + 1, n_acc))
    marks, positions, funding = np.empty((T, S)), np.empty((T, S)), np.empty((T, S))
    curves, gross = np.empty((S + 1, T)), np.empty(T)
    realized, unreal, fees, paid = _books(
        ts, present, closes, first_marks, ledger, initial_cash, marks, positions, funding,
        curves, gross,
    )  # fmt: skip
    equity = curves[S]
    for s in range(S):
        _symbol_bars(s, marks, positions, funding, equity, rec, counts, acc)
        _symbol_fills(s, ts, fills, marks, horizons, acc)
        acc[s, A_REALIZED], acc[s, A_UNREALIZED] = realized[s], unreal[s]
        acc[s, A_FEES], acc[s, A_FUNDING] = fees[s], paid[s]
        acc[s, A_POSITION] = positions[T - 1, s] if T else 0.0
        acc[s, A_POSTED] = posted_n[s].sum()
    for s in range(S):  # TOTAL: the symbols' counts and (compensated) sums added up
        for c in range(n_acc):
            if c in (A_MAX_ABS_POSITION, A_MAX_LEVERAGE, A_MAX_MARGIN):
                continue
            acc[S, c] += acc[s, c]
    total_fees = total_paid = 0.0
    for s in range(S):  # the account's totals, added up in symbol order as the engine does
        total_fees = total_fees + fees[s]
        total_paid = total_paid + paid[s]
    acc[S, A_FEES], acc[S, A_FUNDING] = total_fees, total_paid
    _account_bars(equity, gross, mmr, acc, S)
    for i in range(rejs.shape[0]):
        acc[int(rejs[i, 1]), A_REJECTED] += 1
        acc[S, A_REJECTED] += 1
    perf = np.empty((S + 1, N_PERF))
    returns = np.empty(T)
    for r in range(S + 1):
        _curve(curves[r], initial_cash, perf, r, returns)
    return acc, perf, equity.copy() if keep_equity else np.empty(0)


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
                 horizons: Sequence[int] = (1, 5, 15, 60), keep_equity: bool = False):  # fmt: skip
    """(summary, halted text or None, equity per bar or None) of the output of
    `mmsim.fast.engine.run` called with `inputs`, without its frames; raises the run's error
    as `mmsim.fast.run.kernel_frames` does."""
    from mmsim.fast.run import _event_text, _raise

    rec, counts, ledger, fills, rejs, evs, posted_n, _, halted_ev, _, error = out
    ts, present, closes, first_marks = inputs[0], inputs[1], inputs[5], inputs[-1]
    venue = inputs[21]
    if not np.isnan(error[0]):
        _raise(error, symbols, ts, plan)
    acc, perf, equity = summary_pass(
        ts, present, closes, first_marks, ledger, rec, counts, fills, rejs, posted_n,
        float(initial_cash), float(venue[5]), np.array(horizons, dtype=np.int64), keep_equity,
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


__all__ = ["fast_summary", "summary_pass", "summary_table"]
