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
from mmsim.core.matching import match_bar, matching_name
from mmsim.core.risk import NO_RISK, RiskRule
from mmsim.core.setup import prepare_run
from mmsim.core.venue import Venue
from mmsim.results.metrics import summarize
from mmsim.results.records import Recorder
from mmsim.results.result import Result
from mmsim.strategies.base import Strategy


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
        from mmsim.fast.backtest import run_fast
        from mmsim.fast.run import InvalidQuote

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
        (equity, sym_frame, fills, rejections, events, posted, summary, halted) = records
    else:
        equity, sym_frame, fills, rejections, events, posted, halted = _reference_fold(
            setup, progress, n_steps
        )
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
        "matching": matching_name(matching),
    }
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
    path = accumulate(
        lambda acc, bars_t: step.update(acc[0], bars_t), setup.steps(), (state0, None)
    )
    next(path)  # the initial state is not a bar
    rec = Recorder(symbols, venue.maintenance_margin_rate, interval_us)
    state = state0
    for k, (state, out) in enumerate(path):
        rec.add(state, out)
        if progress is not None and (k % 5000 == 0 or k == n_steps - 1):
            progress(k + 1, n_steps)
    ts_values = frame["ts"].unique(maintain_order=True).dt.epoch("us").to_numpy()
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


def run_backtests(bars: pl.DataFrame, runs: Mapping[str, dict], **common) -> dict[str, Result]:
    """Several named backtests on the same bars: {name: backtest(bars, **common, **kwargs)}."""
    return {name: backtest(bars, **{**common, **kwargs}) for name, kwargs in runs.items()}


__all__ = ["backtest", "run_backtests"]
