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
# per symbol and ledger row (a bar whose account changed): position, entry price (NaN flat),
# realized PnL, fees, funding; each row starts with the wallet
_LEDGER = ("position", "entry_price", "realized", "fees", "funding")
# per symbol and bar: the best quotes resting after the close (NaN: none), how many orders
# were clamped, the strategy's reservation price (NaN: none), and the counts of orders resting
# and rejected
_ROW = ("bid", "ask", "bid_qty", "ask_qty", "clamped", "reservation_price", "orders", "rejected")
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


def _best(orders) -> tuple[float, float, float, float, int]:
    """(bid, ask, bid_qty, ask_qty, clamped) of one symbol's resting orders: the highest bid
    and the lowest ask (the first of equal prices; NaN where a side has none) and how many
    orders placement clamped."""
    bid = ask = None
    clamped = 0
    for o in orders:
        if o.side > 0:
            if bid is None or o.price > bid.price:
                bid = o
        elif ask is None or o.price < ask.price:
            ask = o
        if o.clamped_from is not None:
            clamped += 1
    return (
        NAN if bid is None else bid.price,
        NAN if ask is None else ask.price,
        NAN if bid is None else bid.qty,
        NAN if ask is None else ask.qty,
        clamped,
    )


def _or_nan(quotes) -> float:
    """The reservation price of a symbol's quotes, NaN when it has none."""
    r = None if quotes is None else quotes.reservation_price
    return NAN if r is None else r


class Recorder:
    """Collects each step's primitives (the impure edge of the fold); `frames` builds the
    result frames once at the end.

    Per bar it writes each symbol's mark and quotes; the account's other fields (wallet,
    positions, entries, running totals) only in a ledger row at a bar where they changed (a
    fill, funding, a liquidation), carried forward to the bars after it when the frames are
    built: a bar without a fill costs no ledger row.
    """

    def __init__(self, symbols: tuple[str, ...], maintenance_margin_rate: float, interval_us: int):
        self.symbols = symbols
        self.index = {s: i for i, s in enumerate(symbols)}
        self.interval_us = interval_us
        self.mmr = maintenance_margin_rate
        self.marks = array("d")  # per bar and symbol
        self.quotes = array("d")  # per bar and symbol: _ROW
        self.ledger_k = array("q")  # the bar of each ledger row
        self.ledger = array("d")  # per row: wallet, then _LEDGER per symbol
        self.halt_k = array("q")  # the bars where the halt flag changed
        self.halted = False
        self.account = None  # the account of the last ledger row
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
        self.last_resting: tuple = ()
        self.last_ts: int | None = None
        self.k = 0

    def _ledger_row(self, a) -> None:
        row = [a.wallet]
        for p, realized, fees, funding in zip(a.positions, a.realized, a.fees, a.funding):
            row += (p.qty, p.entry_price if p.qty else NAN, realized, fees, funding)
        self.ledger_k.append(self.k)
        self.ledger.extend(row)
        self.account = a

    def add(self, state, out) -> None:
        """Record the state after one step and its `StepOutput`."""
        a = state.account
        last = self.account
        # the marks move every bar; the rest of the account only with a fill, funding or a
        # liquidation (their tuples are kept, not rebuilt, when nothing changed)
        if last is None or not (
            a.positions is last.positions
            and a.realized is last.realized
            and a.fees is last.fees
            and a.funding is last.funding
            and a.wallet == last.wallet
        ):
            self._ledger_row(a)
        self.marks.extend(a.marks)
        if (state.halted is not None) is not self.halted:
            self.halted = not self.halted
            self.halt_k.append(self.k)
        # the last close's orders rested during this bar unless a hole in time expired them
        if self.last_ts is not None and state.ts - self.last_ts == self.interval_us:
            self._count_posted(self.last_resting)
        self.last_ts = state.ts
        resting = self.last_resting = state.resting
        n = len(self.symbols)
        refused = [0] * n
        if out.rejected:
            self._add_rejections(out.rejected, refused)
        quotes = out.quotes or (None,) * n
        if n == 1:  # one symbol: every order is its own
            q = quotes[0]
            self.quotes.extend((*_best(resting), _or_nan(q), len(resting), refused[0]))
        else:
            self.quotes.extend(self._quote_rows(resting, quotes, refused))
        if out.fills:
            self._add_fills(out.fills)
        for e in out.events:
            self.event_k.append(self.k)
            self.event_text.append(e)
        self.k += 1

    def _quote_rows(self, resting, quotes, refused) -> list[float]:
        """Each symbol's `_best` of its resting orders, reservation price and counts."""
        n = len(self.symbols)
        mine: list[list] = [[] for _ in range(n)]
        index = self.index
        for o in resting:
            mine[index[o.symbol]].append(o)
        row: list[float] = []
        for i, q in enumerate(quotes):
            row += (*_best(mine[i]), _or_nan(q), len(mine[i]), refused[i])
        return row

    def _count_posted(self, resting) -> None:
        """Add orders that rested during a bar to the counts and sizes posted per (symbol,
        side, level), each bar's sizes summed first (as a bar with two orders of one key)."""
        posted = self.posted
        keys = [(o.symbol, o.side, o.level) for o in resting]
        if len(keys) > 1 and len(set(keys)) < len(keys):  # a key twice in one bar
            now: dict = {}
            for key, o in zip(keys, resting):
                had = now.get(key)
                now[key] = (1, o.qty) if had is None else (had[0] + 1, had[1] + o.qty)
            for key, (m, qty) in now.items():
                had = posted.get(key)
                posted[key] = (m, qty) if had is None else (had[0] + m, had[1] + qty)
            return
        for key, o in zip(keys, resting):
            had = posted.get(key)
            posted[key] = (1, o.qty) if had is None else (had[0] + 1, had[1] + o.qty)

    def _add_rejections(self, rejected, refused) -> None:
        rejections = self.rejections
        index = self.index
        for r in rejected:
            o = r.order
            refused[index[o.symbol]] += 1
            rejections["k"].append(self.k)
            rejections["symbol"].append(o.symbol)
            rejections["side"].append(o.side)
            rejections["level"].append(o.level)
            rejections["price"].append(o.price)
            rejections["qty"].append(o.qty)
            rejections["reason"].append(r.reason)

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
        # each bar reads the ledger row of the last bar at or before it that changed the account
        rows = np.frombuffer(self.ledger, dtype=np.float64).reshape(
            len(self.ledger_k), 1 + len(_LEDGER) * n_sym
        )
        at = np.searchsorted(np.frombuffer(self.ledger_k, dtype=np.int64), np.arange(n_ts), "right")
        rows = rows[at - 1]
        account = {
            name: np.ascontiguousarray(rows[:, 1 + j :: len(_LEDGER)])
            for j, name in enumerate(_LEDGER)
        }
        table = np.frombuffer(self.quotes, dtype=np.float64).reshape(n_ts, n_sym, len(_ROW))
        column = {k: table[:, :, j].reshape(-1) for j, k in enumerate(_ROW)}
        flat = {
            **{k: v.reshape(-1) for k, v in account.items()},
            "mark": np.frombuffer(self.marks, dtype=np.float64),
            **{k: np.ascontiguousarray(column[k]) for k in _ROW if k not in _COUNTS},
        }
        counts = {k: column[k].astype(np.int64) for k in _COUNTS}
        changes = np.zeros(n_ts + 1, dtype=np.int64)
        np.add.at(changes, np.frombuffer(self.halt_k, dtype=np.int64), 1)
        halted = np.cumsum(changes[:n_ts]) % 2 == 1

        qty, mark = account["position"], flat["mark"].reshape(n_ts, n_sym)
        entry = account["entry_price"]
        with np.errstate(invalid="ignore"):
            unreal = np.where(qty != 0, qty * (mark - entry), 0.0)
        notional = np.abs(qty) * mark
        wallet = np.ascontiguousarray(rows[:, 0])
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
                "fees": _total(account["fees"]),
                "funding": _total(account["funding"]),
                "realized": _total(account["realized"]),
                "halted": halted,
            }
        ).with_columns(_datetime("ts"))
        with np.errstate(divide="ignore", invalid="ignore"):
            leverage = np.where(equity[:, None] > 0, notional / equity[:, None], np.nan)
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
                **counts,
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
