"""The reference fold's records: per-bar primitives in columnar buffers, frames derived after.

The fold appends what each state and step output holds (wallet, each symbol's position, entry,
mark and running totals, its best posted quotes and counts, fills, rejections, events) to
typed arrays, 8 bytes a number; everything derived from them (unrealized PnL, notional,
leverage, margin ratio, equity and the account's totals) is computed once, over whole columns,
when the frames are built. The column sums run symbol by symbol from zero, left to right, as
`Account.equity` and its totals add them, so the frames hold the very floats the fold saw.
"""

from __future__ import annotations

from array import array

import numpy as np
import polars as pl

from mmsim.results.schema import FILL_SCHEMA, POSTED_SCHEMA, REJECTION_SCHEMA

NAN = float("nan")
# per symbol and bar: floats (NaN where the frame holds null) and counts
_FLOATS = (
    "position",
    "entry_price",
    "mark",
    "realized",
    "fees",
    "funding",
    "bid",
    "ask",
    "bid_qty",
    "ask_qty",
    "reservation_price",
)
_COUNTS = ("orders", "rejected", "clamped")


def _datetime(column: str) -> pl.Expr:
    return pl.from_epoch(pl.col(column), time_unit="us").alias(column)


def _nullable(x: np.ndarray) -> pl.Series:
    return pl.Series(x).fill_nan(None)


def _ratio(numerator: np.ndarray, equity: np.ndarray) -> np.ndarray:
    """numerator / equity; 0 where the numerator is 0, inf where equity <= 0 (`Account`)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(equity > 0, numerator / equity, np.inf)
    return np.where(numerator == 0, 0.0, out)


def _total(columns: np.ndarray) -> np.ndarray:
    """The sum over symbols (axis 1) from 0, in symbol order: Python's `sum` of each row."""
    out = np.zeros(columns.shape[0])
    for i in range(columns.shape[1]):
        out = out + columns[:, i]
    return out


def _column(values):
    return values if isinstance(values, list) else np.asarray(values)


class Recorder:
    """Collects each step's primitives (the impure edge of the fold); `frames` builds the
    result frames once at the end."""

    def __init__(self, symbols: tuple[str, ...], maintenance_margin_rate: float, interval_us: int):
        self.symbols = symbols
        self.index = {s: i for i, s in enumerate(symbols)}
        self.interval_us = interval_us
        self.mmr = maintenance_margin_rate
        self.wallet = array("d")
        self.halted = array("b")
        self.floats = {k: array("d") for k in _FLOATS}
        self.counts = {k: array("q") for k in _COUNTS}
        self.fills = {
            "ts": array("q"),
            "symbol": [],
            "side": array("b"),
            "price": array("d"),
            "qty": array("d"),
            "fee": array("d"),
            "liquidity": [],
            "reason": [],
            "level": array("l"),
            "bars_waited": array("q"),
        }
        self.rejections = {
            "k": array("q"),
            "symbol": [],
            "side": array("b"),
            "level": array("l"),
            "price": array("d"),
            "qty": array("d"),
            "reason": [],
        }
        self.event_k = array("q")
        self.event_text: list[str] = []
        # orders posted per (symbol, side, level): the denominators of fill rates; the last
        # bar's orders never meet a bar, so they are kept apart and left out
        self.posted: dict = {}
        self.last_posted: dict = {}
        self.last_ts: int | None = None
        self.k = 0

    def add(self, state, out) -> None:
        """Record the state after one step and its `StepOutput`."""
        a = state.account
        self.wallet.append(a.wallet)
        self.halted.append(state.halted is not None)
        n = len(self.symbols)
        index = self.index
        # each symbol's best bid and ask resting at this close, and its order counts
        bid = [None] * n
        ask = [None] * n
        orders = [0] * n
        clamped = [0] * n
        now: dict = {}
        for o in state.resting:
            i = index[o.symbol]
            if o.side > 0:
                if bid[i] is None or o.price > bid[i].price:
                    bid[i] = o
            elif ask[i] is None or o.price < ask[i].price:
                ask[i] = o
            orders[i] += 1
            if o.clamped_from is not None:
                clamped[i] += 1
            key = (o.symbol, o.side, o.level)
            had = now.get(key)
            now[key] = (1, o.qty) if had is None else (had[0] + 1, had[1] + o.qty)
        posted = self.posted
        # the last close's orders rested during this bar unless a hole in time expired them
        if self.last_ts is not None and state.ts - self.last_ts == self.interval_us:
            for key, (m, qty) in self.last_posted.items():
                had = posted.get(key, (0, 0.0))
                posted[key] = (had[0] + m, had[1] + qty)
        self.last_ts = state.ts
        self.last_posted = now
        refused = [0] * n
        rejections = self.rejections
        for r in out.rejected:
            o = r.order
            refused[index[o.symbol]] += 1
            rejections["k"].append(self.k)
            rejections["symbol"].append(o.symbol)
            rejections["side"].append(o.side)
            rejections["level"].append(o.level)
            rejections["price"].append(o.price)
            rejections["qty"].append(o.qty)
            rejections["reason"].append(r.reason)
        f = self.floats
        quotes = out.quotes
        for i in range(n):
            p = a.positions[i]
            f["position"].append(p.qty)
            f["entry_price"].append(p.entry_price if p.qty else NAN)
            f["mark"].append(a.marks[i])
            f["realized"].append(a.realized[i])
            f["fees"].append(a.fees[i])
            f["funding"].append(a.funding[i])
            b, s = bid[i], ask[i]
            f["bid"].append(NAN if b is None else b.price)
            f["ask"].append(NAN if s is None else s.price)
            f["bid_qty"].append(NAN if b is None else b.qty)
            f["ask_qty"].append(NAN if s is None else s.qty)
            q = quotes[i] if quotes else None
            r = None if q is None else q.reservation_price
            f["reservation_price"].append(NAN if r is None else r)
        self.counts["orders"].extend(orders)
        self.counts["rejected"].extend(refused)
        self.counts["clamped"].extend(clamped)
        if out.fills:
            self._add_fills(out.fills)
        for e in out.events:
            self.event_k.append(self.k)
            self.event_text.append(e)
        self.k += 1

    def _add_fills(self, fills) -> None:
        c = self.fills
        for f in fills:
            c["ts"].append(f.ts)
            c["symbol"].append(f.symbol)
            c["side"].append(f.side)
            c["price"].append(f.price)
            c["qty"].append(f.qty)
            c["fee"].append(f.fee)
            c["liquidity"].append(f.liquidity)
            c["reason"].append(f.reason)
            c["level"].append(f.level)
            # bars a market order waited because its symbol had none (0: the next bar)
            c["bars_waited"].append(
                0 if f.placed_ts is None else (f.ts - f.placed_ts) // self.interval_us - 1
            )

    def frames(self, ts):
        """(equity, symbols, fills, rejections, events, posted) frames (`mmsim.results.result`)."""
        n_sym, n_ts = len(self.symbols), len(ts)
        shape = (n_ts, n_sym)

        def grid(name: str) -> np.ndarray:
            return np.frombuffer(self.floats[name], dtype=np.float64).reshape(shape)

        qty, mark = grid("position"), grid("mark")
        entry = grid("entry_price")
        with np.errstate(invalid="ignore"):
            unreal = np.where(qty != 0, qty * (mark - entry), 0.0)
        notional = np.abs(qty) * mark
        wallet = np.frombuffer(self.wallet, dtype=np.float64)
        unrealized = _total(unreal)
        equity = wallet + unrealized
        gross = _total(notional)
        equity_frame = pl.DataFrame(
            {
                "ts": np.asarray(ts, dtype=np.int64),
                "wallet": wallet,
                "equity": equity,
                "unrealized": unrealized,
                "notional": gross,
                "leverage": _ratio(gross, equity),
                "margin_ratio": _ratio(gross * self.mmr, equity),
                "fees": _total(grid("fees")),
                "funding": _total(grid("funding")),
                "realized": _total(grid("realized")),
                "halted": np.frombuffer(self.halted, dtype=np.int8) > 0,
            }
        ).with_columns(_datetime("ts"))
        with np.errstate(divide="ignore", invalid="ignore"):
            leverage = np.where(equity[:, None] > 0, notional / equity[:, None], np.nan)
        flat = {k: np.frombuffer(v, dtype=np.float64) for k, v in self.floats.items()}
        sym_frame = pl.DataFrame(
            {
                "ts": np.repeat(np.asarray(ts, dtype=np.int64), n_sym),
                "symbol": pl.Series(self.symbols, dtype=pl.String).gather(
                    np.tile(np.arange(n_sym), n_ts)
                ),
                "position": flat["position"],
                "entry_price": _nullable(flat["entry_price"]),
                "mark": flat["mark"],
                "unrealized": unreal.reshape(-1),
                "notional": notional.reshape(-1),
                "leverage": _nullable(leverage.reshape(-1)),
                "realized": flat["realized"],
                "fees": flat["fees"],
                "funding": flat["funding"],
                **{k: _nullable(flat[k]) for k in ("bid", "ask", "bid_qty", "ask_qty")},
                "reservation_price": _nullable(flat["reservation_price"]),
                **{k: np.frombuffer(v, dtype=np.int64) for k, v in self.counts.items()},
            }
        ).with_columns(_datetime("ts"))
        fills = pl.DataFrame(
            {k: _column(v) for k, v in self.fills.items()},
            schema=FILL_SCHEMA,
        ).with_columns(_datetime("ts"))
        rej = self.rejections
        ts_array = np.asarray(ts, dtype=np.int64)
        rejections = pl.DataFrame(
            {
                "ts": ts_array[np.asarray(rej["k"], dtype=np.int64)],
                **{
                    k: v if isinstance(v, list) else np.asarray(v)
                    for k, v in rej.items()
                    if k != "k"
                },
            },
            schema=REJECTION_SCHEMA,
        ).with_columns(_datetime("ts"))
        events = pl.DataFrame(
            {
                "ts": ts_array[np.asarray(self.event_k, dtype=np.int64)],
                "event": self.event_text,
            },
            schema={"ts": pl.Int64, "event": pl.String},
        ).with_columns(_datetime("ts"))
        posted = pl.DataFrame(
            [(*key, m, qty) for key, (m, qty) in sorted(self.posted.items())],
            schema=POSTED_SCHEMA,
            orient="row",
        )
        return equity_frame, sym_frame, fills, rejections, events, posted
