"""The driver: validate bars, compute features, fold `step` over them, collect the frames.

This is the one impure edge around the pure fold (progress reporting lives here too); the fold
itself is `toolz.accumulate` of the step built by `make_step`.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Mapping
from functools import partial

import attrs
import polars as pl
from toolz import accumulate

from mmsim.core.engine import Accounting, Matching, account_bar
from mmsim.core.matching import match_bar
from mmsim.core.risk import NO_RISK, RiskRule
from mmsim.core.setup import prepare_run
from mmsim.core.venue import Venue
from mmsim.results.metrics import summarize
from mmsim.results.result import POSTED_SCHEMA, Result
from mmsim.results.schema import FILL_SCHEMA, REJECTION_SCHEMA
from mmsim.strategies.base import Strategy

_FILL_SCHEMA = FILL_SCHEMA
_REJECTION_SCHEMA = REJECTION_SCHEMA


def _to_datetime(column: str) -> pl.Expr:
    return pl.from_epoch(pl.col(column), time_unit="us").alias(column)


def backtest(
    bars: pl.DataFrame,
    strategies: Strategy | Mapping[str, Strategy],
    *,
    risk: RiskRule = NO_RISK,
    venue: Venue | None = None,
    initial_cash: float = 100_000.0,
    allow_gaps: bool = False,
    matching: Matching = match_bar,
    accounting: Accounting = account_bar,
    progress: Callable[[int, int], None] | None = None,
    engine: str = "auto",
) -> Result:
    """Run a multi-symbol market-making backtest on a long bars frame.

    bars: ts, symbol, open, high, low, close, volume (+ optional funding_rate and features).
    strategies: one Strategy for every symbol, or a mapping symbol -> Strategy.
    risk: a RiskRule (compose several with `mmsim.core.risk.chain`); venue: fees and fill rule.
    initial_cash: USDT in the shared wallet at the start.
    engine: "reference" (the fold of `step`), "fast" (compiled kernels of the built-in stages,
    proven to give the same frames) or "auto" (fast when every stage has a kernel, unless the
    kernels are not compiled yet and compiling them would take longer than the reference run);
    which one ran and why is in `result.config["engine"]`.
    """
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {ENGINES}, got {engine!r}")
    setup = prepare_run(
        bars,
        strategies,
        risk=risk,
        venue=venue,
        initial_cash=initial_cash,
        allow_gaps=allow_gaps,
        matching=matching,
        accounting=accounting,
    )
    frame, symbols, per_symbol = setup.frame, setup.symbols, setup.strategies
    venue, specs, interval_us, state0 = setup.venue, setup.specs, setup.interval_us, setup.state0
    n_steps = frame["ts"].n_unique()
    chosen, why, plan = choose_engine(
        engine, per_symbol, risk, matching, accounting, symbols, frame, venue=venue
    )
    records = None
    if chosen == "fast":
        from mmsim.fast.run import InvalidQuote, run_fast

        first_close = dict(zip(symbols, state0.account.marks))
        try:
            records = run_fast(
                frame, symbols, plan, venue, specs, initial_cash, interval_us, first_close
            )
        except InvalidQuote:
            # the reference run raises the same failure in its own words (StrategyRunError)
            records = None
        if progress is not None and records is not None:
            progress(n_steps, n_steps)
    if records is not None:
        (equity, sym_frame, fills, rejections, events, posted, _, halted) = records
    else:
        equity, sym_frame, fills, rejections, events, posted, halted = _reference_fold(
            setup, progress, n_steps
        )
    config = {
        "symbols": list(symbols),
        "strategies": {
            s: {"name": st.name, "params": _params_dict(st.params)}
            for s, st in zip(symbols, per_symbol)
        },
        "risk": risk.name,
        "venue": _params_dict(venue),
        "specs": {s: attrs.asdict(sp) for s, sp in specs.items()},
        "initial_cash": initial_cash,
        "interval_us": interval_us,
        "bars": {
            "rows": frame.height,
            "start": str(frame["ts"].min()),
            "end": str(frame["ts"].max()),
        },
        "halted": halted if halted else _first_halt(events),
        "engine": {"name": chosen, "reason": why},
    }
    summary = partial(  # computed on first read of result.summary
        summarize,
        equity,
        sym_frame,
        fills,
        initial_cash,
        interval_us,
        rejections=rejections,
        events=events,
        posted=posted,
    )
    return Result(fills, equity, sym_frame, rejections, events, summary, config, posted=posted)


ENGINES = ("auto", "fast", "reference")


def choose_engine(engine, strategies, risk, matching, accounting, symbols, frame, venue=None):
    """(engine to run, why, the fast plan or None) for `backtest(..., engine=engine)`.

    "auto" runs the kernels when every stage has one, unless they are not compiled yet and the
    run is small: then compiling them (once per install) would cost more than the reference
    engine's whole run, estimated from the run's symbol-bars."""
    if engine == "reference":
        return "reference", "asked for", None
    from mmsim.fast.plan import fast_plan

    plan, why = fast_plan(strategies, risk, matching, accounting, symbols)
    if plan is not None:
        absent = [c for c in (*plan.features, *plan.draws) if c not in frame.columns]
        if absent:
            plan, why = None, f"the bars lack column(s) {absent} the stages read"
    if plan is not None and importlib.util.find_spec("numba") is None:
        plan, why = None, "numba is not installed"
    if plan is None:
        if engine == "fast":
            raise ValueError(
                f"engine='fast' cannot run this backtest: {why}; use engine='reference' or 'auto'"
            )
        return "reference", why, None
    if engine == "auto":
        from mmsim.fast import cache

        reference_s = frame.height * cache.REFERENCE_SECONDS_PER_SYMBOL_BAR
        if reference_s < cache.COMPILE_SECONDS and not cache.kernels_cached():
            return (
                "reference",
                f"{why}, but they are not compiled yet: compiling them takes about "
                f"{cache.COMPILE_SECONDS:.0f} s (once; engine='fast' does it), the reference "
                f"engine about {reference_s:.2g} s for these {frame.height:,} symbol-bars",
                None,
            )
    return "fast", why, plan


def _reference_fold(setup, progress, n_steps):
    """The reference engine: fold `step` over the bars and record every state."""
    frame, symbols, venue = setup.frame, setup.symbols, setup.venue
    state0, step, interval_us = setup.state0, setup.step, setup.interval_us
    path = accumulate(lambda acc, bars_t: step(acc[0], bars_t), setup.steps(), (state0, ()))
    next(path)  # the initial state is not a bar
    rec = _Recorder(symbols, venue.maintenance_margin_rate, interval_us)
    state = state0
    for k, (state, fills) in enumerate(path):
        rec.add(state, fills)
        if progress is not None and (k % 5000 == 0 or k == n_steps - 1):
            progress(k + 1, n_steps)
    ts_values = frame["ts"].unique(maintain_order=True).dt.epoch("us").to_list()
    return (*rec.frames(ts_values), state.halted)


def _first_halt(events: pl.DataFrame) -> str | None:
    halts = events.filter(
        pl.col("event").str.starts_with("early_stop")
        | pl.col("event").str.starts_with("liquidation")
    )
    return halts["event"][0] if halts.height else None


def _params_dict(params) -> dict | None:
    if params is None:
        return None
    if attrs.has(type(params)):
        return {
            k: (list(v) if isinstance(v, tuple) else v)
            for k, v in attrs.asdict(params, recurse=False).items()
        }
    return {"repr": repr(params)}


class _Recorder:
    """Collects per-bar rows as plain lists (the impure edge); frames are built once at the end."""

    def __init__(self, symbols: tuple[str, ...], maintenance_margin_rate: float, interval_us: int):
        self.symbols = symbols
        self.interval_us = interval_us
        self.eq: dict[str, list] = {
            k: []
            for k in (
                "wallet",
                "equity",
                "unrealized",
                "notional",
                "leverage",
                "margin_ratio",
                "fees",
                "funding",
                "realized",
                "halted",
            )
        }
        self.sym: dict[str, list] = {
            k: []
            for k in (
                "position",
                "entry_price",
                "mark",
                "unrealized",
                "notional",
                "leverage",
                "realized",
                "fees",
                "funding",
                "bid",
                "ask",
                "bid_qty",
                "ask_qty",
                "reservation_price",
                "orders",
                "rejected",
                "clamped",
            )
        }
        self.fills: list = []
        self.rejections: list = []
        self.events: list = []
        # orders posted per (symbol, side, level): the denominators of fill rates; the last
        # bar's orders never meet a bar, so they are kept apart and left out
        self.posted: dict = {}
        self.last_posted: dict = {}
        self.last_ts: int | None = None
        self.k = 0
        self.mmr = maintenance_margin_rate

    def add(self, state, fills) -> None:
        a = state.account
        equity = a.equity
        eq = self.eq
        unreal = [p.unrealized(m) for p, m in zip(a.positions, a.marks)]
        notionals = [abs(p.qty) * m for p, m in zip(a.positions, a.marks)]
        gross = sum(notionals)
        eq["wallet"].append(a.wallet)
        eq["equity"].append(equity)
        eq["unrealized"].append(sum(unreal))
        eq["notional"].append(gross)
        eq["leverage"].append(
            gross / equity if equity > 0 else (0.0 if gross == 0 else float("inf"))
        )
        eq["margin_ratio"].append(
            gross * self.mmr / equity if equity > 0 else (0.0 if gross == 0 else float("inf"))
        )
        eq["fees"].append(a.fees_paid)
        eq["funding"].append(a.funding_received)
        eq["realized"].append(a.realized_pnl)
        eq["halted"].append(state.halted is not None)
        best: dict = {}
        for o in state.resting:
            key = (o.symbol, o.side)
            cur = best.get(key)
            if cur is None or (o.price > cur.price if o.side > 0 else o.price < cur.price):
                best[key] = o
        counts: dict = {}
        posted = self.posted
        # the last close's orders rested during this bar unless a hole in time expired them
        if self.last_ts is not None and state.ts - self.last_ts == self.interval_us:
            for key, (n, qty) in self.last_posted.items():
                had = posted.get(key, (0, 0.0))
                posted[key] = (had[0] + n, had[1] + qty)
        self.last_ts = state.ts
        now: dict = {}
        clamped: dict = {}
        for o in state.resting:
            counts[o.symbol] = counts.get(o.symbol, 0) + 1
            if o.clamped_from is not None:
                clamped[o.symbol] = clamped.get(o.symbol, 0) + 1
            key = (o.symbol, o.side, o.level)
            had = now.get(key, (0, 0.0))
            now[key] = (had[0] + 1, had[1] + o.qty)
        self.last_posted = now
        refused: dict = {}
        for r in state.rejected:
            refused[r.order.symbol] = refused.get(r.order.symbol, 0) + 1
        sym = self.sym
        for i, s in enumerate(self.symbols):
            p = a.positions[i]
            sym["position"].append(p.qty)
            sym["entry_price"].append(p.entry_price if p.qty else None)
            sym["mark"].append(a.marks[i])
            sym["unrealized"].append(unreal[i])
            sym["notional"].append(notionals[i])
            sym["leverage"].append(notionals[i] / equity if equity > 0 else None)
            sym["realized"].append(a.realized[i])
            sym["fees"].append(a.fees[i])
            sym["funding"].append(a.funding[i])
            b, k = best.get((s, 1)), best.get((s, -1))
            sym["bid"].append(b.price if b else None)
            sym["ask"].append(k.price if k else None)
            sym["bid_qty"].append(b.qty if b else None)
            sym["ask_qty"].append(k.qty if k else None)
            q = state.quotes[i] if state.quotes else None
            sym["reservation_price"].append(q.reservation_price if q is not None else None)
            sym["orders"].append(counts.get(s, 0))
            sym["rejected"].append(refused.get(s, 0))
            sym["clamped"].append(clamped.get(s, 0))
        for f in fills:
            # bars a market order waited because its symbol had none (0: the next bar)
            waited = 0 if f.placed_ts is None else (f.ts - f.placed_ts) // self.interval_us - 1
            self.fills.append(
                (
                    f.ts,
                    f.symbol,
                    f.side,
                    f.price,
                    f.qty,
                    f.fee,
                    f.liquidity,
                    f.reason,
                    f.level,
                    waited,
                )
            )
        k = self.k
        for r in state.rejected:
            o = r.order
            self.rejections.append((k, o.symbol, o.side, o.level, o.price, o.qty, r.reason))
        for e in state.events:
            self.events.append((k, e))
        self.k += 1

    def frames(self, ts: list[int]):
        n_sym = len(self.symbols)
        equity = pl.DataFrame({"ts": ts, **self.eq}).with_columns(_to_datetime("ts"))
        sym = pl.DataFrame(
            {
                "ts": [t for t in ts for _ in range(n_sym)],
                "symbol": list(self.symbols) * len(ts),
                **self.sym,
            },
            schema_overrides={
                k: pl.Float64
                for k in (
                    "entry_price",
                    "leverage",
                    "bid",
                    "ask",
                    "bid_qty",
                    "ask_qty",
                    "reservation_price",
                )
            },
        ).with_columns(_to_datetime("ts"))
        fills = pl.DataFrame(self.fills, schema=_FILL_SCHEMA, orient="row").with_columns(
            _to_datetime("ts")
        )
        rejections = pl.DataFrame(
            [(ts[k], *rest) for k, *rest in self.rejections], schema=_REJECTION_SCHEMA, orient="row"
        ).with_columns(_to_datetime("ts"))
        events = pl.DataFrame(
            [(ts[k], e) for k, e in self.events],
            schema={"ts": pl.Int64, "event": pl.String},
            orient="row",
        ).with_columns(_to_datetime("ts"))
        posted = pl.DataFrame(
            [(*key, n, qty) for key, (n, qty) in sorted(self.posted.items())],
            schema=POSTED_SCHEMA,
            orient="row",
        )
        return equity, sym, fills, rejections, events, posted


def run_backtests(bars: pl.DataFrame, runs: Mapping[str, dict], **common) -> dict[str, Result]:
    """Several named backtests on the same bars: {name: backtest(bars, **common, **kwargs)}."""
    return {name: backtest(bars, **{**common, **kwargs}) for name, kwargs in runs.items()}


__all__ = ["backtest", "run_backtests"]
