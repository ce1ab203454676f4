"""The fast path's columns: bars as the kernel's numpy inputs, its tables as the reference's frames.

Imported only when a fast run starts (it imports numba through the kernels).
"""

from __future__ import annotations

import numpy as np
import polars as pl

from mmsim.core.venue import _decimals, _post_only_mode
from mmsim.fast.engine import (
    C_CLAMPED,
    C_ORDERS,
    ERROR_DRAW,
    L_ENTRY,
    L_FEES,
    L_FUNDING,
    L_QTY,
    L_REALIZED,
    L_STEP,
    L_SYMBOL,
    L_WALLET,
    R_ASK,
    R_ASK_QTY,
    R_BID,
    R_BID_QTY,
    R_RESERVATION,
)
from mmsim.fast.placement import POST_ONLY_MODES, REJECT_EVENT
from mmsim.fast.plan import FastPlan
from mmsim.fast.risk import (
    EVENT_DRAWDOWN,
    EVENT_EARLY_STOP,
    EVENT_LEVERAGE,
    EVENT_LIQUIDATION,
    EVENT_MARGIN,
)

_REJECT_REASONS = ("tick_size", "lot_size", "post_only", "leverage", "min_order_value")
VENUE_INPUT = 20  # the venue row's place among `kernel_inputs`'s arguments


def grid_digits(step: float) -> int:
    """The decimals a price or quantity on the grid of `step` is rounded to, as the venue's
    `round_price` / `round_qty` do (-1: not rounded)."""
    from mmsim.core import venue

    if not hasattr(venue, "on_grid"):
        return _decimals(step) + 1
    digits = _decimals(step)
    return -1 if digits is None else digits


def _event_text(code: int, value: float, rule: np.ndarray | None, initial_cash: float) -> str:
    if code == EVENT_LIQUIDATION:
        return f"liquidation: margin ratio {value:.3g} >= 1"
    if code == EVENT_LEVERAGE:
        return f"emergency_exit: leverage {value:.3g} > {rule[1]:g}"
    if code == EVENT_MARGIN:
        return f"emergency_exit: margin ratio {value:.3g} > {rule[2]:g}"
    if code == EVENT_DRAWDOWN:
        return f"emergency_exit: drawdown {value:.3g} > {rule[3]:g}"
    if code == EVENT_EARLY_STOP:
        return f"early_stop: equity {value:.2f} < {rule[1]:g} x initial {initial_cash:.2f}"
    raise AssertionError(f"unknown event code {code}")


def columns(frame: pl.DataFrame, symbols: tuple[str, ...]):
    """(ts per step, row step index, row symbol index) of a validated (ts, symbol)-sorted frame
    (no indices for one symbol: its row k is step k)."""
    # writable: a frame's column comes read-only, a type the kernels would compile again for
    ts_rows = frame["ts"].dt.epoch("us").to_numpy(writable=True)
    if len(symbols) == 1:  # one symbol (its timestamps increase): a step per row
        return ts_rows, None, None
    new = np.empty(len(ts_rows), dtype=np.bool_)  # sorted by ts: a step starts where ts changes
    new[0] = True
    np.not_equal(ts_rows[1:], ts_rows[:-1], out=new[1:])
    step = np.cumsum(new) - 1
    sym = frame["symbol"].cast(pl.Enum(list(symbols))).to_physical().to_numpy().astype(np.int64)
    return ts_rows[new], step, sym


def _grid(values: np.ndarray, step, sym, shape, fill=np.nan) -> np.ndarray:
    if (
        step is None or values.shape[0] == shape[0] * shape[1]
    ):  # every symbol at every step, in (ts, symbol) order
        # a copy: a frame's columns come read-only, a type the kernels are not compiled for
        return np.array(values, dtype=np.float64).reshape(shape)
    out = np.full(shape, fill, dtype=np.float64)
    out[step, sym] = values
    return out


def _float(frame: pl.DataFrame, name: str) -> np.ndarray:
    column = frame[name].cast(pl.Float64)
    return (column.fill_null(np.nan) if column.null_count() else column).to_numpy()


def kernel_inputs(
    frame: pl.DataFrame,
    symbols: tuple[str, ...],
    plan: FastPlan,
    venue,
    specs,
    initial_cash: float,
    interval_us: int,
    first_close: dict,
) -> tuple:
    """The arguments of `mmsim.fast.engine.run` for a validated frame with features."""
    ts, step, sym = columns(frame, symbols)
    T, S = len(ts), len(symbols)
    full = step is None or len(step) == T * S  # every symbol at every step, (ts, symbol) order
    if full:
        present = np.ones((T, S), dtype=np.bool_)
    else:
        present = np.zeros((T, S), dtype=np.bool_)
        present[step, sym] = True
    grid = {
        c: _grid(_float(frame, c), step, sym, (T, S))
        for c in ("open", "high", "low", "close", "volume")
    }
    rates = (
        _grid(np.nan_to_num(_float(frame, "funding_rate"), nan=0.0), step, sym, (T, S), 0.0)
        if "funding_rate" in frame.columns
        else np.zeros((T, S))
    )
    feats = np.full((T, S, max(len(plan.features), 1)), np.nan)
    for j, name in enumerate(plan.features):
        if full:
            feats[:, :, j] = _float(frame, name).reshape(T, S)
        else:
            feats[step, sym, j] = _float(frame, name)
    if plan.draws:
        u_bid = _grid(_float(frame, plan.draws[0]), step, sym, (T, S))
        u_ask = _grid(_float(frame, plan.draws[1]), step, sym, (T, S))
    else:
        u_bid = u_ask = np.zeros((1, 1))
    ticks = np.array([specs[s].tick_size for s in symbols])
    lots = np.array([specs[s].lot_size for s in symbols])
    dec_ticks = np.array([grid_digits(x) for x in ticks], dtype=np.int64)
    dec_lots = np.array([grid_digits(x) for x in lots], dtype=np.int64)
    venue_row = np.array(
        [
            venue.maker_fee,
            venue.taker_fee,
            float(venue.penetration_ticks),
            np.nan if venue.max_participation is None else venue.max_participation,
            venue.market_slippage_bps,
            venue.maintenance_margin_rate,
            float(POST_ONLY_MODES[_post_only_mode(venue.post_only)]),
        ]
    )
    return (
        ts, present, grid["open"], grid["high"], grid["low"], grid["close"], grid["volume"],
        rates, feats, u_bid, u_ask, ticks, lots, dec_ticks, dec_lots, plan.kinds, plan.params,
        plan.slots, plan.skews, plan.skew_slots, venue_row, plan.risk, plan.matching,
        plan.matching_params, float(initial_cash), int(interval_us), int(plan.levels),
        np.array([float(first_close[s]) for s in symbols]),
    )  # fmt: skip


def symbol_inputs(inputs: tuple, s: int) -> tuple:
    """The arguments of `mmsim.fast.engine.run` for symbol s alone (its own account), from
    those of a run of every symbol on one grid of timestamps."""
    S = inputs[1].shape[1]

    def column(x):  # a contiguous (T, 1, ...) copy: the kernels are compiled for C arrays
        return np.ascontiguousarray(x[:, s : s + 1]) if x.shape[1] == S else x

    def row(x):
        return np.ascontiguousarray(x[s : s + 1])

    return (
        inputs[0], *(column(x) for x in inputs[1:11]), *(row(x) for x in inputs[11:19]),
        *inputs[19:-1], row(inputs[-1]),
    )  # fmt: skip


def read_after_run(inputs: tuple) -> tuple:
    """`inputs` with only what the frames and the summary read after the run (the times,
    presence, closes, venue row and first marks); None for the bars' other columns, so that
    a result holding it does not keep them."""
    kept = {0, 1, 5, VENUE_INPUT, len(inputs) - 1}
    return tuple(x if i in kept else None for i, x in enumerate(inputs))


def kernel_frames(out, inputs, symbols, plan: FastPlan, venue, initial_cash: float):
    """The reference's frames (equity, symbols, fills, rejections, events, posted, ts values
    (µs, numpy), halted text or None) from the output of `mmsim.fast.engine.run` called with
    `inputs` (the marks and the times are read there); raises the run's error if any."""
    check_run(out, inputs, symbols, plan)
    fills, rejections, events, posted, halted = trade_frames(
        out, inputs, symbols, plan, initial_cash
    )
    return (
        equity_frame(out, inputs, initial_cash, venue.maintenance_margin_rate),
        symbol_frame(out, inputs, symbols, initial_cash),
        fills, rejections, events, posted, inputs[0], halted,
    )  # fmt: skip


def check_run(out, inputs, symbols, plan: FastPlan) -> None:
    """Raise the error the kernel stopped the run with, if any."""
    error = out[-1]
    if not np.isnan(error[0]):
        _raise(error, symbols, inputs[0], plan)


def books_of(out, inputs, symbols, plan: FastPlan, initial_cash: float) -> dict:
    """Every symbol's account columns at every bar (T, S) and the per-bar totals, from the
    output of `mmsim.fast.engine.run` called with `inputs`; raises the run's error if any."""
    check_run(out, inputs, symbols, plan)
    return _books_after(out, inputs, initial_cash)


def _books_after(out, inputs, initial_cash: float) -> dict:
    present, closes, first_marks = inputs[1], inputs[5], inputs[-1]
    return _books(out[2], marks(closes, present, first_marks), initial_cash)


class InvalidQuote(ValueError):
    """A strategy kernel proposed an unusable quote; the caller replays the run on the reference
    engine, whose error names the strategy, symbol, bar and value exactly."""


def _raise(error: np.ndarray, symbols, ts, plan: FastPlan):
    k, s, side = int(error[1]), int(error[2]), int(error[3])
    if error[0] == ERROR_DRAW:
        column = plan.draws[0] if side > 0 else plan.draws[1]
        u = None if np.isnan(error[4]) else float(error[4])
        raise ValueError(
            f"column {column!r} must hold uniform draws in [0, 1); got {u!r} for symbol "
            f"{symbols[s]!r} at ts {int(ts[k])} (µs since the epoch)"
        )
    level, price, qty = int(error[4]), float(error[5]), float(error[6])
    raise InvalidQuote(
        f"strategy for {symbols[s]} proposed an invalid {'bid' if side > 0 else 'ask'} "
        f"level {level}: price={price!r}, qty={qty!r}"
    )


def _nullable(name: str, x: np.ndarray) -> pl.Series:
    return pl.Series(name, x, nan_to_null=True)


def _times(name: str, us: np.ndarray) -> pl.Series:
    """Microseconds since the epoch as the frames' Datetime column."""
    return pl.Series(name, us, dtype=pl.Int64).cast(pl.Datetime("us"))


def _texts(name: str, texts, codes: np.ndarray) -> pl.Series:
    """texts[codes] as a String column (gathered, no Python string per row)."""
    column = pl.Series(name, list(texts), dtype=pl.String)
    if len(texts) == 1:  # one text: repeated, nothing to gather
        return column.new_from_index(0, len(codes))
    if len(codes) and codes.min() == codes.max():  # one text used: likewise
        return column.new_from_index(int(codes[0]), len(codes))
    return column.gather(codes.astype(np.int64))


def _ratio(numerator: np.ndarray, equity: np.ndarray) -> np.ndarray:
    """numerator / equity; inf where equity <= 0 (or NaN), 0 where numerator is 0."""
    with np.errstate(divide="ignore", invalid="ignore"):
        out = numerator / equity
    out[~(equity > 0)] = np.inf
    out[numerator == 0] = 0.0
    return out


def marks(closes: np.ndarray, present: np.ndarray, first_marks: np.ndarray) -> np.ndarray:
    """(T, S) mark prices: each symbol's last close so far, its first close before its first bar."""
    T, S = present.shape
    last = np.where(present, np.arange(T)[:, None], -1)
    np.maximum.accumulate(last, axis=0, out=last)
    return np.where(last >= 0, closes[np.maximum(last, 0), np.arange(S)], first_marks)


def _books(ledger: np.ndarray, mark: np.ndarray, initial_cash: float) -> dict:
    """Every symbol's account after every bar, from the ledger rows (the state of a symbol
    after each bar that changed it) carried forward; the per-bar totals summed in symbol order
    as the engine sums them."""
    T, S = mark.shape
    # row 0: the account before any change (flat, no entry price, nothing paid, the cash)
    opened = np.zeros((1, ledger.shape[1]))
    opened[0, L_ENTRY], opened[0, L_WALLET] = np.nan, initial_cash
    table = np.concatenate([opened, ledger])
    last = np.zeros((T, S), dtype=np.int64)  # the table row of each symbol's state at each bar
    last[ledger[:, L_STEP].astype(np.int64), ledger[:, L_SYMBOL].astype(np.int64)] = np.arange(
        1, table.shape[0]
    )
    np.maximum.accumulate(last, axis=0, out=last)
    # ledger rows are in time order: the wallet after bar k
    latest = last[:, 0] if S == 1 else last.max(axis=1)

    def carried(field: int) -> np.ndarray:
        return table[:, field].take(last)

    # in place where it can be: every fresh array of a long run costs its pages
    q, entry = carried(L_QTY), carried(L_ENTRY)
    with np.errstate(invalid="ignore"):
        unreal = mark - entry
        unreal *= q
    unreal[q == 0] = 0.0  # flat: no entry price (NaN), nothing unrealized
    notional = np.abs(q)
    notional *= mark
    books = {
        "position": q, "entry_price": entry, "mark": mark, "unrealized": unreal,
        "notional": notional, "realized": carried(L_REALIZED),
        "fees": carried(L_FEES), "funding": carried(L_FUNDING),
        "wallet": table[:, L_WALLET].take(latest),
    }  # fmt: skip
    for name in ("unrealized", "notional", "realized", "fees", "funding"):
        total = 0.0 + books[name][:, 0]  # from 0.0 (so -0.0 sums to 0.0), in symbol order,
        for s in range(1, S):  # as the engine adds them up
            total = total + books[name][:, s]
        books[f"total_{name}"] = total
    return books


def equity_frame(out, inputs, initial_cash: float, maintenance_margin_rate: float):
    """The equity frame (one row per bar) of a kernel run's output."""
    books = _books_after(out, inputs, initial_cash)
    ts, halted_k = inputs[0], out[9]
    T = len(ts)
    equity = books["wallet"] + books["total_unrealized"]
    gross = books["total_notional"]
    return pl.DataFrame(
        [
            _times("ts", ts),
            pl.Series("wallet", books["wallet"]),
            pl.Series("equity", equity),
            pl.Series("unrealized", books["total_unrealized"]),
            pl.Series("notional", gross),
            pl.Series("leverage", _ratio(gross, equity)),
            pl.Series("margin_ratio", _ratio(gross * maintenance_margin_rate, equity)),
            pl.Series("fees", books["total_fees"]),
            pl.Series("funding", books["total_funding"]),
            pl.Series("realized", books["total_realized"]),
            pl.Series("halted", np.arange(T) >= halted_k if halted_k >= 0 else np.zeros(T, bool)),
        ]
    )


def symbol_frame(out, inputs, symbols: tuple[str, ...], initial_cash: float):
    """The symbols frame (one row per bar and symbol) of a kernel run's output."""
    books = _books_after(out, inputs, initial_cash)
    rec, counts, rejs, ts = out[0], out[1], out[4], inputs[0]
    T, S = len(ts), len(symbols)
    equity = books["wallet"] + books["total_unrealized"]
    notional = books["notional"]
    with np.errstate(divide="ignore", invalid="ignore"):
        leverage = notional / equity[:, None]
    leverage[~(equity > 0)] = np.nan
    rejected = np.bincount(
        rejs[:, 0].astype(np.int64) * S + rejs[:, 1].astype(np.int64), minlength=T * S
    )

    def flat(x):
        return x.reshape(-1)

    return pl.DataFrame(
        [
            _times("ts", ts if S == 1 else np.repeat(ts, S)),
            _texts("symbol", symbols, np.zeros(T, np.int8) if S == 1 else np.tile(np.arange(S), T)),
            pl.Series("position", flat(books["position"])),
            _nullable("entry_price", flat(books["entry_price"])),
            pl.Series("mark", flat(books["mark"])),
            pl.Series("unrealized", flat(books["unrealized"])),
            pl.Series("notional", flat(notional)),
            _nullable("leverage", flat(leverage)),
            pl.Series("realized", flat(books["realized"])),
            pl.Series("fees", flat(books["fees"])),
            pl.Series("funding", flat(books["funding"])),
            _nullable("bid", flat(rec[:, :, R_BID])),
            _nullable("ask", flat(rec[:, :, R_ASK])),
            _nullable("bid_qty", flat(rec[:, :, R_BID_QTY])),
            _nullable("ask_qty", flat(rec[:, :, R_ASK_QTY])),
            _nullable("reservation_price", flat(rec[:, :, R_RESERVATION])),
            pl.Series("orders", flat(counts[:, :, C_ORDERS]).astype(np.int64)),
            pl.Series("rejected", rejected.astype(np.int64, copy=False)),
            pl.Series("clamped", flat(counts[:, :, C_CLAMPED]).astype(np.int64)),
        ]
    )


def trade_frames(out, inputs, symbols: tuple[str, ...], plan: FastPlan, initial_cash: float):
    """(fills, rejections, events, posted, halted text or None) of a kernel run's output."""
    from mmsim.results.schema import POSTED_SCHEMA

    _, _, _, fills, rejs, evs, posted_n, posted_q, halted_ev, _, _ = out
    ts = inputs[0]
    events_text = [
        _event_text(int(code), value, None if rule < 0 else plan.risk[int(rule)], initial_cash)
        for _, code, value, rule in evs.tolist()
    ]
    fill_frame = pl.DataFrame(
        [
            _times("ts", fills[:, 0].astype(np.int64)),
            _texts("symbol", symbols, fills[:, 1]),
            pl.Series("side", fills[:, 2].astype(np.int8)),
            pl.Series("price", fills[:, 3]),
            pl.Series("qty", fills[:, 4]),
            pl.Series("fee", fills[:, 5]),
            _texts("liquidity", ("maker", "taker"), fills[:, 6]),
            _texts("reason", ("quote", "liquidation", *events_text), fills[:, 7]),
            pl.Series("level", fills[:, 8].astype(np.int32)),
            pl.Series("bars_waited", fills[:, 9].astype(np.int64)),
        ]
    )
    reject_reasons = (
        *_REJECT_REASONS, *([""] * (REJECT_EVENT - len(_REJECT_REASONS))), *events_text
    )  # fmt: skip
    rej_frame = pl.DataFrame(
        [
            _times("ts", ts[rejs[:, 0].astype(np.int64)]),
            _texts("symbol", symbols, rejs[:, 1]),
            pl.Series("side", rejs[:, 2].astype(np.int8)),
            pl.Series("level", rejs[:, 3].astype(np.int32)),
            pl.Series("price", rejs[:, 4]),
            pl.Series("qty", rejs[:, 5]),
            _texts("reason", reject_reasons, rejs[:, 6]),
        ]
    )
    event_frame = pl.DataFrame(
        [
            _times("ts", ts[evs[:, 0].astype(np.int64)]),
            pl.Series("event", events_text, dtype=pl.String),
        ]
    )
    rows = []
    for s, side_i, level in zip(*np.nonzero(posted_n)):
        rows.append(
            (symbols[s], 1 if side_i == 0 else -1, int(level), int(posted_n[s, side_i, level]),
             float(posted_q[s, side_i, level]))
        )  # fmt: skip
    posted = pl.DataFrame(sorted(rows), schema=POSTED_SCHEMA, orient="row")
    halted = None if halted_ev < 0 else events_text[halted_ev]
    return fill_frame, rej_frame, event_frame, posted, halted
