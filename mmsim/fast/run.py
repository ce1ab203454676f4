"""The fast path's driver: bars frame -> numpy columns -> the fold kernel -> the reference's frames.

Imported only when a fast run starts (it imports numba through the kernels).
"""

from __future__ import annotations

import numpy as np
import polars as pl

from mmsim.core.venue import _decimals, _post_only_mode
from mmsim.fast.engine import (
    B_EQUITY,
    B_FEES,
    B_FUNDING,
    B_NOTIONAL,
    B_REALIZED,
    B_UNREALIZED,
    B_WALLET,
    ERROR_DRAW,
    N_BAR,
    R_ASK,
    R_ASK_QTY,
    R_BID,
    R_BID_QTY,
    R_ENTRY,
    R_FEES,
    R_FUNDING,
    R_MARK,
    R_POSITION,
    R_REALIZED,
    R_RESERVATION,
    run,
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
_TWO = np.array([2.0])


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
    """(ts per step, row step index, row symbol index) of a validated (ts, symbol)-sorted frame."""
    ts_col = frame["ts"].dt.epoch("us")
    ts = ts_col.unique(maintain_order=True).to_numpy()
    step = np.searchsorted(ts, ts_col.to_numpy())
    index = {s: i for i, s in enumerate(symbols)}
    sym = frame["symbol"].replace_strict(index, return_dtype=pl.Int64).to_numpy()
    return ts, step, sym


def _grid(values: np.ndarray, step, sym, shape, fill=np.nan) -> np.ndarray:
    out = np.full(shape, fill, dtype=np.float64)
    out[step, sym] = values
    return out


def _float(frame: pl.DataFrame, name: str) -> np.ndarray:
    return frame[name].cast(pl.Float64).fill_null(np.nan).to_numpy()


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
        plan.slots, plan.skews, plan.skew_slots, _TWO, venue_row, plan.risk, plan.matching,
        plan.matching_params, float(initial_cash), int(interval_us), int(plan.levels),
        np.array([float(first_close[s]) for s in symbols]),
    )  # fmt: skip


def run_fast(
    frame: pl.DataFrame,
    symbols: tuple[str, ...],
    plan: FastPlan,
    venue,
    specs,
    initial_cash: float,
    interval_us: int,
    first_close: dict,
):
    """Run the kernel on a validated frame with features; returns the reference's frames:
    (equity, symbols, fills, rejections, events, posted, ts values, halted text or None)."""
    inputs = kernel_inputs(
        frame, symbols, plan, venue, specs, initial_cash, interval_us, first_close
    )
    return kernel_frames(run(*inputs), inputs[0], symbols, plan, venue, initial_cash)


def kernel_frames(out, ts, symbols, plan: FastPlan, venue, initial_cash: float):
    """The reference's frames (as `run_fast`) from the output of `mmsim.fast.engine.run`."""
    rec, counts, bars, fills, rejs, evs, posted_n, posted_q, halted_ev, error = out
    if not np.isnan(error[0]):
        _raise(error, symbols, ts, plan)
    events_text = [
        _event_text(int(code), value, None if rule < 0 else plan.risk[int(rule)], initial_cash)
        for _, code, value, rule in evs.tolist()
    ]
    return _frames(
        rec, counts, bars, fills, rejs, evs, events_text, posted_n, posted_q, ts, symbols, venue
    ) + (ts.tolist(), None if halted_ev < 0 else events_text[halted_ev])


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


def _nullable(x: np.ndarray) -> pl.Series:
    return pl.Series(x).fill_nan(None)


def _datetime(column: str) -> pl.Expr:
    return pl.from_epoch(pl.col(column), time_unit="us").alias(column)


def _ratio(numerator: np.ndarray, equity: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(equity > 0, numerator / equity, np.inf)
    return np.where(numerator == 0, 0.0, out)


def _frames(
    rec, counts, bars, fills, rejs, evs, events_text, posted_n, posted_q, ts, symbols, venue
):
    from mmsim.results.schema import FILL_SCHEMA, POSTED_SCHEMA, REJECTION_SCHEMA

    T, S = len(ts), len(symbols)
    equity = bars[B_EQUITY]
    gross = bars[B_NOTIONAL]
    equity_frame = pl.DataFrame(
        {
            "ts": ts,
            "wallet": bars[B_WALLET],
            "equity": equity,
            "unrealized": bars[B_UNREALIZED],
            "notional": gross,
            "leverage": _ratio(gross, equity),
            "margin_ratio": _ratio(gross * venue.maintenance_margin_rate, equity),
            "fees": bars[B_FEES],
            "funding": bars[B_FUNDING],
            "realized": bars[B_REALIZED],
            "halted": bars[N_BAR] > 0,
        }
    ).with_columns(_datetime("ts"))
    q = rec[R_POSITION]
    mark = rec[R_MARK]
    with np.errstate(invalid="ignore"):
        unreal = np.where(q != 0, q * (mark - rec[R_ENTRY]), 0.0)
    notional = np.abs(q) * mark
    eq_b = np.broadcast_to(equity[:, None], (T, S))
    with np.errstate(divide="ignore", invalid="ignore"):
        leverage = np.where(eq_b > 0, notional / eq_b, np.nan)

    def flat(x):
        return x.reshape(-1)

    sym_frame = pl.DataFrame(
        {
            "ts": np.repeat(ts, S),
            "symbol": list(symbols) * T,
            "position": flat(q),
            "entry_price": _nullable(flat(rec[R_ENTRY])),
            "mark": flat(mark),
            "unrealized": flat(unreal),
            "notional": flat(notional),
            "leverage": _nullable(flat(leverage)),
            "realized": flat(rec[R_REALIZED]),
            "fees": flat(rec[R_FEES]),
            "funding": flat(rec[R_FUNDING]),
            "bid": _nullable(flat(rec[R_BID])),
            "ask": _nullable(flat(rec[R_ASK])),
            "bid_qty": _nullable(flat(rec[R_BID_QTY])),
            "ask_qty": _nullable(flat(rec[R_ASK_QTY])),
            "reservation_price": _nullable(flat(rec[R_RESERVATION])),
            "orders": flat(counts[0]),
            "rejected": flat(counts[1]),
            "clamped": flat(counts[2]),
        }
    ).with_columns(_datetime("ts"))
    names = np.array(symbols, dtype=object)
    event_reasons = np.array(["quote", "liquidation", *events_text], dtype=object)
    fill_frame = pl.DataFrame(
        {
            "ts": fills[:, 0].astype(np.int64),
            "symbol": names[fills[:, 1].astype(np.int64)].tolist(),
            "side": fills[:, 2].astype(np.int8),
            "price": fills[:, 3],
            "qty": fills[:, 4],
            "fee": fills[:, 5],
            "liquidity": np.where(fills[:, 6] > 0, "taker", "maker").tolist(),
            "reason": event_reasons[fills[:, 7].astype(np.int64)].tolist(),
            "level": fills[:, 8].astype(np.int32),
            "bars_waited": fills[:, 9].astype(np.int64),
        },
        schema=FILL_SCHEMA,
    ).with_columns(_datetime("ts"))
    reject_reasons = np.array(
        [*_REJECT_REASONS, *([""] * (REJECT_EVENT - len(_REJECT_REASONS))), *events_text],
        dtype=object,
    )
    rej_frame = pl.DataFrame(
        {
            "ts": ts[rejs[:, 0].astype(np.int64)],
            "symbol": names[rejs[:, 1].astype(np.int64)].tolist(),
            "side": rejs[:, 2].astype(np.int8),
            "level": rejs[:, 3].astype(np.int32),
            "price": rejs[:, 4],
            "qty": rejs[:, 5],
            "reason": reject_reasons[rejs[:, 6].astype(np.int64)].tolist(),
        },
        schema=REJECTION_SCHEMA,
    ).with_columns(_datetime("ts"))
    event_frame = pl.DataFrame(
        {"ts": ts[evs[:, 0].astype(np.int64)], "event": events_text},
        schema={"ts": pl.Int64, "event": pl.String},
    ).with_columns(_datetime("ts"))
    rows = []
    for s, side_i, level in zip(*np.nonzero(posted_n)):
        rows.append(
            (symbols[s], 1 if side_i == 0 else -1, int(level), int(posted_n[s, side_i, level]),
             float(posted_q[s, side_i, level]))
        )  # fmt: skip
    posted = pl.DataFrame(sorted(rows), schema=POSTED_SCHEMA, orient="row")
    return equity_frame, sym_frame, fill_frame, rej_frame, event_frame, posted
