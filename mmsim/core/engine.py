"""The engine: one pure `step(state, step_bars) -> (state, fills)` and the fold that runs it.

A step, at bar t:
  1. matching   - orders resting since bar t-1's close meet bar t (market orders at its open);
                  a limit order meets only the bar that opens one interval after the bar at
                  whose close it was placed: after a hole in time (bars missing for every
                  symbol) it has expired unfilled; a market order waits for its symbol's next
                  bar however late, and its fill records when it was sent (`Fill.placed_ts`);
  2. accounting - fills hit the ledger, marks move to bar t's close, funding is paid, and the
                  account is liquidated if its margin ratio reached 1;
  3. strategy   - each symbol's strategy proposes quotes from bar t (and its features), its
                  position and the account;
  4. risk       - the venue's placement rules, then the risk rules, keep, trim or reject them
                  and may send market orders or halt; the survivors rest during bar t+1 only.
Each stage is a plain function passed to `make_step` (typed by `Matching`, `Accounting`,
`Strategy` and `RiskRule`); replace any of them with your own.

`EngineState` holds only what the next step reads. What only the records read (each symbol's
quotes, what placement and risk refused, their events) comes out beside the fills:
`step.update(state, bars) -> (state, StepOutput)`; `step(state, bars) -> (state, fills)` is the
same step with the fills alone.
"""

from __future__ import annotations

import datetime as dt
import math
import numbers
from collections.abc import Mapping
from typing import Any, Protocol

import attrs

from mmsim.core.account import (
    Account,
    _account,
    equity_and_gross,
    mark,
    pay_funding,
    settle,
)
from mmsim.core.bars import Bar, Step
from mmsim.core.frozen import unchecked
from mmsim.core.matching import match_bar
from mmsim.core.orders import TAKER, Fill, MarketOrder, Order, Quotes, Rejection
from mmsim.core.placement import place_quotes
from mmsim.core.risk import RiskInput, RiskRule
from mmsim.core.venue import SymbolSpec, Venue
from mmsim.strategies.base import Strategy, StrategyInput


@attrs.frozen(slots=True)
class EngineState:
    """Everything the next step reads, carried from one bar close to the next (immutable).

    resting: limit orders that rest during the next bar; market_orders: executed at the next
    bar's open (or its symbol's next bar); halted: the reason the run stopped trading, or None;
    ts: the open time (µs) of the bar at whose close this state was made, when `resting` was
    placed (None before the first bar).
    """

    account: Account
    strategy_states: tuple
    risk_state: Any
    resting: tuple[Order, ...] = ()
    market_orders: tuple[MarketOrder, ...] = ()
    halted: str | None = None
    ts: int | None = None


@attrs.frozen(slots=True)
class StepOutput:
    """What one step produced beside the next state (immutable); only the records read it.

    fills: this bar's executions (matching's, then any liquidation's); quotes: each symbol's
    proposal at this close (None where it had no bar or the run is halted); rejected: orders
    placement and the risk rules refused at this close; events: the risk rules' and the
    liquidation's messages.
    """

    fills: tuple[Fill, ...]
    quotes: tuple[Quotes | None, ...] = ()
    rejected: tuple[Rejection, ...] = ()
    events: tuple[str, ...] = ()


class Matching(Protocol):
    """The matching stage: this bar's fills of the orders sent at the last close.

    resting: limit orders placed one interval before this bar (empty after a hole in time);
    market_orders: to execute at the open of their symbol's bar; bars: each symbol's bar in
    `symbols` order (None: no bar, its orders do not execute). Fills in the order they are
    booked. The default is `mmsim.core.matching.match_bar`.
    """

    def __call__(
        self,
        resting: tuple[Order, ...],
        market_orders: tuple[MarketOrder, ...],
        bars: tuple[Bar | None, ...],
        symbols: tuple[str, ...],
        specs: Mapping[str, SymbolSpec],
        venue: Venue,
    ) -> tuple[Fill, ...]: ...


class Accounting(Protocol):
    """The accounting stage: book `fills`, mark to the step's closes, pay funding, liquidate.

    Returns the account at this close, the fills it forced (a liquidation's, else ()) and the
    halt reason (None: the run goes on). The default is `account_bar`.
    """

    def __call__(
        self, account: Account, fills: tuple[Fill, ...], step: Step, venue: Venue
    ) -> tuple[Account, tuple[Fill, ...], str | None]: ...


class StrategyRunError(ValueError):
    """A strategy that raised or returned something unusable; names strategy, symbol and bar."""


def _number(x: object) -> bool:
    if type(x) is float:  # the common case, checked first: this runs per level per bar
        return math.isfinite(x)
    return isinstance(x, numbers.Real) and not isinstance(x, bool) and math.isfinite(x)


def _plain_levels(levels: tuple) -> bool:
    """True when every level is a (float, float) tuple of positive finite numbers (the common
    case)."""
    for level in levels:
        if not (type(level) is tuple and len(level) == 2):
            return False
        price, qty = level
        if not (type(price) is float and type(qty) is float):
            return False
        if not (0.0 < price < math.inf and 0.0 < qty < math.inf):  # NaN fails too
            return False
    return True


def _bad_quotes(out: object) -> str | None:
    """What is wrong with a strategy's (state, Quotes) return value, or None."""
    if type(out) is tuple and len(out) == 2 and type(out[1]) is Quotes:
        q = out[1]
        r = q.reservation_price
        if (
            (r is None or (type(r) is float and math.isfinite(r)))
            and _plain_levels(q.bids)
            and _plain_levels(q.asks)
        ):
            return None  # the common shape, checked first: this runs per symbol per bar
    if not (isinstance(out, tuple) and len(out) == 2):
        return f"returned {out!r:.80}; expected a (state, Quotes) pair"
    q = out[1]
    if not isinstance(q, Quotes):
        return f"returned quotes {q!r:.80}; expected a Quotes (or NO_QUOTES)"
    if q.reservation_price is not None and not _number(q.reservation_price):
        return (
            f"returned reservation_price {q.reservation_price!r}; expected a finite number or None"
        )
    for side, levels in (("bid", q.bids), ("ask", q.asks)):
        for k, level in enumerate(levels):
            if not (isinstance(level, tuple | list) and len(level) == 2):
                return f"returned {side} level {k} {level!r:.80}; expected a (price, qty) pair"
            if not (_number(level[0]) and _number(level[1]) and level[0] > 0 and level[1] > 0):
                return (
                    f"returned {side} level {k} (price {level[0]!r:.40}, qty {level[1]!r:.40}); "
                    "expected positive finite numbers (price in USDT, qty in base units)"
                )
    return None


def propose(strategy: Strategy, state: Any, inputs: StrategyInput) -> tuple[Any, Quotes]:
    """`strategy.update`, checked: an exception or a bad value names strategy, symbol and bar."""
    try:
        out = strategy.update(state, inputs)
        problem = _bad_quotes(out)
    except Exception as exc:
        out, problem = None, f"raised {type(exc).__name__}: {exc}"
        cause = exc
    else:
        cause = None
    if problem is not None:
        bar = inputs.bar
        ts = dt.datetime(1970, 1, 1) + dt.timedelta(microseconds=bar.ts)
        raise StrategyRunError(
            f"strategy {strategy.name!r} on {bar.symbol} at the bar of ts {ts:%Y-%m-%d %H:%M:%S} "
            f"{problem}"
        ) from cause
    return out


def account_bar(
    account: Account, fills: tuple[Fill, ...], step: Step, venue: Venue
) -> tuple[Account, tuple[Fill, ...], str | None]:
    """The default accounting stage: book fills, mark to close, pay funding, liquidate at ratio 1.

    Liquidation closes every position at this bar's close with the taker fee; it returns those
    fills and the halt reason.
    """
    for fill in fills:
        account = settle(account, fill)
    bars = step.bars
    # `mark` and the funding check in one pass over the bars (this runs every bar)
    marks, funded = [], False
    for m, b in zip(account.marks, bars):
        if b is None:
            marks.append(m)
        else:
            marks.append(b.close)
            if b.funding_rate:
                funded = True
    if len(marks) == len(account.symbols):
        account = _account(
            account.symbols,
            account.wallet,
            account.positions,
            tuple(marks),
            account.realized,
            account.fees,
            account.funding,
            account.traded,
        )
    else:  # a step with the wrong number of bars: `mark` refuses it by name
        account = mark(account, tuple(None if b is None else b.close for b in bars))
    if funded:
        account = pay_funding(account, tuple(0.0 if b is None else b.funding_rate for b in bars))
    ratio = account.margin_ratio(venue.maintenance_margin_rate)
    if ratio < 1.0:
        return account, (), None
    liquidations = tuple(
        Fill(
            ts=step.ts,
            symbol=symbol,
            side=-1 if p.qty > 0 else 1,
            price=m,
            qty=abs(p.qty),
            fee=m * abs(p.qty) * venue.taker_fee,
            liquidity=TAKER,
            reason="liquidation",
        )
        for symbol, p, m in zip(account.symbols, account.positions, account.marks)
        if p.qty != 0
    )
    for fill in liquidations:
        account = settle(account, fill)
    return account, liquidations, f"liquidation: margin ratio {ratio:.3g} >= 1"


@attrs.frozen(slots=True)
class EngineStep:
    """The four stages composed into one pure step (immutable; build it with `make_step`).

    step(state, bars) -> (state, fills); step.update(state, bars) -> (state, StepOutput).
    """

    symbols: tuple[str, ...]
    strategies: tuple[Strategy, ...]
    risk: RiskRule
    venue: Venue
    specs: Mapping[str, SymbolSpec] = attrs.field(eq=False)
    initial_cash: float
    interval_us: int
    matching: Matching = attrs.field(eq=False)
    accounting: Accounting = attrs.field(eq=False)
    # each symbol's spec in `symbols` order, and its position there (read per bar)
    _specs: tuple[SymbolSpec, ...] = attrs.field(init=False, eq=False, repr=False)
    _index: Mapping[str, int] = attrs.field(init=False, eq=False, repr=False)

    @_specs.default
    def _specs_in_order(self):
        return tuple(self.specs[s] for s in self.symbols)

    @_index.default
    def _symbol_index(self):
        return {s: i for i, s in enumerate(self.symbols)}

    def __call__(self, state: EngineState, bars: Step) -> tuple[EngineState, tuple[Fill, ...]]:
        state, out = self.update(state, bars)
        return state, out.fills

    def update(self, state: EngineState, bars: Step) -> tuple[EngineState, StepOutput]:
        """One bar: matching, accounting, strategies, risk (see the module doc)."""
        symbols, venue = self.symbols, self.venue
        # limit orders rest during the one bar after the close they were placed at, by
        # timestamp: after a hole in time that bar is missing for every symbol and they expire
        # (a symbol that alone misses the bar gets None: matching skips its orders)
        in_time = state.ts is None or bars.ts - state.ts == self.interval_us
        resting = state.resting if in_time else ()
        fills = self.matching(resting, state.market_orders, bars.bars, symbols, self.specs, venue)
        # a market order for a symbol with no bar waits for that symbol's next bar
        waiting = (
            tuple(o for o in state.market_orders if bars.bars[self._index[o.symbol]] is None)
            if state.market_orders
            else ()
        )
        account, forced, liquidated = self.accounting(state.account, fills, bars, venue)
        if forced:
            fills = fills + forced
        halted = state.halted or liquidated
        if halted:
            return EngineState(
                account,
                state.strategy_states,
                state.risk_state,
                (),
                () if liquidated else waiting,
                halted,
                bars.ts,
            ), StepOutput(fills, (None,) * len(symbols), (), (liquidated,) if liquidated else ())

        equity, gross = equity_and_gross(account)  # once for every stage below
        strategy_states, quotes, proposed, rejected = [], [], [], []
        post_only = venue.post_only
        interval_us = self.interval_us
        for strategy, s_state, bar, position, spec in zip(
            self.strategies, state.strategy_states, bars.bars, account.positions, self._specs
        ):
            if bar is None:  # no bar, no quotes: the symbol sits this step out
                strategy_states.append(s_state)
                quotes.append(None)
                continue
            s_state, q = propose(
                strategy,
                s_state,
                _strategy_input(
                    bar,
                    position.qty,
                    position.entry_price,
                    equity,
                    interval_us,
                    spec.tick_size,
                    spec.lot_size,
                ),
            )
            strategy_states.append(s_state)
            quotes.append(q)
            if q.bids or q.asks:
                posted, refused = place_quotes(bar.symbol, q, bar.close, spec, post_only=post_only)
                proposed.extend(posted)
                if refused:
                    rejected.extend(refused)

        risk_state, decision = self.risk.update(
            state.risk_state,
            _risk_input(
                bars.ts,
                tuple(proposed),
                account,
                self.initial_cash,
                venue,
                self.specs,
                equity,
                gross,
            ),
        )
        market_orders = decision.market_orders
        if market_orders:
            sent = {o.symbol for o in market_orders}
            # stamped with this close, so a late fill can tell how many bars it waited
            market_orders = tuple(o for o in waiting if o.symbol not in sent) + tuple(
                o if o.placed_ts is not None else attrs.evolve(o, placed_ts=bars.ts)
                for o in market_orders
            )
        else:
            market_orders = waiting
        return _engine_state(
            account,
            tuple(strategy_states),
            risk_state,
            () if decision.halt else decision.orders,  # a halt cancels every quote
            market_orders,
            decision.halt,
            bars.ts,
        ), _step_output(
            fills,
            tuple(quotes),
            tuple(rejected) + decision.rejected if rejected else decision.rejected,
            decision.events,
        )


# the per-bar values the step assembles from parts already valid (no validator reads them)
_engine_state = unchecked(EngineState)
_step_output = unchecked(StepOutput)
_strategy_input = unchecked(StrategyInput)
_risk_input = unchecked(RiskInput)


def make_step(
    *,
    symbols: tuple[str, ...],
    strategies: tuple[Strategy, ...],
    risk: RiskRule,
    venue: Venue,
    specs: Mapping[str, SymbolSpec],
    initial_cash: float,
    interval_us: int,
    matching: Matching = match_bar,
    accounting: Accounting = account_bar,
) -> EngineStep:
    """Compose matching, accounting, strategies and risk into one pure step:
    `step(state, bars) -> (state, fills)`, and `step.update(state, bars) -> (state, StepOutput)`
    with what the records read beside the fills."""
    return EngineStep(
        tuple(symbols),
        tuple(strategies),
        risk,
        venue,
        specs,
        initial_cash,
        interval_us,
        matching,
        accounting,
    )


def initial_state(
    account: Account, strategies: tuple[Strategy, ...], risk: RiskRule
) -> EngineState:
    """The state before the first bar: flat account, fresh strategy and risk states."""
    return EngineState(
        account=account,
        strategy_states=tuple(s.init() for s in strategies),
        risk_state=risk.init(),
    )
